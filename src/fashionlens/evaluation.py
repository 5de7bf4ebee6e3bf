"""`fashionlens eval classifier`: measure a classifier bundle on labelled photos (no torch).

By default the bundle's own test split is rebuilt from the seed and fractions in its manifest,
so the numbers in the model card can be reproduced; ``--split all`` measures every photo (for
a data set the model never saw).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashionlens.datasets import read_dataset, split_fingerprint, stratified_split
from fashionlens.inference import GarmentClassifier
from fashionlens.training.calibration import expected_calibration_error
from fashionlens.training.metrics import classification_report


def evaluate_classifier(bundle_dir: str | Path, data: str | Path, *, split: str = "test",
                        variant: str = "default", threads: int = 2,
                        targets=(0.90, 0.95, 0.98)) -> dict:
    clf = GarmentClassifier(bundle_dir, variant=variant, threads=threads)
    ds = read_dataset(data)
    manifest = clf.bundle.manifest
    out: dict = {"bundle": clf.bundle.name, "variant": variant, "data": str(data),
                 "split": split}
    if split == "all":
        idx = np.arange(len(ds.items))
    else:
        cfg = manifest["training"]["config"]
        sp = stratified_split(ds.labels(), fractions=tuple(cfg["split"]), seed=cfg["seed"])
        idx = getattr(sp, split)
        out["split_fingerprint"] = split_fingerprint(sp)
        out["matches_training_split"] = (
            out["split_fingerprint"] == manifest["training"].get("split_fingerprint"))
    unknown = sorted({ds.items[i].label for i in idx} - set(clf.classes))
    if unknown:
        raise ValueError(f"labels unknown to the model: {', '.join(unknown)}")
    paths = [str(ds.items[i].path) for i in idx]
    truth = np.array([clf.classes.index(ds.items[i].label) for i in idx])
    probs, failed = [], []
    for res in clf.classify(paths, with_probs=True):
        if hasattr(res, "error"):
            failed.append({"image": res.image, "error": res.error})
            probs.append(np.full(len(clf.classes), 1.0 / len(clf.classes)))
        else:
            probs.append(res.probs)
    probs = np.stack(probs)
    rep = classification_report(probs, truth, clf.classes)
    rep.pop("confusion")
    out.update(rep)
    out["ece"] = expected_calibration_error(probs, truth)
    out["unreadable"] = failed
    if manifest.get("hedging"):
        from fashionlens.hedging import evaluate_hedging, hedger_from_bundle

        out["hedging"] = evaluate_hedging(hedger_from_bundle(clf.bundle), probs, truth,
                                          list(targets))
    return out
