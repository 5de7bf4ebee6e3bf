"""Shared by the catalog benchmarks: the shipped bundle's split of the development photos and
their embeddings / probabilities, computed once and cached (keyed by the bundle)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
def _bundle() -> Path:
    from fashionlens.core.settings import get_settings

    return get_settings().models_dir / "garment-classifier"


BUNDLE = _bundle()
LIMIT = int(os.environ.get("FASHIONLENS_BENCH_LIMIT", "0"))  # smoke runs: photos per split
DATA = REPO.parent / "shared" / "data" / "clothing"
CACHE = Path(os.environ.get("FASHIONLENS_BENCH_CACHE",
                           Path(tempfile.gettempdir()) / "fashionlens-bench"))
RESULTS = REPO / "benchmarks" / "results"


def bundle_key() -> str:
    import json

    files = json.loads((BUNDLE / "manifest.json").read_text(encoding="utf-8"))["files"]
    h = hashlib.sha256(str(LIMIT).encode())
    h.update((BUNDLE / files["fp32"]).read_bytes())  # embeddings depend on the network only
    return h.hexdigest()[:12]


def split_photos(data: Path = DATA) -> dict[str, tuple[list[str], list[str]]]:
    """{"train"|"val"|"test": (paths, labels)} as the bundle was trained (seed, fractions)."""
    from fashionlens.datasets import read_dataset, stratified_split
    from fashionlens.inference import ModelBundle

    cfg = ModelBundle.load(BUNDLE).manifest["training"]["config"]
    ds = read_dataset(data)
    sp = stratified_split(ds.labels(), fractions=tuple(cfg["split"]), seed=cfg["seed"])
    out = {}
    for name in ("train", "val", "test"):
        idx = list(getattr(sp, name))[: LIMIT or None]
        out[name] = ([str(ds.items[i].path) for i in idx], [ds.items[i].label for i in idx])
    return out


def classifier(threads: int = 2):
    from fashionlens.inference import GarmentClassifier

    return GarmentClassifier(BUNDLE, threads=threads)


def embed(clf, sources: list, *, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings (n, D), probs (n, C)) for photos (paths or bytes), in order."""
    emb, probs = [], []
    for i, res in enumerate(clf.classify(sources, with_embedding=True, with_probs=True)):
        if hasattr(res, "error"):
            raise RuntimeError(f"{res.image}: {res.error}")
        emb.append(res.embedding)
        probs.append(res.probs)
        if log and (i + 1) % 500 == 0:
            log(f"  {i + 1}/{len(sources)}")
    return np.stack(emb).astype(np.float32), np.stack(probs).astype(np.float32)


def split_embeddings(threads: int = 2, log=print) -> dict[str, dict[str, np.ndarray | list]]:
    """Embeddings and probabilities of every split, cached under $FASHIONLENS_BENCH_CACHE."""
    CACHE.mkdir(parents=True, exist_ok=True)
    splits = split_photos()
    clf = None
    out = {}
    for name, (paths, labels) in splits.items():
        file = CACHE / f"{bundle_key()}-{name}.npz"
        if file.exists():
            z = np.load(file)
            emb, probs = z["embeddings"], z["probs"]
        else:
            clf = clf or classifier(threads)
            log(f"embedding {len(paths)} {name} photos")
            emb, probs = embed(clf, paths, log=log)
            np.savez(file, embeddings=emb, probs=probs)
        out[name] = {"paths": paths, "labels": labels, "embeddings": emb, "probs": probs}
    all_emb = np.concatenate([out[n]["embeddings"] for n in ("train", "val", "test")])
    np.savez(CACHE / "embeddings.npz", embeddings=all_emb)
    return out
