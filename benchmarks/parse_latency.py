"""Parse latency on CPU for 448 px street photos: 1 vs 2 threads, each shipped variant.

Side by side in one run, on the same photos (the garment parser's held-out CCP test split,
448 px on the long side), for every variant the bundle ships (fp32, and int8 when it held its
accuracy) at 1 and 2 ONNX Runtime threads:

- ``model``: one ``session.run`` on a preprocessed photo (the network alone);
- ``parse``: the whole serving path of ``GarmentParser.parse`` — decode, letterbox, network,
  logits to the photo's size, softmax, label map, garment instances with scores.

Usage:

    python benchmarks/parse_latency.py [--data ../shared/data/ccp] [--photos 40] [--repeat 3]

Writes benchmarks/results/parse_latency.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "models" / "garment-parser"
FIXTURE_PHOTOS = REPO / "tests" / "fixtures" / "ccp" / "photos"


def held_out_photos(data: Path, n: int) -> list[str]:
    """The bundle's test-split photos (ids in its manifest), else the test fixtures."""
    from fashionlens.inference.bundle import ModelBundle

    ids = ModelBundle.load(BUNDLE).manifest["training"].get("test_ids", [])
    photos = [data / "photos" / f"{i}.jpg" for i in ids]
    photos = [str(p) for p in photos if p.exists()]
    if not photos:
        photos = sorted(str(p) for p in FIXTURE_PHOTOS.glob("*.jpg"))
    return photos[:n]


def _stats(seconds: list[float]) -> dict:
    ms = sorted(1000 * s for s in seconds)
    return {"median_ms": round(statistics.median(ms), 2),
            "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * len(ms)))], 2),
            "mean_ms": round(statistics.fmean(ms), 2), "runs": len(ms)}


def measure(variant: str, threads: int, photos: list[str], repeat: int) -> dict:
    from fashionlens.imaging import fit_to_input, open_image, to_array
    from fashionlens.inference.parser import GarmentParser

    parser = GarmentParser(BUNDLE, variant=variant, threads=threads)
    pre = parser.preprocessing
    arrays = [to_array(fit_to_input(open_image(p), pre), pre)[None] for p in photos]
    for x in arrays[:3]:  # warm-up
        parser.run(x)
    model_s, parse_s = [], []
    for _ in range(repeat):
        for x in arrays:
            t = time.perf_counter()
            parser.run(x)
            model_s.append(time.perf_counter() - t)
        for p in photos:
            t = time.perf_counter()
            for res in parser.parse([p], keep_photo=False):
                assert not hasattr(res, "error"), res
            parse_s.append(time.perf_counter() - t)
    return {"variant": variant, "threads": threads, "model": _stats(model_s),
            "parse": _stats(parse_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "ccp"))
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "parse_latency.json"))
    args = ap.parse_args()

    import onnxruntime
    from PIL import Image

    from fashionlens.inference.bundle import ModelBundle

    bundle = ModelBundle.load(BUNDLE)
    photos = held_out_photos(Path(args.data), args.photos)
    sizes = sorted({Image.open(p).size for p in photos})
    rows = [measure(v, t, photos, args.repeat)
            for v in sorted(bundle.manifest["files"]) for t in (1, 2)]
    result = {
        "benchmark": "garment parser latency per photo on CPU",
        "command": "python benchmarks/parse_latency.py "
                   f"--photos {args.photos} --repeat {args.repeat}",
        "bundle": bundle.name,
        "input_size": bundle.preprocessing.size,
        "photos": len(photos),
        "photo_sizes": sorted({f"{w}x{h}" for w, h in sizes}),
        "photo_source": "held-out CCP test split of the bundle (448 px long side)",
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "onnxruntime": onnxruntime.__version__},
        "results": rows,
        "date": time.strftime("%Y-%m-%d"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{len(photos)} photos {', '.join(result['photo_sizes'][:3])}…, "
          f"letterboxed to {result['input_size']} px; medians (p90) in ms")
    print(f"{'variant':8} {'threads':>7} {'model':>16} {'parse':>16}")
    for r in rows:
        m, p = r["model"], r["parse"]
        print(f"{r['variant']:8} {r['threads']:>7} {m['median_ms']:>8.1f} ({m['p90_ms']:>5.0f})"
              f" {p['median_ms']:>8.1f} ({p['p90_ms']:>5.0f})")
    print(f"→ {out}")


if __name__ == "__main__":
    main()
