"""Make the review sheets a colour rater labels from, without the labels of anyone else.

For each row of ``benchmarks/data/colour_truth.csv`` one PNG: a product photo as it is, or an
outfit photo with, beside it, a white-on-black silhouette of the garment to judge (CCP's
ground-truth mask). ``items.json`` lists the sheets with a one-line instruction each; give a
rater that folder and the dictionary, never the truth file. The raters' CSVs live in
``benchmarks/data/colour_raters/`` (header ``row,main_colour,also_ok,pattern,confidence,note``).

Usage:
    python tools/colour_review_sheets.py ../shared/data /tmp/colour_review
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from fashionlens.core.colours import ColourDictionary

TRUTH = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "colour_truth.csv"


def sheet(data: Path, row: dict, ccp_labels: list[str]) -> tuple[Image.Image, str]:
    photo = Image.open(data / row["image"]).convert("RGB")
    if row["source"] != "ccp":
        return photo, f"product photo of a {row['garment']} (judge the garment, not the backdrop)"
    label_map = np.asarray(Image.open(data / "ccp" / "masks" / f"{Path(row['image']).stem}.png"))
    silhouette = Image.fromarray(
        ((label_map == ccp_labels.index(row["garment"])) * 255).astype(np.uint8)).convert("RGB")
    canvas = Image.new("RGB", (photo.width * 2 + 10, photo.height), (128, 128, 128))
    canvas.paste(photo, (0, 0))
    canvas.paste(silhouette, (photo.width + 10, 0))
    return canvas, (f"outfit photo: LEFT is the photo; RIGHT is a white silhouette on black "
                    f"showing which garment to judge (the '{row['garment']}'). Judge its colour "
                    "in the LEFT photo.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path, help="the shared data folder (clothing/, ccp/)")
    ap.add_argument("out", type=Path, help="folder for the sheets, items.json, dictionary.txt")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ccp_labels = json.loads((args.data / "ccp" / "labels.json").read_text())
    items = []
    for i, row in enumerate(csv.DictReader(TRUTH.open(encoding="utf-8"))):
        image, what = sheet(args.data, row, ccp_labels)
        path = args.out / f"row{i:03d}.png"
        image.save(path)
        items.append({"row": i, "file": str(path), "what": what})
    (args.out / "items.json").write_text(json.dumps(items, indent=1))
    d = ColourDictionary.load()
    (args.out / "dictionary.txt").write_text(
        "".join(f"- {c}: {', '.join(d.names(c, 'en')[:6])}\n" for c in d.ids))
    print(f"{len(items)} sheets in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
