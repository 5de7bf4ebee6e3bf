"""tools/training_pack.py: a compact copy that readers and seeded splits see as the original."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

from PIL import Image

from fashionlens.datasets import read_dataset, split_fingerprint, stratified_split
from fashionlens.datasets.ccp import iter_ccp

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def _tool():
    spec = importlib.util.spec_from_file_location("training_pack",
                                                  REPO / "tools" / "training_pack.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _clothing(root: Path) -> None:
    """A small folder in the clothing set's layout, with a row the readers leave out."""
    (root / "images").mkdir(parents=True)
    rows = []
    for photo in sorted((FIXTURES / "garments").rglob("*.jpg")):
        shutil.copy(photo, root / "images" / photo.name)
        rows.append((f"images/{photo.name}", photo.parent.name, "False", "7"))
    rows[0] = (rows[0][0], "Not sure", "False", "7")
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image", "label", "kids", "sender_id"])
        w.writerows(rows)


def test_clothing_pack_keeps_names_labels_and_split(tmp_path):
    src, dst = tmp_path / "clothing", tmp_path / "pack"
    _clothing(src)
    report = _tool().make_pack("clothing", src, dst, side=96, quality=80, workers=1)
    original, packed = read_dataset(str(src)), read_dataset(str(dst))
    assert report["photos"] == len(original.items) > 0       # "Not sure" is not copied
    assert [Path(i.path).name for i in packed.items] == [Path(i.path).name
                                                         for i in original.items]
    assert list(packed.labels()) == list(original.labels()) and packed.classes == original.classes
    a = stratified_split(original.labels(), fractions=(0.5, 0.25, 0.25), seed=3)
    b = stratified_split(packed.labels(), fractions=(0.5, 0.25, 0.25), seed=3)
    assert split_fingerprint(a) == split_fingerprint(b)
    assert list(a.test) == list(b.test) and len(a.test) > 0
    for item in packed.items:
        with Image.open(item.path) as im:                     # a .jpg name, WebP bytes
            assert im.format == "WEBP" and max(im.size) <= 96
    assert (dst / "labels.csv").read_bytes() == (src / "labels.csv").read_bytes()


def test_ccp_pack_copies_masks_byte_for_byte(tmp_path):
    dst = tmp_path / "pack"
    report = _tool().make_pack("ccp", FIXTURES / "ccp", dst, side=448, quality=90, workers=1)
    ids = [s.id for s in iter_ccp(FIXTURES / "ccp", masked_only=True)]
    assert report["photos"] == len(ids) == 2
    assert [s.id for s in iter_ccp(dst, masked_only=True)] == ids
    for i in ids:
        mask = f"masks/{i}.png"
        assert (dst / mask).read_bytes() == (FIXTURES / "ccp" / mask).read_bytes()
        with Image.open(dst / "photos" / f"{i}.jpg") as packed, \
                Image.open(FIXTURES / "ccp" / "photos" / f"{i}.jpg") as original:
            assert packed.format == "WEBP" and packed.size == original.size
