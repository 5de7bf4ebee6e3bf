"""A real (tiny) training run through the project's own command, then serving its bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from fashionlens.cli import app  # noqa: E402
from fashionlens.inference import GarmentClassifier, ModelBundle  # noqa: E402
from fashionlens.training.augment import AugmentConfig, train_transform  # noqa: E402
from fashionlens.training.config import ClassifierTrainConfig  # noqa: E402
from fashionlens.training.export import KEEP_FP32_CHOICES, _kept_nodes  # noqa: E402
from fashionlens.training.loop import make_preprocessing  # noqa: E402
from fashionlens.training.provenance import file_sha256, load_init_state  # noqa: E402


@pytest.mark.slow
def test_train_command_writes_a_servable_bundle(fixtures, tmp_path):
    out = tmp_path / "bundle"
    res = CliRunner().invoke(app, [
        "train", "classifier", "--data", str(fixtures / "garments"), "--out", str(out),
        "--recipe", "cpu", "--epochs", "2", "--batch-size", "4", "--max-train-batches", "2",
        "--workers", "0", "--no-int8", "--seed", "3", "--select-by", "last",
    ])
    assert res.exit_code == 0, res.output
    manifest = ModelBundle.load(out).manifest
    assert manifest["training"]["best_epoch"] == 2  # --select-by last: no selection
    assert manifest["classes"] == ["Hat", "Pants", "Shoes"]
    assert manifest["training"]["seed"] == 3
    assert "--epochs 2" in manifest["training"]["command"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["onnx_parity"]["max_abs_diff_logits"] < 1e-3
    assert len(metrics["history"]) == 2
    assert {"top1", "top3", "macro_f1", "per_class"} <= set(metrics["test"])
    for png in ("confusion.png", "learning_curves.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    card = (out / "README.md").read_text()
    assert manifest["training"]["command"] in card
    refit = CliRunner().invoke(app, ["train", "hedging", "--bundle", str(out), "--taxonomy",
                                     str(fixtures / "taxonomy-small.json")])
    assert refit.exit_code == 0, refit.output
    hedging = ModelBundle.load(out).manifest["hedging"]
    assert hedging and "lambdas" in json.dumps(hedging)
    clf = GarmentClassifier(out)
    results = list(clf.classify(sorted(str(p) for p in (fixtures / "garments").rglob("*.jpg"))))
    assert all(r.label in manifest["classes"] for r in results)

    # Export the graph again from the checkpoint: same answers, recorded in the manifest.
    res = CliRunner().invoke(app, ["models", "export", str(out), "--data",
                                   str(fixtures / "garments")])
    assert res.exit_code == 0, res.output
    again = ModelBundle.load(out).manifest
    record = again["exports"][-1]
    assert record["argmax_agreement_vs_previous_graph"] == 1.0
    assert record["max_abs_prob_diff_vs_previous_graph"] < 1e-4
    assert again["training"]["onnx_sha256"]["fp32"] == file_sha256(out / "model.onnx")
    assert "Re-exported on" in (out / "README.md").read_text()
    res = CliRunner().invoke(app, ["models", "export", str(out), "--data", str(tmp_path)])
    assert res.exit_code == 1  # not the data the bundle was measured on

    # Continue fine-tuning from that bundle: the new bundle records where it started.
    child = tmp_path / "continued"
    res = CliRunner().invoke(app, [
        "train", "classifier", "--data", str(fixtures / "garments"), "--out", str(child),
        "--recipe", "cpu", "--epochs", "1", "--batch-size", "4", "--max-train-batches", "1",
        "--workers", "0", "--init", str(out),
    ])
    assert res.exit_code == 0, res.output
    int8 = json.loads((child / "metrics.json").read_text())["variants"]["int8"]
    tried = [t["keep_fp32"] for t in int8["tried_on_validation"]]
    assert tried == list(KEEP_FP32_CHOICES[:len(tried)]) and int8["keep_fp32"] == tried[-1]
    training = ModelBundle.load(child).manifest["training"]
    assert training["init"]["checkpoint_sha256"] == file_sha256(out / "checkpoint.pt")
    assert training["init"]["command"] == manifest["training"]["command"]
    card = (child / "README.md").read_text()
    assert card.index(manifest["training"]["command"]) < card.index(training["command"])

    # Finish the first bundle's checkpoint without training (--epochs 0), as after a GPU run
    # on a compact copy of the data: the same weights, the parent's history, a note in the
    # card; refused on another split (its test photos could be training photos) or no --init.
    import torch

    finish = ["train", "classifier", "--data", str(fixtures / "garments"), "--recipe", "cpu",
              "--epochs", "0", "--workers", "0", "--no-int8"]
    done = tmp_path / "finished"
    res = CliRunner().invoke(app, [*finish, "--out", str(done), "--seed", "3", "--init", str(out)])
    assert res.exit_code == 0, res.output
    parent_w = torch.load(out / "checkpoint.pt", weights_only=True)["state_dict"]
    done_w = torch.load(done / "checkpoint.pt", weights_only=True)["state_dict"]
    assert parent_w.keys() == done_w.keys()
    assert all(torch.equal(parent_w[k], done_w[k]) for k in parent_w)
    finished = ModelBundle.load(done).manifest["training"]
    assert finished["best_epoch"] == manifest["training"]["best_epoch"]
    assert finished["planned_epochs"] == 2 and finished["trained_with"]["epochs"] == 2
    assert json.loads((done / "metrics.json").read_text())["history"] == metrics["history"]
    assert "trained nothing itself" in (done / "README.md").read_text()
    res = CliRunner().invoke(app, [*finish, "--out", str(tmp_path / "f2"), "--seed", "4",
                                   "--init", str(out)])
    assert res.exit_code != 0 and "another split" in str(res.exception)
    res = CliRunner().invoke(app, [*finish, "--out", str(tmp_path / "f3"), "--seed", "3"])
    assert res.exit_code != 0 and "--init" in str(res.exception)


def test_init_refuses_a_checkpoint_for_other_classes(tmp_path):
    import torch

    torch.save({"state_dict": {}, "classes": ["Hat", "Shoes"],
                "config": {"backbone": "efficientnet_lite0"}}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="classes"):
        load_init_state(str(tmp_path), ["Hat", "Pants", "Shoes"], backbone="efficientnet_lite0")
    with pytest.raises(ValueError, match="backbone"):
        load_init_state(str(tmp_path), ["Hat", "Shoes"], backbone="efficientnet_lite2")
    with pytest.raises(ValueError, match="no checkpoint"):
        load_init_state(str(tmp_path / "missing"), ["Hat"], backbone="efficientnet_lite0")


def test_augmentation_is_geometric_only_by_default():
    pre = make_preprocessing(ClassifierTrainConfig(data="x", out="y"))
    from PIL import Image

    solid = Image.new("RGB", (320, 240), (200, 30, 60))
    tf = train_transform(pre, AugmentConfig(fill=(200, 30, 60)))
    for _ in range(5):
        arr = tf(solid)
        assert arr.shape == (3, 224, 224)
        pixel = (arr[:, 112, 112] * np.array(pre.std) + np.array(pre.mean)) * 255
        np.testing.assert_allclose(pixel, (200, 30, 60), atol=2)  # colour is a label: unchanged


def test_augmentation_changes_geometry(fixtures):
    from fashionlens.imaging import open_image

    pre = make_preprocessing(ClassifierTrainConfig(data="x", out="y"))
    img = open_image(sorted((fixtures / "garments" / "Shoes").glob("*.jpg"))[0])
    tf = train_transform(pre)
    a, b = tf(img), tf(img)
    assert a.shape == b.shape == (3, 224, 224)
    assert not np.allclose(a, b)


def test_int8_keeps_the_named_layers_in_fp32():
    shipped = (Path(__file__).resolve().parent.parent / "models" / "garment-classifier"
               / "model.onnx")
    assert _kept_nodes(shipped, "none") == []
    stem_head = _kept_nodes(shipped, "stem+head")
    assert len(stem_head) == 2  # the first convolution and the classifier
    with_dw = _kept_nodes(shipped, "stem+head+depthwise")
    assert set(stem_head) < set(with_dw) and len(with_dw) == 2 + 16  # Lite0: 16 depthwise


def test_exported_and_shipped_onnx_files_carry_no_stack_traces(tmp_path):
    """The exporter's per-node stack traces name the exporting machine's paths: dropped."""
    import onnx

    from fashionlens.models.classifier import GarmentNet
    from fashionlens.training.export import STACK_TRACE_KEY, export_onnx, strip_stack_traces

    def traces(path: Path) -> int:
        model = onnx.load(str(path))
        return sum(p.key == STACK_TRACE_KEY for n in model.graph.node for p in n.metadata_props)

    out = tmp_path / "model.onnx"
    export_onnx(GarmentNet(3, pretrained=False), out, 64)
    assert traces(out) == 0
    assert b"site-packages" not in out.read_bytes()
    assert strip_stack_traces(out) == 0                      # nothing left to drop
    repo = Path(__file__).resolve().parent.parent
    for path in sorted((repo / "models").glob("*/model*.onnx")):
        assert traces(path) == 0, path
        manifest = json.loads((path.parent / "manifest.json").read_text())
        assert file_sha256(path) in manifest["training"]["onnx_sha256"].values(), path
