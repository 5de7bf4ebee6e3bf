"""Make a compact copy of a training set to send to a GPU machine with a small upload limit.

The copy keeps the layout, the file names and the label files of the original, so every
reader and every seeded split of fashionlens sees the same photos in the same order; only the
photo bytes change: each photo is scaled to at most ``--side`` px on its long side and
re-encoded as WebP at ``--quality``. fashionlens reads photos by their content, never by their
extension, so a ``.jpg`` name holding WebP bytes reads as WebP. Label maps (CCP masks) are
copied byte for byte: they are labels.

    python tools/training_pack.py clothing ../shared/data/clothing .pack/clothing --side 256
    python tools/training_pack.py ccp ../shared/data/ccp .pack/ccp --side 448

``clothing`` copies ``labels.csv`` and the photos it lists, except those labelled ``Not sure``
or ``Other`` (the clothing reader leaves them out by default); ``ccp`` copies ``labels.json`` and
the photos that have a mask (the ones the parser learns from), with their masks. A model
trained on a pack is finished on the original photos with ``--epochs 0 --init`` (README,
"Training on a GPU machine that takes little data"), so every figure a bundle reports is
measured on the originals.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image


def reencode(src: Path, dst: Path, side: int, quality: int) -> int:
    """Write ``src`` scaled to at most ``side`` px (long side) as WebP; returns the bytes."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        scale = side / max(im.size)
        if scale < 1:
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                           Image.Resampling.LANCZOS)
        dst.parent.mkdir(parents=True, exist_ok=True)
        im.save(dst, "WEBP", quality=quality, method=6)
    return dst.stat().st_size


def clothing_files(root: Path) -> tuple[list[str], list[str]]:
    """(photos, label files) of a clothing layout, relative to ``root``."""
    with (root / "labels.csv").open(newline="", encoding="utf-8") as f:
        names = [row["image"] for row in csv.DictReader(f)
                 if row["label"] not in ("Not sure", "Other")]
    photos = [n if "/" in n else f"images/{n}.jpg" for n in names]
    return [p for p in photos if (root / p).is_file()], ["labels.csv"]


def ccp_files(root: Path) -> tuple[list[str], list[str]]:
    """(masked photos, label files incl. every mask) of a CCP folder, relative to ``root``."""
    masks = sorted(p.name for p in (root / "masks").glob("*.png"))
    photos = [f"photos/{Path(m).stem}.jpg" for m in masks]
    return [p for p in photos if (root / p).is_file()], ["labels.json",
                                                         *(f"masks/{m}" for m in masks)]


def make_pack(kind: str, src: Path, dst: Path, *, side: int, quality: int,
              workers: int = 2) -> dict:
    photos, labels = (clothing_files if kind == "clothing" else ccp_files)(src)
    for name in labels:
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / name, dst / name)
    args = ((src / p for p in photos), (dst / p for p in photos), [side] * len(photos),
            [quality] * len(photos))
    if workers <= 1:
        sizes = list(map(reencode, *args))
    else:
        with ProcessPoolExecutor(workers) as pool:
            sizes = list(pool.map(reencode, *args, chunksize=32))
    label_bytes = sum((dst / n).stat().st_size for n in labels)
    return {"photos": len(photos), "photo_bytes": sum(sizes), "label_bytes": label_bytes}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["clothing", "ccp"])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--side", type=int, default=256, help="long side in px (default 256)")
    ap.add_argument("--quality", type=int, default=85, help="WebP quality (default 85)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.dst.exists() and any(args.dst.iterdir()):
        ap.error(f"{args.dst} is not empty")
    r = make_pack(args.kind, args.src, args.dst, side=args.side, quality=args.quality,
                  workers=args.workers)
    print(f"{r['photos']} photos, {r['photo_bytes'] / 2**20:.1f} MiB; label files "
          f"{r['label_bytes'] / 2**20:.1f} MiB → {args.dst}")


if __name__ == "__main__":
    main()
