"""`fashionlens train classifier`: data → fine-tune → calibrate → hedge → export → bundle."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from fashionlens import __version__
from fashionlens.datasets import read_dataset, split_fingerprint, stratified_split
from fashionlens.imaging import open_image
from fashionlens.inference.bundle import write_manifest
from fashionlens.training.augment import eval_transform
from fashionlens.training.calibration import (
    calibrated_probs,
    expected_calibration_error,
    fit_temperature,
)
from fashionlens.training.config import ClassifierTrainConfig
from fashionlens.training.export import export_onnx, parity_check, quantize_int8
from fashionlens.training.loop import fit, predict_logits
from fashionlens.training.metrics import (
    classification_report,
    plot_confusion,
    plot_learning_curves,
)
from fashionlens.training.provenance import (
    check_finish_split,
    file_sha256,
    notes_fields,
    package_version,
    parent_provenance,
)

HEDGING_TARGETS = (0.80, 0.85, 0.90, 0.95, 0.98, 0.99)


def _arrays(paths, pre) -> np.ndarray:
    tf = eval_transform(pre)
    return np.stack([tf(open_image(p, draft_size=pre.size)) for p in paths])


def _onnx_probs(onnx_path: Path, arrays: np.ndarray, temperature: float, threads: int = 2):
    from fashionlens.inference.classifier import _softmax, make_session

    sess = make_session(onnx_path, threads)
    logits = np.concatenate([sess.run(["logits"], {"image": arrays[i:i + 64]})[0]
                             for i in range(0, len(arrays), 64)])
    return _softmax(logits, temperature)


def dataset_split(ds, fractions, seed: int, group_split: bool):
    """The seeded stratified split of a run (each sender on one side with ``group_split``)."""
    groups = np.array([it.group or "" for it in ds.items]) if group_split else None
    return stratified_split(ds.labels(), fractions=fractions, seed=seed, groups=groups)


def train_classifier(cfg: ClassifierTrainConfig, *, command: str, log=print) -> dict:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = read_dataset(cfg.data)
    classes = ds.classes
    labels = ds.labels()
    split = dataset_split(ds, cfg.split, cfg.seed, cfg.group_split)
    paths = [it.path for it in ds.items]
    log(f"{len(ds.items)} photos, {len(classes)} classes; split train/val/test "
        f"{len(split.train)}/{len(split.val)}/{len(split.test)}; {len(ds.rejects)} rejected rows")

    def pick(idx):
        return [paths[i] for i in idx], labels[idx]

    tr_p, tr_y = pick(split.train)
    va_p, va_y = pick(split.val)
    te_p, te_y = pick(split.test)
    parent = parent_provenance(cfg.init) if cfg.init else None
    result = fit(cfg, classes, tr_p, tr_y, va_p, va_y, log=log)
    finished = result.get("parent")
    if finished:
        check_finish_split(finished, split_fingerprint(split))
    model, pre = result["model"], result["preprocessing"]
    torch.save({"state_dict": model.state_dict(), "classes": classes, "config": cfg.to_dict()},
               out / "checkpoint.pt")

    # Calibration on validation; everything reported is measured on test.
    from torch.utils.data import DataLoader

    from fashionlens.training.data import PhotoDataset

    def loader(p, y):
        return DataLoader(PhotoDataset(p, y, eval_transform(pre), pre.size), batch_size=64,
                          num_workers=cfg.workers)

    device = torch.device("cpu")
    va_logits, _, _ = predict_logits(model, loader(va_p, va_y), device)
    temperature = fit_temperature(va_logits, va_y)

    log("exporting ONNX")
    fp32 = out / "model.onnx"
    export_onnx(model, fp32, pre.size)
    te_arrays = _arrays(te_p, pre)
    parity = parity_check(model, fp32, te_arrays[:32])
    log(f"ONNX parity on {parity['photos']} test photos: max |Δlogit| "
        f"{parity['max_abs_diff_logits']:.2e}")

    raw = _onnx_probs(fp32, te_arrays, 1.0)
    test_probs = _onnx_probs(fp32, te_arrays, temperature)
    report = classification_report(test_probs, te_y, classes)
    va_probs = calibrated_probs(va_logits, temperature)
    calibration = {
        "method": "temperature scaling on the validation split",
        "temperature": temperature,
        "test_ece_before": expected_calibration_error(raw, te_y),
        "test_ece_after": expected_calibration_error(test_probs, te_y),
        "val_ece_before": expected_calibration_error(calibrated_probs(va_logits, 1.0), va_y),
        "val_ece_after": expected_calibration_error(va_probs, va_y),
        "bins": 15,
    }
    files = {"fp32": fp32.name}
    variants = {"fp32": {"test_top1": report["top1"], "test_macro_f1": report["macro_f1"],
                         "bytes": fp32.stat().st_size}}
    default = "fp32"
    if cfg.int8:
        log("quantising to INT8")
        int8 = out / "model.int8.onnx"
        calib = _arrays(tr_p[:: max(1, len(tr_p) // 256)], pre)
        va_arrays = _arrays(va_p, pre)
        va_top1 = classification_report(_onnx_probs(fp32, va_arrays, temperature), va_y,
                                        classes)["top1"]
        tried = _int8_on_validation(fp32, int8, calib, va_arrays, va_y, va_top1, classes,
                                    temperature, log=log)
        q_probs = _onnx_probs(int8, te_arrays, temperature)
        q_rep = classification_report(q_probs, te_y, classes)
        drop = report["top1"] - q_rep["top1"]
        held_on_val = tried[-1]["val_drop_points"] <= 0.5
        variants["int8"] = {"test_top1": q_rep["top1"], "test_macro_f1": q_rep["macro_f1"],
                            "bytes": int8.stat().st_size, "top1_drop_points": 100 * drop,
                            "keep_fp32": tried[-1]["keep_fp32"], "tried_on_validation": tried}
        if held_on_val and drop <= 0.005:
            files["int8"] = int8.name
            default = "int8"
            log(f"INT8 kept: top-1 {q_rep['top1']:.4f} (drop {100 * drop:.2f} points)")
        else:
            int8.unlink()
            log(f"INT8 dropped: top-1 {q_rep['top1']:.4f} (drop {100 * drop:.2f} points)")

    np.savez_compressed(out / "predictions.npz", classes=np.array(classes),
                        val_probs=va_probs.astype(np.float32), val_labels=va_y,
                        test_probs=test_probs.astype(np.float32), test_labels=te_y)
    hedging = _fit_hedging(classes, va_probs, va_y, test_probs, te_y, out, log=log)

    plot_confusion(report["confusion"], classes, out / "confusion.png",
                   title=f"Test split confusion (n={report['n']})")
    plot_learning_curves(result["history"], out / "learning_curves.png")
    metrics = {
        "test": report, "calibration": calibration, "onnx_parity": parity,
        "variants": variants, "history": result["history"],
        "best_epoch": result["best_epoch"], "train_seconds": result["train_seconds"],
        "hedging": hedging["evaluation"] if hedging else None,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")

    manifest = {
        "name": "garment-classifier",
        "task": "garment classification + search embedding",
        "version": __version__,
        "created": time.strftime("%Y-%m-%d"),
        "classes": classes,
        "files": files,
        "default_variant": default,
        "inputs": {"image": "float32 (N, 3, S, S), preprocessed as below"},
        "outputs": {"logits": f"float32 (N, {len(classes)})",
                    "embedding": "float32 (N, 1280), L2-normalised pooled backbone features"},
        "preprocessing": pre.to_dict(),
        "calibration": {"temperature": temperature, "ece_before": calibration["test_ece_before"],
                        "ece_after": calibration["test_ece_after"]},
        "hedging": hedging["manifest"] if hedging else None,
        "metrics": {"test_top1": report["top1"], "test_top3": report["top3"],
                    "test_macro_f1": report["macro_f1"], "test_n": report["n"],
                    "variants": variants},
        "training": {
            "command": command, "seed": cfg.seed, "config": cfg.to_dict(),
            "data_fingerprint": ds.fingerprint(), "split_fingerprint": split_fingerprint(split),
            "split_sizes": {"train": len(split.train), "val": len(split.val),
                            "test": len(split.test)},
            "best_epoch": result["best_epoch"], "device": result["device"],
            "train_seconds": result["train_seconds"],
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "timm": package_version("timm"), "onnx": package_version("onnx"),
                         "onnxruntime": package_version("onnxruntime"), "fashionlens": __version__},
            "onnx_sha256": {k: file_sha256(out / v) for k, v in files.items()},
            "init": parent,
            **notes_fields(cfg.notes, finished),
        },
    }
    write_manifest(out, manifest)
    from fashionlens.training.model_card import write_model_card

    write_model_card(out, manifest, metrics)
    return metrics


def _int8_on_validation(fp32: Path, int8: Path, calib, va_arrays, va_y, va_top1, classes,
                        temperature: float, log=print) -> list[dict]:
    """Quantise with fewer and fewer layers in 8 bits until validation top-1 holds.

    Leaves the last variant tried at ``int8`` and returns what each try measured on the
    validation split (the test split only judges the one chosen here).
    """
    from fashionlens.training.export import KEEP_FP32_CHOICES

    tried = []
    for keep in KEEP_FP32_CHOICES:
        quantize_int8(fp32, int8, calib, keep_fp32=keep)
        top1 = classification_report(_onnx_probs(int8, va_arrays, temperature), va_y,
                                     classes)["top1"]
        tried.append({"keep_fp32": keep, "val_top1": top1,
                      "val_drop_points": 100 * (va_top1 - top1)})
        log(f"INT8 keeping {keep} in fp32: validation top-1 {top1:.4f} "
            f"(fp32 {va_top1:.4f})")
        if va_top1 - top1 <= 0.005:
            break
    return tried


def reexport_classifier(bundle_dir: str | Path, *, data: str | None = None,
                        log=print) -> dict:
    """Export a bundle's fp32 ONNX graph again from its ``checkpoint.pt`` with today's exporter.

    Same weights, a new graph (for exporter upgrades). Rebuilds the bundle's test split from
    its recorded seed (refusing data whose split differs), checks parity against torch,
    re-measures the test split with the new graph and compares its probabilities with the old
    graph's; records the export in the manifest (``exports``) and rewrites metrics.json and
    the model card. An INT8 file, if any, is left as it was.
    """
    from fashionlens.imaging import Preprocessing
    from fashionlens.models.classifier import GarmentNet
    from fashionlens.training.model_card import write_model_card

    out = Path(bundle_dir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    tr = manifest["training"]
    cfg = tr["config"]
    ckpt = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    classes = list(ckpt["classes"])
    model = GarmentNet(len(classes), cfg["backbone"], pretrained=False)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()

    ds = read_dataset(data or cfg["data"])
    labels = ds.labels()
    split = dataset_split(ds, tuple(cfg["split"]), cfg["seed"], cfg.get("group_split", False))
    if split_fingerprint(split) != tr["split_fingerprint"]:
        raise ValueError("the data's test split differs from the one this bundle was measured "
                         "on (other photos or labels); pass the training data with --data")
    pre = Preprocessing(**{k: v for k, v in manifest["preprocessing"].items()
                           if k in Preprocessing.__dataclass_fields__})
    te_arrays = _arrays([ds.items[i].path for i in split.test], pre)
    te_y = labels[split.test]
    temperature = manifest["calibration"]["temperature"]

    fp32 = out / manifest["files"]["fp32"]
    before = _onnx_probs(fp32, te_arrays, temperature)
    log(f"exporting {fp32} again with torch {torch.__version__}")
    export_onnx(model, fp32, pre.size)
    after = _onnx_probs(fp32, te_arrays, temperature)
    parity = parity_check(model, fp32, te_arrays[:32])
    report = classification_report(after, te_y, classes)
    record = {
        "date": time.strftime("%Y-%m-%d"), "exporter": "torch.onnx.export (torch.export-based)",
        "torch": torch.__version__, "onnx": package_version("onnx"),
        "onnx_sha256": file_sha256(fp32), "test_photos": int(len(te_y)),
        "max_abs_prob_diff_vs_previous_graph": float(np.abs(after - before).max()),
        "argmax_agreement_vs_previous_graph": float(
            (after.argmax(1) == before.argmax(1)).mean()),
    }
    log(f"test top-1 {report['top1']:.4f}; max |Δp| vs the previous graph "
        f"{record['max_abs_prob_diff_vs_previous_graph']:.1e}")
    manifest["exports"] = [*manifest.get("exports", []), record]
    tr["onnx_sha256"]["fp32"] = record["onnx_sha256"]
    manifest["metrics"].update(test_top1=report["top1"], test_top3=report["top3"],
                               test_macro_f1=report["macro_f1"])
    manifest["metrics"]["variants"]["fp32"].update(
        test_top1=report["top1"], test_macro_f1=report["macro_f1"], bytes=fp32.stat().st_size)
    metrics["test"], metrics["onnx_parity"] = report, parity
    metrics["variants"]["fp32"] = manifest["metrics"]["variants"]["fp32"]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_manifest(out, manifest)
    write_model_card(out, manifest, metrics)
    return record


def refit_hedging(bundle_dir: str | Path, *, taxonomy_path: str | None = None,
                  log=print) -> list[dict]:
    """Re-calibrate DARTS from the validation predictions stored in a bundle.

    Use it after replacing the taxonomy file: no retraining is needed. Updates the manifest,
    metrics.json, the accuracy-vs-specificity plot and the model card.
    """
    from fashionlens.inference.bundle import ModelBundle
    from fashionlens.training.model_card import write_model_card

    out = Path(bundle_dir)
    saved = np.load(out / "predictions.npz")
    classes = [str(c) for c in saved["classes"]]
    fitted = _fit_hedging(classes, saved["val_probs"], saved["val_labels"],
                          saved["test_probs"], saved["test_labels"], out, log=log,
                          taxonomy_path=taxonomy_path, strict=True)
    bundle = ModelBundle.load(out)
    manifest = bundle.manifest
    manifest["hedging"] = fitted["manifest"]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    metrics["hedging"] = fitted["evaluation"]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_manifest(out, manifest)
    write_model_card(out, manifest, metrics)
    return fitted["evaluation"]


def _fit_hedging(classes, va_probs, va_y, te_probs, te_y, out: Path, log=print,
                 taxonomy_path: str | None = None, strict: bool = False) -> dict | None:
    try:
        from fashionlens.core.taxonomy import Taxonomy
        from fashionlens.hedging import Hedger, evaluate_hedging
        from fashionlens.training.metrics import plot_hedging

        taxonomy = Taxonomy.load(taxonomy_path)
        hedger = Hedger(taxonomy, classes).fit(va_probs, va_y, targets=HEDGING_TARGETS)
        rows = evaluate_hedging(hedger, te_probs, te_y, HEDGING_TARGETS)
        plot_hedging(rows, out / "hedging.png")
    except Exception as exc:  # hedging is an add-on: the bundle stays usable without it
        if strict:
            raise
        log(f"[yellow]hedging not fitted: {exc}[/yellow]")
        return None
    return {"manifest": hedger.to_dict(), "evaluation": rows}


