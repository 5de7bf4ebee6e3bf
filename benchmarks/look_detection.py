"""How well "is this an outfit photo?" works when a catalog row does not say (item or look).

Ingest calls a photo a look when the garment parser calls at least ``PERSON_MIN_HAIR`` of it
hair and ``PERSON_MIN_SKIN`` of it skin (``fashionlens.garments.shows_person``). This parses
product photos of the clothing set and CCP outfit photos that have no mask (the parser never
trained on them), both drawn at random (seeded), and reports, for the shipped thresholds and a
small grid around them, the share of product photos called looks and of outfit photos found.

Usage:

    python benchmarks/look_detection.py [--data ../shared/data] [--n 300] [--seed 1]

Writes benchmarks/results/look_detection.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fashionlens.catalog.ingest import COLOUR_SIZE
from fashionlens.garments import PERSON_MIN_HAIR, PERSON_MIN_SKIN
from fashionlens.imaging import open_image
from fashionlens.inference.parser import GarmentParser

REPO = Path(__file__).resolve().parents[1]
GRID = [(h, s) for h in (0.001, 0.0015, 0.002, 0.0025, 0.003, 0.0035, 0.004, 0.005)
        for s in (0.003, 0.005, 0.0075, 0.01)]


def shares(parser: GarmentParser, paths: list[str]) -> np.ndarray:
    """(hair, skin) share of each photo's label map, parsed as ingest parses it: the photo
    reduced to ``COLOUR_SIZE`` px on its long side."""
    classes = parser.bundle.manifest["classes"]
    hair, skin = classes.index("hair"), classes.index("skin")
    rows = []
    for path in paths:
        small = open_image(path, draft_size=COLOUR_SIZE)
        small.thumbnail((COLOUR_SIZE, COLOUR_SIZE), Image.Resampling.BILINEAR)
        lm = parser.parse_image(small, keep_photo=False).label_map
        rows.append((np.count_nonzero(lm == hair) / lm.size,
                     np.count_nonzero(lm == skin) / lm.size))
    return np.array(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    products = rng.sample(sorted((args.data / "clothing" / "images").glob("*.jpg")), args.n)
    masked = {p.stem for p in (args.data / "ccp" / "masks").glob("*.png")}
    outfits = rng.sample([p for p in sorted((args.data / "ccp" / "photos").glob("*.jpg"))
                          if p.stem not in masked], args.n)
    parser = GarmentParser(REPO / "models" / "garment-parser", threads=2)
    started = time.time()
    items = shares(parser, [str(p) for p in products])
    looks = shares(parser, [str(p) for p in outfits])
    rows = []
    for h, s in sorted({*GRID, (PERSON_MIN_HAIR, PERSON_MIN_SKIN)}):
        def called(x, h=h, s=s):
            return float(((x[:, 0] >= h) & (x[:, 1] >= s)).mean())

        rows.append({"min_hair": h, "min_skin": s,
                     "shipped": (h, s) == (PERSON_MIN_HAIR, PERSON_MIN_SKIN),
                     "products_called_looks": called(items), "outfits_found": called(looks)})
    result = {"benchmark": "look detection from the parser's hair and skin shares",
              "command": f"python benchmarks/look_detection.py --n {args.n} --seed {args.seed}",
              "parser": json.loads((REPO / "models" / "garment-parser" / "manifest.json")
                                   .read_text())["training"]["onnx_sha256"]["fp32"][:16],
              "products": args.n, "outfits": args.n, "seconds": round(time.time() - started, 1),
              "rows": rows, "date": time.strftime("%Y-%m-%d")}
    out = REPO / "benchmarks" / "results" / "look_detection.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("min hair  min skin  products called looks  outfits found")
    for r in rows:
        mark = "  ← shipped" if r["shipped"] else ""
        print(f"{r['min_hair']:8.4f}  {r['min_skin']:8.4f}  {r['products_called_looks']:21.3f}  "
              f"{r['outfits_found']:13.3f}{mark}")
    print(f"→ {out}")


if __name__ == "__main__":
    main()
