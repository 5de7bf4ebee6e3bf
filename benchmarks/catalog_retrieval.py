"""Catalog retrieval with the shipped classifier's embeddings, side by side:

1. P@5 same-category retrieval of held-out photos: each photo of the bundle's test split (never
   trained on) queries a catalog of the other development photos (train + val); P@5 is the
   share of the 5 nearest listings with the query's category. Also the leave-one-out variant
   inside the test split.
2. Near-duplicate recall@1: each test photo, rotated +50° and -50° (canvas expanded, white
   fill), centre-cropped to 70 % of each side, or rescaled to 0.5x, queries a catalog of all
   development photos (originals, 4.3k); a hit is the original photo at rank 1. Measured side
   by side: a plain embedding query; the rotation-tolerant query (the query photo embedded also
   turned by ±45° and 90°, best score per listing); and that plus pixel fingerprints for
   copies (fashionlens.catalog.fingerprint), which is what `fashionlens search` does.

Usage: python benchmarks/catalog_retrieval.py [--threads 2]
Writes benchmarks/results/catalog_retrieval.json.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_common import RESULTS, classifier, embed, split_embeddings  # noqa: E402

from fashionlens.catalog.fingerprint import (  # noqa: E402
    COPY_MIN_COSINE,
    COPY_NCC,
    fingerprint,
    fingerprints,
)
from fashionlens.catalog.ingest import PROBS_WEIGHT  # noqa: E402
from fashionlens.catalog.search import ROTATED_PENALTY, query_views  # noqa: E402
from fashionlens.imaging import open_image  # noqa: E402


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


TRANSFORMS = {
    "rotate+50": lambda im: im.rotate(50, expand=True, fillcolor=(255, 255, 255),
                                      resample=Image.Resampling.BILINEAR),
    "rotate-50": lambda im: im.rotate(-50, expand=True, fillcolor=(255, 255, 255),
                                      resample=Image.Resampling.BILINEAR),
    "crop70": lambda im: im.crop((round(0.15 * im.width), round(0.15 * im.height),
                                  round(0.85 * im.width), round(0.85 * im.height))),
    "rescale0.5": lambda im: im.resize((max(1, im.width // 2), max(1, im.height // 2)),
                                       Image.Resampling.BILINEAR),
}


def vectors(emb: np.ndarray, probs: np.ndarray, weight: float) -> np.ndarray:
    """Search vectors as the catalog stores them (fashionlens.catalog.ingest.PROBS_WEIGHT)."""
    if weight <= 0:
        return emb
    v = np.concatenate([emb, weight * np.sqrt(np.clip(probs, 0, None))], axis=1)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def precision_at(k: int, q_emb, q_lab, c_emb, c_lab, *, exclude_self: bool = False) -> float:
    sims = q_emb @ c_emb.T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :k]
    c_lab = np.asarray(c_lab)
    return float(np.mean(c_lab[top] == np.asarray(q_lab)[:, None]))


def catalog_fingerprints(sp: dict) -> np.ndarray:
    """Fingerprints of every development photo, made as ingest makes them (cached)."""
    from catalog_common import CACHE, bundle_key

    file = CACHE / f"{bundle_key()}-fingerprints.npy"
    if file.exists():
        return np.load(file)
    out = []
    for name in ("train", "val", "test"):
        for p in sp[name]["paths"]:
            img = open_image(p, draft_size=320)
            img.thumbnail((320, 320), Image.Resampling.BILINEAR)
            out.append(fingerprints(img))
    arr = np.stack(out).astype(np.float32)
    np.save(file, arr)
    return arr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-queries", type=int, default=0,
                    help="near-duplicate queries per transform (0 = the whole test split)")
    ap.add_argument("--weights", type=float, nargs="*", default=[1.0],
                    help="probability weights compared side by side with the shipped one")
    args = ap.parse_args()
    t0 = time.perf_counter()
    sp = split_embeddings(args.threads)
    test, train, val = sp["test"], sp["train"], sp["val"]
    weights = sorted({0.0, PROBS_WEIGHT, *args.weights})
    acc = float(np.mean(np.asarray(test["labels"]) ==
                        np.asarray(classifier_classes())[test["probs"].argmax(1)]))
    p5, p5_loo = {}, {}
    for w in weights:
        q = vectors(test["embeddings"], test["probs"], w)
        cat = np.concatenate([vectors(train["embeddings"], train["probs"], w),
                              vectors(val["embeddings"], val["probs"], w)])
        cat_lab = train["labels"] + val["labels"]
        p5[w] = precision_at(5, q, test["labels"], cat, cat_lab)
        p5_loo[w] = precision_at(5, q, test["labels"], q, test["labels"], exclude_self=True)
        print(f"probs weight {w}: P@5 {p5[w]:.4f} (leave-one-out in test {p5_loo[w]:.4f})")
    print(f"classifier top-1 {acc:.4f}")
    # the same P@5, counting a neighbour as the same category at coarser taxonomy levels
    from fashionlens.core.taxonomy import Taxonomy

    tax = Taxonomy.load()
    q = vectors(test["embeddings"], test["probs"], PROBS_WEIGHT)
    cat = np.concatenate([vectors(train["embeddings"], train["probs"], PROBS_WEIGHT),
                          vectors(val["embeddings"], val["probs"], PROBS_WEIGHT)])
    by_level = {}
    for depth, name in ((1, "upper-body/bottoms/one-piece/footwear/headwear"),
                        (2, "tops/outerwear/pants/.../hat")):
        def level(c: str, d: int = depth) -> str:
            path = tax.path(tax.node_for_class(c))
            return path[min(d, len(path) - 1)]
        by_level[f"depth {depth} ({name})"] = round(precision_at(
            5, q, [level(c) for c in test["labels"]], cat,
            [level(c) for c in train["labels"] + val["labels"]]), 4)
    print("P@5 by taxonomy level", by_level)

    # near-duplicates
    offset = len(train["labels"]) + len(val["labels"])
    n = len(test["paths"]) if not args.max_queries else min(args.max_queries,
                                                            len(test["paths"]))
    clf = classifier(args.threads)
    cat_fp = catalog_fingerprints(sp)  # (N, scales, D)
    # Photos of the data set that are themselves copies of a test photo (the set holds real
    # duplicates): flagging those as copies of a transformed query is right, not a mistake.
    orig_fp = np.stack([fingerprint(open_image(p)) for p in test["paths"][:n]])
    twins = (orig_fp @ cat_fp.reshape(-1, cat_fp.shape[-1]).T).reshape(
        n, cat_fp.shape[0], cat_fp.shape[1]).max(axis=2) >= COPY_NCC
    dup: dict[str, dict[str, float]] = {}
    own_sims, other_sims = [], []
    for name, fn in TRANSFORMS.items():
        t = time.perf_counter()
        queries = [_jpeg(fn(open_image(p))) for p in test["paths"][:n]]
        views = [v for q in queries for v in query_views(q)]
        per = len(views) // len(queries)
        v_emb, v_probs = embed(clf, views, log=None)
        v_fp = np.stack([fingerprint(open_image(v)) for v in views])
        ncc = (v_fp @ cat_fp.reshape(-1, cat_fp.shape[-1]).T).reshape(
            n, per, cat_fp.shape[0], cat_fp.shape[1]).max(axis=(1, 3))
        want = offset + np.arange(n)
        dup[name] = {}
        for w in weights:
            all_vec = np.concatenate([vectors(sp[s]["embeddings"], sp[s]["probs"], w)
                                      for s in ("train", "val", "test")])
            sims = (vectors(v_emb, v_probs, w) @ all_vec.T).reshape(n, per, -1)
            sims[:, 1:, :] -= ROTATED_PENALTY
            plain = np.argmax(sims[:, 0], axis=1)
            views_only = sims.max(axis=1)
            cos = (sims + np.where(np.arange(per) > 0, ROTATED_PENALTY, 0)[None, :, None]
                   ).max(axis=1)
            copy = np.where((ncc >= COPY_NCC) & (cos >= COPY_MIN_COSINE),
                            np.maximum(ncc, cos), -np.inf)
            best = np.maximum(views_only, copy)
            dup[name][f"w={w}"] = {
                "recall_at_1_plain_query": round(float(np.mean(plain == want)), 4),
                "recall_at_1_turned_views": round(float(np.mean(
                    np.argmax(views_only, axis=1) == want)), 4),
                "recall_at_1": round(float(np.mean(np.argmax(best, axis=1) == want)), 4),
                "copies_flagged_wrongly_per_query": round(float(np.mean(
                    (copy > -np.inf).sum(axis=1) - (copy[np.arange(n), want] > -np.inf))), 4),
                "copies_flagged_wrongly_per_query_besides_dataset_duplicates": round(float(
                    np.mean(((copy > -np.inf) & ~twins).sum(axis=1))), 4)}
            if w == PROBS_WEIGHT:
                own_sims += best[np.arange(n), want].tolist()
                best[np.arange(n), want] = -np.inf
                other_sims += best.max(axis=1).tolist()
        print(name, dup[name], f"{time.perf_counter() - t:.0f}s", flush=True)
    recall = {w: float(np.mean([d[f"w={w}"]["recall_at_1"] for d in dup.values()]))
              for w in weights}
    own, other = np.array(own_sims), np.array(other_sims)
    thresholds = {f"{q}": round(float(np.quantile(own, q)), 4) for q in (0.01, 0.02, 0.05)}
    result = {
        "benchmark": "catalog retrieval (P@5 same category, near-duplicate recall@1)",
        "command": "python benchmarks/catalog_retrieval.py",
        "bundle": "models/garment-classifier",
        "catalog_size": {"p_at_5": len(train["labels"]) + len(val["labels"]),
                         "near_duplicate": offset + len(test["labels"])},
        "queries": {"p_at_5": len(test["labels"]), "near_duplicate_per_transform": n},
        "classifier_top1_test": round(acc, 4),
        "shipped_probs_weight": PROBS_WEIGHT,
        "p_at_5": {f"w={w}": round(v, 4) for w, v in p5.items()},
        "p_at_5_leave_one_out_test": {f"w={w}": round(v, 4) for w, v in p5_loo.items()},
        "p_at_5_by_taxonomy_level (shipped weight)": by_level,
        "near_duplicate": dup,
        "near_duplicate_recall_at_1_mean": {f"w={w}": round(v, 4) for w, v in recall.items()},
        "near_duplicate_similarity (shipped weight)": {
            "copy_quantiles": thresholds,
            "best_other_photo_p99": round(float(np.quantile(other, 0.99)), 4),
            "best_other_photo_max": round(float(other.max()), 4)},
        "query_views": "photo as given, and turned by +45, -45 and 90 degrees (turned views "
                       f"cropped to the photo, score - {ROTATED_PENALTY}; best per listing)",
        "copies": f"pixel fingerprints (16x16 RGB NCC, catalog side also central 85%/70% "
                  f"crops): NCC >= {COPY_NCC} and cosine >= {COPY_MIN_COSINE} scores "
                  "max(NCC, cosine), as fashionlens search does",
        "acceptance": {"p_at_5 >= 0.90": p5[PROBS_WEIGHT] >= 0.90,
                       "near_duplicate_recall_at_1 >= 0.98 (every transform)":
                       all(d[f"w={PROBS_WEIGHT}"]["recall_at_1"] >= 0.98
                           for d in dup.values())},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (RESULTS / "catalog_retrieval.json").write_text(json.dumps(result, indent=2) + "\n",
                                                    encoding="utf-8")
    print(json.dumps(result["acceptance"], indent=2))


def classifier_classes() -> list[str]:
    from catalog_common import BUNDLE

    from fashionlens.inference import ModelBundle

    return ModelBundle.load(BUNDLE).classes


if __name__ == "__main__":
    main()
