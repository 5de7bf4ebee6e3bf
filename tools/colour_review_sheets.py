"""Make the review sheets a colour rater labels from, without the labels of anyone else.

For each row of ``benchmarks/data/colour_truth.csv`` (or of ``--items``) one PNG: a product
photo as it is, or an outfit photo with, beside it, a white-on-black silhouette of the
garment to judge (CCP's ground-truth mask). ``items.json`` lists the sheets with a one-line
instruction each; give a rater that folder and the dictionary, never the truth file. The
raters' CSVs live in ``benchmarks/data/colour_raters/`` (header
``row,main_colour,also_ok,pattern,confidence,note``).

``--draw P G`` first draws a new set of items, disjoint from the truth file's photos: P
clothing product photos and the one or two largest garments (no stockings, tights or
socks; at least 1,500 pixels) of CCP outfit photos with masks until G garments, seeded, and
writes it to ``OUT/items.csv`` (``source,image,garment``, the truth file's first columns);
``--exclude CSV`` leaves out the photos of earlier drawn sets too.

Usage:
    python tools/colour_review_sheets.py ../shared/data /tmp/colour_review
    python tools/colour_review_sheets.py ../shared/data /tmp/colour_train --draw 240 160 --seed 1
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


SKIPPED_CCP = {"null", "skin", "hair", "stockings", "tights", "socks"}


def draw(data: Path, products: int, garments: int, seed: int, exclude: set[str]) -> list[dict]:
    """A seeded sample of product photos and outfit garments whose photos are not in exclude."""
    rng = np.random.default_rng(seed)
    labels = [r for r in csv.DictReader((data / "clothing" / "labels.csv").open())]
    labels = [r for r in labels if f"clothing/{r['image']}" not in exclude]
    rows = [{"source": "clothing", "image": f"clothing/{r['image']}",
             "garment": r["label"]}
            for r in (labels[i] for i in rng.permutation(len(labels))[:products])]
    ccp_labels = json.loads((data / "ccp" / "labels.json").read_text())
    masks = sorted((data / "ccp" / "masks").glob("*.png"))
    outfit_rows: list[dict] = []
    for i in rng.permutation(len(masks)):
        image = f"ccp/photos/{masks[i].stem}.jpg"
        if image in exclude or len(outfit_rows) >= garments:
            continue
        counts = np.bincount(np.asarray(Image.open(masks[i])).ravel(), minlength=len(ccp_labels))
        order = [c for c in np.argsort(-counts)
                 if ccp_labels[c] not in SKIPPED_CCP and counts[c] >= 1500]
        for c in order[:min(2, garments - len(outfit_rows))]:
            outfit_rows.append({"source": "ccp", "image": image, "garment": ccp_labels[c]})
    return rows + outfit_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path, help="the shared data folder (clothing/, ccp/)")
    ap.add_argument("out", type=Path, help="folder for the sheets, items.json, dictionary.txt")
    ap.add_argument("--items", type=Path, default=TRUTH,
                    help="CSV with source,image,garment columns (default: the truth file)")
    ap.add_argument("--draw", type=int, nargs=2, metavar=("PRODUCTS", "GARMENTS"),
                    help="draw a new item set disjoint from the truth file's photos")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--exclude", type=Path, action="append", default=[],
                    help="with --draw: also leave out the photos of this items CSV (repeatable)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ccp_labels = json.loads((args.data / "ccp" / "labels.json").read_text())
    if args.draw:
        exclude = {r["image"] for path in [TRUTH, *args.exclude]
                   for r in csv.DictReader(path.open(encoding="utf-8"))}
        drawn = draw(args.data, *args.draw, seed=args.seed, exclude=exclude)
        args.items = args.out / "items.csv"
        with args.items.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["source", "image", "garment"])
            writer.writeheader()
            writer.writerows(drawn)
    items = []
    for i, row in enumerate(csv.DictReader(args.items.open(encoding="utf-8"))):
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
