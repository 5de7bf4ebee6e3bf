"""Time per parsed outfit photo for the garment colours, on one thread, beside baselines.

"Parsed" photos are CCP photos whose ground-truth masks, grouped into garment classes with
fashionlens/data/ccp_grouping.json, stand in for a parser's label map; every garment class
present (background, skin and hair skipped) is measured, as ``fashionlens`` does after parsing.

Compared in the same run, on the same photos:
* ``fashionlens``: colours_of_garments, pixels only (grid sampling to at most 2,000 pixels per
  garment, 64³ Lab lookup table, small numpy k-means, CIEDE2000 naming);
* ``fashionlens_namer``: the same with the learned colour namer (models/colour-namer, ONNX
  Runtime on one thread) choosing each garment's main colour, all garments in one batch:
  what the product does when the bundle is installed;
* ``full_pixels``: the same code with sampling switched off (every garment pixel);
* ``sklearn_kmeans``: a textbook pipeline: every garment pixel through scikit-image's rgb2lab,
  scikit-learn KMeans (k=6, one init), cluster centres named by the same dictionary;
* ``fashionlens_namer:<folder>``: each ``--also-namer`` bundle, as ``fashionlens_namer``.

Timing is interleaved: each round times every method on every photo, the methods' order
rotating from photo to photo, so a machine that slows down for a while (a shared 2-core VM
does) slows every method alike; each method's time for a photo is its best round.

Usage:
    python benchmarks/colour_speed.py ../shared/data benchmarks/results/colour_speed.json
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread: before numpy is imported

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from fashionlens.colour import (  # noqa: E402
    ColourConfig,
    colours_of_garments,
    default_dictionary,
    rgb_to_lab,
)
from fashionlens.datasets.ccp import (  # noqa: E402
    group_label_map,
    iter_ccp,
    load_grouping,
    load_mask,
    read_ccp_labels,
)

HERE = Path(__file__).resolve().parent
SKIP = ("background", "skin", "hair")


def sklearn_baseline(rgb: np.ndarray, label_map: np.ndarray, classes, d) -> list[tuple]:
    from skimage.color import rgb2lab
    from sklearn.cluster import KMeans

    out = []
    counts = np.bincount(label_map.reshape(-1), minlength=len(classes))
    for idx in np.argsort(-counts, kind="stable"):
        if counts[idx] < 64 or classes[idx] in SKIP:
            continue
        px = rgb[label_map == idx].astype(np.float64) / 255.0
        lab = rgb2lab(px[:, None, :])[:, 0, :]
        k = min(6, len(np.unique(px, axis=0)))
        km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(lab)
        shares = np.bincount(km.labels_, minlength=k) / len(lab)
        names = d.nearest(km.cluster_centers_)
        pooled: dict[str, float] = {}
        for n, s in zip(names, shares, strict=True):
            pooled[n] = pooled.get(n, 0.0) + float(s)
        out.append((classes[idx], max(pooled, key=pooled.get)))
    return out


def _interleaved_best(methods: dict, photos: list, repeats: int) -> dict[str, np.ndarray]:
    """Seconds per photo for each method, best of ``repeats`` interleaved rounds."""
    names = list(methods)
    best = {name: np.full(len(photos), np.inf) for name in names}
    for r in range(repeats):
        for i, (rgb, lm) in enumerate(photos):
            shift = (r + i) % len(names)
            for name in names[shift:] + names[:shift]:
                t0 = time.perf_counter()
                methods[name](rgb, lm)
                best[name][i] = min(best[name][i], time.perf_counter() - t0)
    return best


def _with_namer(rgb: np.ndarray, lm: np.ndarray, *, namer, classes) -> list:
    return [(g, c.main) for g, c in colours_of_garments(rgb, lm, classes, namer=namer)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path, help="the shared data folder (with ccp/)")
    ap.add_argument("out", type=Path, nargs="?", default=HERE / "results" / "colour_speed.json")
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--namer", type=Path, default=HERE.parent / "models" / "colour-namer",
                    help="colour-namer bundle timed as fashionlens_namer (missing: skipped)")
    ap.add_argument("--also-namer", type=Path, action="append", default=[],
                    help="another colour-namer bundle to time beside it (repeatable)")
    args = ap.parse_args(argv)

    ccp = args.data / "ccp"
    labels = read_ccp_labels(ccp)
    grouping = load_grouping()
    classes = list(grouping.classes)
    samples = [s for s in iter_ccp(ccp, masked_only=True)][: args.photos]
    photos = [(np.asarray(Image.open(s.photo).convert("RGB")),
               group_label_map(load_mask(s.mask), labels, grouping)) for s in samples]
    d = default_dictionary()
    t0 = time.perf_counter()
    rgb_to_lab(np.zeros((1, 3), np.uint8))  # builds the lookup table once per process
    lut_s = time.perf_counter() - t0
    colours_of_garments(*photos[0], classes)  # warm-up (imports)

    full = ColourConfig(max_pixels=10**9)
    methods = {
        "fashionlens": lambda rgb, lm: [(g, c.main) for g, c in
                                        colours_of_garments(rgb, lm, classes)],
        "full_pixels": lambda rgb, lm: [(g, c.main) for g, c in
                                        colours_of_garments(rgb, lm, classes, config=full)],
    }
    bundle = args.namer
    if (bundle / "manifest.json").is_file():
        from fashionlens.colour_namer import ColourNamer

        for key, path in [("fashionlens_namer", bundle)] + [
                (f"fashionlens_namer:{p.name}", p) for p in args.also_namer]:
            methods[key] = functools.partial(_with_namer, namer=ColourNamer(path, threads=1),
                                             classes=classes)
    try:
        import sklearn  # noqa: F401

        methods["sklearn_kmeans"] = lambda rgb, lm: sklearn_baseline(rgb, lm, classes, d)
    except ImportError:
        print("scikit-learn not installed: sklearn_kmeans baseline skipped", file=sys.stderr)

    results: dict = {}
    garments = [sum(1 for i in np.unique(lm) if classes[i] not in SKIP) for _, lm in photos]
    mains = {name: [fn(rgb, lm) for rgb, lm in photos] for name, fn in methods.items()}
    best = _interleaved_best(methods, photos, args.repeats)
    for name in methods:
        ms = best[name] * 1000.0
        results[name] = {"median_ms_per_photo": round(float(np.median(ms)), 2),
                         "p90_ms_per_photo": round(float(np.percentile(ms, 90)), 2),
                         "mean_ms_per_photo": round(float(ms.mean()), 2)}
        print(f"{name:15s} median {np.median(ms):7.2f} ms  p90 {np.percentile(ms, 90):7.2f} ms"
              " per photo")
    ref = mains["fashionlens"]
    for name in methods:
        if name == "fashionlens":
            continue
        same = [a == b for x, y in zip(ref, mains[name], strict=True)
                for a, b in zip(x, y, strict=True)]
        results[name]["main_colour_agreement_with_fashionlens"] = round(float(np.mean(same)), 4)
        results[name]["slowdown_vs_fashionlens"] = round(
            results[name]["median_ms_per_photo"] / results["fashionlens"]["median_ms_per_photo"],
            2)
        if name.startswith("fashionlens_namer"):  # the namer's own share, photo by photo
            added = (best[name] - best["fashionlens"]) * 1000.0
            results[name]["median_ms_added_to_pixels"] = round(float(np.median(added)), 2)
    if "sklearn_kmeans" in results:  # the machine's speed cancels out of these ratios
        base = results["sklearn_kmeans"]["median_ms_per_photo"]
        for name in methods:
            results[name]["median_vs_sklearn_kmeans"] = round(
                results[name]["median_ms_per_photo"] / base, 3)
    doc = {
        "command": "python benchmarks/colour_speed.py " + " ".join(sys.argv[1:]),
        "photos": len(photos),
        "garments_per_photo_mean": round(float(np.mean(garments)), 2),
        "classes": classes,
        "threads": 1,
        "repeats": args.repeats,
        "timing": "best of interleaved rounds per photo, then median / p90 over photos",
        "lookup_table_build_ms_once_per_process": round(lut_s * 1000.0, 1),
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "cpus": os.cpu_count(),
                    "load_average_1min_at_end": round(os.getloadavg()[0], 2)},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
