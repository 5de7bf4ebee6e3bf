"""The garment parser: a real (tiny) training run, the shipped bundle, `parse`, no torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fashionlens import cli
from fashionlens.commands.parse import parse, train_parser_cmd
from fashionlens.datasets.ccp import group_label_map, load_grouping, load_mask, read_ccp_labels
from fashionlens.imaging import Preprocessing, fit_to_input
from fashionlens.inference.bundle import ModelBundle
from fashionlens.inference.parser import GarmentParser, letterbox_region, logits_to_photo
from fashionlens.training.provenance import file_sha256

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "models" / "garment-parser"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# CCP photos with masks: two from the format fixtures, two from the parser's held-out test
# split (tests/fixtures/ccp), which the shipped bundle never trained on.
CCP_PAIRS = [FIXTURES / "formats" / "ccp" / "photos" / "0003.jpg",
             FIXTURES / "formats" / "ccp" / "photos" / "0041.jpg",
             FIXTURES / "ccp" / "photos" / "0029.jpg",
             FIXTURES / "ccp" / "photos" / "0035.jpg"]
HELD_OUT = FIXTURES / "ccp" / "photos" / "0035.jpg"


def _app():
    """The CLI app with `parse` and `train parser` (registered here if cli.py does not yet)."""
    if "parse" not in {c.name for c in cli.app.registered_commands}:
        cli.app.command("parse")(parse)
    if "parser" not in {c.name for c in cli.train_app.registered_commands}:
        cli.train_app.command("parser")(train_parser_cmd)
    return cli.app


def _grouped_mask(photo: Path) -> np.ndarray:
    root = photo.parents[1]
    return group_label_map(load_mask(root / "masks" / f"{photo.stem}.png"),
                           read_ccp_labels(root), load_grouping())


def _miou(pred: np.ndarray, truth: np.ndarray, n: int) -> tuple[float, float]:
    """mIoU over the classes present in the prediction or the truth, and pixel accuracy."""
    ious = []
    for c in range(n):
        p, t = pred == c, truth == c
        union = (p | t).sum()
        if union:
            ious.append((p & t).sum() / union)
    return float(np.mean(ious)), float((pred == truth).mean())


@pytest.fixture()
def hostile(tmp_path: Path) -> dict[str, Path]:
    real = CCP_PAIRS[0].read_bytes()
    files = {"zero.jpg": b"", "truncated.jpg": real[: len(real) // 2],
             "document.jpg": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in files}


# ------------------------------------------------------------------------ pieces (no torch)


def test_letterbox_region_matches_the_serving_resize():
    pre = Preprocessing(size=64, resize="letterbox", pad_value=(255, 255, 255))
    photo = Image.new("RGB", (30, 45), (200, 30, 60))
    arr = np.asarray(fit_to_input(photo, pre))
    left, top, nw, nh = letterbox_region(30, 45, 64)
    inside = arr[top:top + nh, left:left + nw]
    assert (inside == (200, 30, 60)).all()
    outside = arr.copy()
    outside[top:top + nh, left:left + nw] = 255
    assert (outside == 255).all()


def test_logits_to_photo_cuts_the_region_and_resizes():
    s, c = 64, 3
    left, top, nw, nh = letterbox_region(60, 90, s)
    logits = np.zeros((c, s, s), np.float32)
    logits[0] = 5.0                                    # background everywhere ...
    logits[1, top:top + nh // 2, left:left + nw] = 10  # ... class 1 on the top half
    logits[2, top + nh // 2:top + nh, left:left + nw] = 10  # class 2 on the bottom half
    label_map, scores = logits_to_photo(logits, 60, 90)
    assert label_map.shape == scores.shape == (90, 60) and label_map.dtype == np.uint8
    assert (label_map[:40] == 1).all() and (label_map[50:] == 2).all()
    assert 0.5 < scores.min() <= scores.max() <= 1.0 and scores[:40].min() > 0.99
    # A huge photo is computed at a working size and enlarged: same answer, bounded memory.
    big, big_scores = logits_to_photo(logits, 600, 900, max_pixels=10_000)
    assert big.shape == (900, 600) and big_scores.dtype == np.float32
    assert (big[:400] == 1).all() and (big[500:] == 2).all()


# ----------------------------------------------------------------------- training (torch)


@pytest.mark.slow
def test_train_parser_command_writes_a_servable_bundle(tmp_path):
    pytest.importorskip("segmentation_models_pytorch")
    data = tmp_path / "ccp"
    (data / "photos").mkdir(parents=True)
    (data / "masks").mkdir()
    shutil.copy(FIXTURES / "ccp" / "labels.json", data / "labels.json")
    for photo in CCP_PAIRS:
        shutil.copy(photo, data / "photos" / photo.name)
        shutil.copy(photo.parents[1] / "masks" / f"{photo.stem}.png", data / "masks")
    out = tmp_path / "bundle"
    res = CliRunner().invoke(_app(), [
        "train", "parser", "--data", str(data), "--out", str(out), "--epochs", "2",
        "--batch-size", "2", "--max-train-batches", "1", "--train-size", "160",
        "--image-size", "192", "--threads", "1", "--seed", "3", "--eval-every", "1"])
    assert res.exit_code == 0, res.output
    bundle = ModelBundle.load(out)
    m = bundle.manifest
    grouping = load_grouping()
    assert m["classes"] == list(grouping.classes)
    labels = read_ccp_labels(data)
    assert set(m["grouping"]) == set(labels)
    assert all(m["grouping"][k] == grouping.mapping[k] for k in labels)
    assert m["preprocessing"]["resize"] == "letterbox" and m["preprocessing"]["size"] == 192
    assert m["training"]["seed"] == 3
    assert m["training"]["command"].startswith("fashionlens train parser")
    assert "--epochs 2" in m["training"]["command"]
    assert m["training"]["split_sizes"] == {"train": 2, "val": 1, "test": 1}
    assert len(m["training"]["data_fingerprint"]) == 64
    for key in ("test_miou", "test_pixel_accuracy", "test_ap50", "per_class_iou"):
        assert key in m["metrics"], key
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["onnx_parity"]["max_abs_diff_logits"] < 1e-3
    assert len(metrics["history"]) == 2 and "val_miou" in metrics["history"][0]
    assert "int8" in metrics["variants"]  # tried; shipped only if mIoU held
    card = (out / "README.md").read_text()
    assert m["training"]["command"] in card and "| upper-body |" in card
    parser = GarmentParser(out, threads=1)
    parsed = next(iter(parser.parse([str(CCP_PAIRS[2])])))
    assert parsed.label_map.shape == (Image.open(CCP_PAIRS[2]).height,
                                      Image.open(CCP_PAIRS[2]).width)
    assert int(parsed.label_map.max()) < len(m["classes"])

    # Export the graph again from the checkpoint: the same label maps, recorded.
    res = CliRunner().invoke(_app(), ["models", "export", str(out), "--data", str(data)])
    assert res.exit_code == 0, res.output
    again = ModelBundle.load(out).manifest
    record = again["exports"][-1]
    assert abs(record["test_miou"] - record["test_miou_previous_graph"]) < 1e-3
    assert again["training"]["onnx_sha256"]["fp32"] == file_sha256(out / "model.onnx")
    assert "Re-exported on" in (out / "README.md").read_text()

    # Continue from that bundle; the continued bundle names its parent and matching networks
    # are required (an FPN checkpoint cannot start a U-Net).
    child = tmp_path / "continued"
    common = ["train", "parser", "--data", str(data), "--epochs", "1", "--batch-size", "2",
              "--max-train-batches", "1", "--train-size", "160", "--image-size", "192",
              "--threads", "1", "--no-int8", "--init", str(out)]
    res = CliRunner().invoke(_app(), [*common, "--out", str(child)])
    assert res.exit_code == 0, res.output
    training = ModelBundle.load(child).manifest["training"]
    assert training["init"]["checkpoint_sha256"] == file_sha256(out / "checkpoint.pt")
    assert training["init"]["command"] == m["training"]["command"]
    res = CliRunner().invoke(_app(), [*common, "--out", str(tmp_path / "unet"), "--arch",
                                      "unet"])
    assert res.exit_code != 0 and "arch" in str(res.exception)

    # Finish that first checkpoint without training (--epochs 0): same weights, its history.
    import torch

    done = tmp_path / "finished"
    res = CliRunner().invoke(_app(), [
        "train", "parser", "--data", str(data), "--out", str(done), "--epochs", "0",
        "--train-size", "160", "--image-size", "192", "--threads", "1", "--no-int8",
        "--seed", "3", "--init", str(out), "--crop", "96", "80", "--note", "Trained on a pack."])
    assert res.exit_code == 0, res.output
    parent_w = torch.load(out / "checkpoint.pt", weights_only=True)["state_dict"]
    done_w = torch.load(done / "checkpoint.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(parent_w[k], done_w[k]) for k in parent_w)
    finished = ModelBundle.load(done).manifest["training"]
    assert finished["best_epoch"] == m["training"]["best_epoch"]
    assert finished["val_miou"] == m["training"]["val_miou"]
    assert json.loads((done / "metrics.json").read_text())["history"] == metrics["history"]
    card = (done / "README.md").read_text()
    assert "trained nothing itself" in card and "Trained on a pack." in card
    assert "--crop 96 80" in finished["command"] and "--note" not in finished["command"]


def test_augmentation_keeps_labels_and_colours():
    torch = pytest.importorskip("torch")
    from fashionlens.training.parser import IGNORE, ParserTrainConfig, augment

    cfg = ParserTrainConfig(data="x", out="y", brightness=0.0, crop=(64, 48),
                            scale=(0.5, 1.5), rotation=10.0)
    colour = torch.tensor([0.3, -0.5, 0.1])[:, None, None]
    x = colour.expand(3, 80, 60).clone()
    y = torch.zeros((80, 60), dtype=torch.uint8)
    y[20:60, 10:50] = 7
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        img, lab = augment(x, y, cfg, gen)
        assert img.shape == (3, 64, 48) and lab.shape == (64, 48)
        assert set(lab.unique().tolist()) <= {0, 7, IGNORE}
        # Every pixel is the photo's colour, white (outside, ignored) or a blend of the two
        # at the photo's edge: geometry only, no hue change.
        t = (img - colour) / (1.0 - colour)
        assert torch.allclose(t, t[:1].expand_as(t), atol=1e-5)
        assert t.min() > -1e-5 and t.max() < 1 + 1e-5
        assert (lab != IGNORE).all() or t[0][lab == IGNORE].mean() > 0.5
        assert (t[0][lab != IGNORE] < 1e-5).float().mean() > 0.9


def test_box_ap50_and_segmentation_report():
    pytest.importorskip("torch")
    from fashionlens.garments import GarmentInstance
    from fashionlens.training.parser import box_ap50, confusion, segmentation_report

    truth = [[GarmentInstance("bag", 1.0, (0, 0, 10, 10), 100)],
             [GarmentInstance("bag", 1.0, (5, 5, 20, 20), 225)]]
    assert box_ap50(truth, truth, ["bag"])["ap50"] == pytest.approx(1.0)
    shifted = [[GarmentInstance("bag", 0.9, (6, 6, 16, 16), 100)], []]
    r = box_ap50(shifted, truth, ["bag", "dress"])
    assert r["per_class_ap50"]["bag"] == 0.0 and r["per_class_ap50"]["dress"] is None
    pred = np.array([[0, 0], [1, 1]])
    gt = np.array([[0, 1], [1, 1]])
    rep = segmentation_report(confusion(pred, gt, 2), ["a", "b"])
    assert rep["pixel_accuracy"] == 0.75
    assert rep["per_class_iou"] == {"a": 0.5, "b": 2 / 3}


# ----------------------------------------------------------------------- the shipped bundle


@pytest.fixture(scope="module")
def shipped():
    return GarmentParser(BUNDLE, threads=2)


def test_shipped_manifest_is_complete():
    m = ModelBundle.load(BUNDLE).manifest
    grouping = load_grouping()
    assert m["classes"] == list(grouping.classes)
    assert len(m["grouping"]) == 59 and set(m["grouping"].values()) <= set(m["classes"])
    assert m["training"]["command"].startswith("fashionlens train parser")
    for key in ("test_miou", "test_pixel_accuracy", "test_ap50", "per_class_iou",
                "per_class_ap50"):
        assert key in m["metrics"], key
    assert (BUNDLE / m["files"][m["default_variant"]]).exists()
    card = (BUNDLE / "README.md").read_text()
    assert m["training"]["command"] in card and "AP50" in card


def test_shipped_bundle_parses_a_held_out_photo(shipped):
    m = shipped.bundle.manifest
    assert HELD_OUT.stem in m["training"]["test_ids"]  # never trained on
    parsed = next(iter(shipped.parse([str(HELD_OUT)])))
    truth = _grouped_mask(HELD_OUT)
    assert parsed.label_map.shape == truth.shape
    miou, acc = _miou(parsed.label_map, truth, len(shipped.classes))
    assert miou > 0.5 and acc > 0.85, (miou, acc)
    labels = {g.label for g in parsed.instances}
    assert labels & {"upper-body", "outerwear", "lower-body", "footwear"}


def test_cli_parse_json(tmp_path, hostile):
    photos = [str(CCP_PAIRS[2]), str(HELD_OUT)]
    bad = str(hostile["document.jpg"])
    out = tmp_path / "out"
    res = CliRunner().invoke(_app(), ["parse", *photos, bad, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert [x["image"] for x in lines] == [*photos, bad]
    classes = ModelBundle.load(BUNDLE).classes
    for x, photo in zip(lines[:2], photos, strict=True):
        assert set(x) == {"image", "mask", "garments"}
        mask = Image.open(x["mask"])
        assert Path(x["mask"]) == out / f"{Path(photo).stem}.png"
        assert mask.mode == "L" and mask.size == Image.open(photo).size
        assert int(np.asarray(mask).max()) < len(classes)
        assert (out / f"{Path(photo).stem}.overlay.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
        assert x["garments"]
        for g in x["garments"]:
            assert set(g) == {"label", "score", "box", "area"}
            assert g["label"] in classes and 0.0 <= g["score"] <= 1.0
            x1, y1, x2, y2 = g["box"]
            assert 0 <= x1 < x2 <= mask.size[0] and 0 <= y1 < y2 <= mask.size[1]
            assert isinstance(g["area"], int) and 0 < g["area"] <= (x2 - x1) * (y2 - y1)
    assert set(lines[2]) == {"image", "error"} and "PDF" in lines[2]["error"]


def test_cli_parse_bad_files_fail_alone(tmp_path, hostile):
    order = [str(hostile["zero.jpg"]), str(HELD_OUT), str(hostile["truncated.jpg"]),
             str(tmp_path / "missing.jpg")]
    res = CliRunner().invoke(_app(), ["parse", *order, "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert [x["image"] for x in lines] == order
    assert "empty" in lines[0]["error"] and "garments" in lines[1]
    assert lines[2]["error"] and "not found" in lines[3]["error"]
    everything_bad = CliRunner().invoke(
        _app(), ["parse", str(hostile["zero.jpg"]), "--out", str(tmp_path / "o2")])
    assert everything_bad.exit_code == 1


def test_models_info_lists_the_parser():
    res = CliRunner().invoke(_app(), ["models", "info", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["garment-parser"]["classes"][0] == "background"
    assert doc["garment-parser"]["grouping"]["jeans"] == "lower-body"


def test_serving_path_imports_no_torch(tmp_path):
    code = f"""
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "timm", "segmentation_models_pytorch"):
            raise ImportError("blocked: " + name)

sys.meta_path.insert(0, Block())
from fashionlens import cli
from fashionlens.commands.parse import parse
if "parse" not in {{c.name for c in cli.app.registered_commands}}:
    cli.app.command("parse")(parse)
sys.argv = ["fashionlens", "parse", {str(HELD_OUT)!r}, "--out", {str(tmp_path)!r}, "--json",
            "--bundle", {str(BUNDLE)!r}]
try:
    cli.app()
except SystemExit as exc:
    assert not exc.code, exc.code
assert not any(m.split(".")[0] == "torch" for m in sys.modules)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert line["image"] == str(HELD_OUT) and line["garments"]
