"""Garment annotation formats: COCO (Fashionpedia, ModaNet), YOLO, plain box lists, DeepFashion2.

Every reader produces the same neutral model and every writer consumes it:

``AnnotatedDataset(images=[AnnotatedImage(file_name, width, height, objects=[Annotation(...)])],
categories=[Category(id, name, supercategory)], attributes=[Category(...)])``

Conventions (see ``docs/formats.md``):

- A box is ``(x1, y1, x2, y2)`` in pixel coordinates with the **end exclusive**: a box that
  covers columns 10..19 is ``(10, y1, 20, y2)``, so ``width = x2 - x1``. This is the same
  geometry as COCO's ``[x, y, w, h]`` and DeepFashion2's ``bounding_box`` (``w = x2 - x1``),
  so converting between them never adds or drops a pixel. Boxes may be fractional (COCO files
  often are); formats that need integers (the plain list) round each coordinate to the nearest
  integer, halves up (``floor(v + 0.5)``), see :meth:`Annotation.pixel_box`.
- YOLO stores ``class cx cy w h`` normalised by the image size with 6 decimals. Reading it
  back, a coordinate within that precision (0.75e-6 of the image size) of an integer becomes
  that integer, any other is rounded to 1/1000 px: integer boxes come back exactly.
- YOLO and plain-list class ids are positions (0-based) in the dataset's category list sorted
  by category id; COCO category ids are kept as they are.
- Segmentation is kept as the source gave it: a list of polygons ``[[x1, y1, x2, y2, ...], ...]``
  or a COCO RLE dict ``{"size": [h, w], "counts": str | list[int]}``. :func:`rle_encode`,
  :func:`rle_decode` and :func:`segmentation_to_mask` convert (no pycocotools needed).

Bad input raises :class:`AnnotationError`, whose message names the file and the object
(``"instances.json: annotation id 7: bbox has negative width (-3)"``). Readers take
``errors=``: pass a list and a bad object (or file) is recorded there and skipped instead.

Standard library, numpy and Pillow only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

__all__ = [
    "BOX_TOLERANCE",
    "DEEPFASHION2_CATEGORIES",
    "DEEPFASHION2_LANDMARKS",
    "FASHIONPEDIA_PART_NAMES",
    "FASHIONPEDIA_PART_SUPERCATEGORIES",
    "AnnotatedDataset",
    "AnnotatedImage",
    "Annotation",
    "AnnotationError",
    "Category",
    "deepfashion2_categories",
    "deepfashion2_files",
    "deepfashion2_keypoints",
    "deepfashion2_to_coco_extra",
    "drop_fashionpedia_parts",
    "is_fashionpedia_part",
    "mask_box",
    "polygons_to_mask",
    "read_box_list",
    "read_coco",
    "read_deepfashion2",
    "read_deepfashion2_file",
    "read_yolo",
    "rle_area",
    "rle_decode",
    "rle_encode",
    "segmentation_to_mask",
    "to_coco_dict",
    "write_box_list",
    "write_coco",
    "write_yolo",
]

Box = tuple[float, float, float, float]
Progress = Callable[[int, int], None]

#: How far (in pixels) a box may reach past the image border before it counts as outside.
BOX_TOLERANCE = 1.0

#: Fashionpedia supercategories whose categories are parts of a garment (ids 27-45), not
#: garments or accessories (ids 0-26).
FASHIONPEDIA_PART_SUPERCATEGORIES = frozenset({"garment parts", "closures", "decorations"})
#: The 19 Fashionpedia part categories, used when a file has no supercategory field.
FASHIONPEDIA_PART_NAMES = frozenset({
    "hood", "collar", "lapel", "epaulette", "sleeve", "pocket", "neckline",  # garment parts
    "buckle", "zipper",  # closures
    "applique", "bead", "bow", "flower", "fringe", "ribbon", "rivet", "ruffle", "sequin",
    "tassel",  # decorations
})

#: DeepFashion2 ``category_id`` -> ``category_name`` as written in its per-image JSON files.
DEEPFASHION2_CATEGORIES: dict[int, str] = {
    1: "short sleeve top", 2: "long sleeve top", 3: "short sleeve outwear",
    4: "long sleeve outwear", 5: "vest", 6: "sling", 7: "shorts", 8: "trousers", 9: "skirt",
    10: "short sleeve dress", 11: "long sleeve dress", 12: "vest dress", 13: "sling dress",
}
#: Landmarks per DeepFashion2 category; the official COCO conversion concatenates them into
#: one 294-point keypoint vector (category 1 uses points 0-24, category 2 points 25-57, ...).
DEEPFASHION2_LANDMARKS: dict[int, int] = {
    1: 25, 2: 33, 3: 31, 4: 39, 5: 15, 6: 15, 7: 10, 8: 14, 9: 8, 10: 29, 11: 37, 12: 19, 13: 19,
}
_DF2_OFFSETS = {c: sum(DEEPFASHION2_LANDMARKS[k] for k in range(1, c)) for c in range(1, 14)}
_DF2_POINTS = sum(DEEPFASHION2_LANDMARKS.values())  # 294
_DF2_ITEM_FIELDS = ("style", "scale", "occlusion", "zoom_in", "viewpoint")


class AnnotationError(ValueError):
    """A problem in an annotation source, naming the file and (when known) the object."""

    def __init__(self, source: str | Path, item: str | None, reason: str) -> None:
        self.source = str(source)
        self.item = item
        self.reason = reason
        where = f"{self.source}: {item}" if item else self.source
        super().__init__(f"{where}: {reason}")


# --------------------------------------------------------------------------- neutral model


@dataclass(frozen=True)
class Category:
    """A category (or, in ``AnnotatedDataset.attributes``, a Fashionpedia attribute).

    ``extra`` keeps the remaining fields of the source (Fashionpedia's ``level`` and
    ``taxonomy_id``, DeepFashion2's ``keypoints`` names, ...), written back to COCO.
    """

    id: int
    name: str
    supercategory: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Annotation:
    """One object: a category name, a box ``(x1, y1, x2, y2)`` (end exclusive), optionally a
    segmentation (polygons or COCO RLE), attribute names, a score (predictions) and
    format-specific fields in ``extra`` (``iscrowd``, ``area``, DeepFashion2's ``style``,
    ``occlusion``, ``landmarks``, ...)."""

    category: str
    box: Box
    segmentation: list[list[float]] | dict | None = None
    attributes: tuple[str, ...] = ()
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def pixel_box(self) -> tuple[int, int, int, int]:
        """The box as integers: each coordinate rounded to the nearest integer, halves up
        (``floor(v + 0.5)``); a box that would round to nothing keeps one pixel."""
        x1, y1, x2, y2 = (int(math.floor(v + 0.5)) for v in self.box)
        return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


@dataclass
class AnnotatedImage:
    """One photo: its path relative to the image root, its size (``None`` when unknown, as in
    a plain box list) and its objects. ``id`` is the COCO image id when there is one."""

    file_name: str
    width: int | None
    height: int | None
    objects: list[Annotation] = field(default_factory=list)
    id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnnotatedDataset:
    """Images with their objects, the category list and (Fashionpedia) the attribute list."""

    images: list[AnnotatedImage]
    categories: list[Category]
    attributes: list[Category] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    licenses: list[Any] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        """Category names in YOLO / plain-list order (sorted by category id)."""
        return [c.name for c in sorted(self.categories, key=lambda c: c.id)]

    def class_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.class_names)}

    def num_objects(self) -> int:
        return sum(len(im.objects) for im in self.images)


def is_fashionpedia_part(category: Category) -> bool:
    """True for Fashionpedia's garment parts, closures and decorations (ids 27-45)."""
    if category.supercategory:
        return category.supercategory.strip().lower() in FASHIONPEDIA_PART_SUPERCATEGORIES
    return category.name.strip().lower() in FASHIONPEDIA_PART_NAMES


def drop_fashionpedia_parts(dataset: AnnotatedDataset) -> AnnotatedDataset:
    """A copy without Fashionpedia's part categories and their objects (images are kept)."""
    parts = {c.name for c in dataset.categories if is_fashionpedia_part(c)}
    images = [replace(im, objects=[o for o in im.objects if o.category not in parts])
              for im in dataset.images]
    return replace(dataset, images=images,
                   categories=[c for c in dataset.categories if c.name not in parts])


# --------------------------------------------------------------------------- masks


def _counts_to_string(counts: Sequence[int]) -> str:
    """COCO's compressed RLE string (the LEB128-like code of ``maskApi.c``)."""
    out: list[str] = []
    for i, raw in enumerate(counts):
        x = int(raw) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def _string_to_counts(s: str) -> list[int]:
    counts: list[int] = []
    p = 0
    while p < len(s):
        x = k = 0
        more = True
        while more:
            if p >= len(s):
                raise ValueError("truncated RLE string")
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"bad character {s[p]!r} in RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_encode(mask: np.ndarray, *, compressed: bool = True) -> dict:
    """COCO RLE of a 2-D mask (column-major runs, starting with a run of zeros)."""
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    h, w = m.shape
    flat = m.ravel(order="F")
    if flat.size == 0:
        counts: list[int] = []
    else:
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
        counts = ([0] + runs) if flat[0] else runs
    return {"size": [int(h), int(w)],
            "counts": _counts_to_string(counts) if compressed else [int(c) for c in counts]}


def _rle_counts(rle: Mapping) -> tuple[int, int, list[int]]:
    try:
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"RLE needs 'size' [h, w] and 'counts' ({exc})") from None
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = _string_to_counts(counts)
    counts = [int(c) for c in counts]
    if any(c < 0 for c in counts) or sum(counts) != h * w:
        raise ValueError(f"RLE counts cover {sum(counts)} pixels, size says {h}x{w}")
    return h, w, counts


def rle_decode(rle: Mapping) -> np.ndarray:
    """Boolean (h, w) mask from a COCO RLE dict (compressed string or list of counts)."""
    h, w, counts = _rle_counts(rle)
    values = np.arange(len(counts)) % 2 == 1
    flat = np.repeat(values, counts)
    return flat.reshape((h, w), order="F")


def rle_area(rle: Mapping) -> int:
    """Number of pixels in an RLE mask (without decoding it)."""
    return int(sum(_rle_counts(rle)[2][1::2]))


def polygons_to_mask(polygons: Iterable[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Boolean mask of the union of polygons ``[x1, y1, x2, y2, ...]`` (Pillow rasteriser)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(img)
    for poly in polygons:
        if len(poly) >= 6:
            draw.polygon([(float(poly[i]), float(poly[i + 1])) for i in range(0, len(poly) - 1, 2)],
                         fill=1, outline=1)
    return np.asarray(img, dtype=bool)


def segmentation_to_mask(segmentation: list | dict, height: int, width: int) -> np.ndarray:
    """Boolean (height, width) mask from polygons or a COCO RLE dict."""
    if isinstance(segmentation, Mapping):
        mask = rle_decode(segmentation)
        if mask.shape != (height, width):
            raise ValueError(f"RLE size {mask.shape} differs from image size {(height, width)}")
        return mask
    return polygons_to_mask(segmentation, height, width)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight box ``(x1, y1, x2, y2)`` (end exclusive) of a mask's pixels; ``None`` if empty."""
    m = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _polygon_area(polygons: Iterable[Sequence[float]]) -> float:
    total = 0.0
    for poly in polygons:
        xs = np.asarray(poly[0::2], dtype=float)
        ys = np.asarray(poly[1::2], dtype=float)
        if xs.size >= 3:
            total += 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))
    return total


# --------------------------------------------------------------------------- validation


def _report(exc: AnnotationError, errors: list | None) -> None:
    if errors is None:
        raise exc
    errors.append(exc)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_box(box: Sequence[float], width: int | None, height: int | None,
               source: str | Path, item: str) -> Box:
    """Validate an ``(x1, y1, x2, y2)`` box against the image size (``None`` = unknown)."""
    if len(box) != 4 or not all(_number(v) for v in box):
        raise AnnotationError(source, item, f"box must be 4 finite numbers, got {list(box)!r}")
    x1, y1, x2, y2 = (float(v) for v in box)
    if x2 - x1 <= 0:
        kind = "zero" if x2 == x1 else "negative"
        raise AnnotationError(source, item, f"box has {kind} width ({_fmt(x2 - x1)})")
    if y2 - y1 <= 0:
        kind = "zero" if y2 == y1 else "negative"
        raise AnnotationError(source, item, f"box has {kind} height ({_fmt(y2 - y1)})")
    t = BOX_TOLERANCE
    outside = x1 < -t or y1 < -t
    if width is not None and height is not None:
        outside = outside or x2 > width + t or y2 > height + t
    if outside:
        size = f"{width}x{height} " if width is not None else ""
        raise AnnotationError(source, item,
                              f"box {[_fmt(v) for v in (x1, y1, x2, y2)]} (x1, y1, x2, y2) is "
                              f"outside the {size}image")
    return x1, y1, x2, y2


def _fmt(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(float(v), 3)


def _check_polygons(seg: Any, source: str | Path, item: str) -> list[list[float]]:
    if not isinstance(seg, list) or not all(isinstance(p, list) for p in seg):
        raise AnnotationError(source, item, "segmentation must be a list of polygons or an RLE")
    out = []
    for poly in seg:
        if not all(_number(v) for v in poly):
            raise AnnotationError(source, item, "polygon coordinates must be numbers")
        if len(poly) % 2:
            raise AnnotationError(source, item,
                                  f"polygon has an odd number of values ({len(poly)})")
        if len(poly) >= 6:  # ModaNet has a few 1- and 2-point "polygons": drop them
            out.append([_fmt(v) for v in poly])
    return out


def _segmentation_box(seg: list | dict) -> Box | None:
    if isinstance(seg, Mapping):
        box = mask_box(rle_decode(seg))
        return None if box is None else tuple(float(v) for v in box)  # type: ignore[return-value]
    xs = [v for poly in seg for v in poly[0::2]]
    ys = [v for poly in seg for v in poly[1::2]]
    if not xs:
        return None
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise AnnotationError(path, None, "no such file") from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(path, None, f"not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(path, None, f"not UTF-8 text ({exc.reason})") from None


def _safe_relative(name: str, source: str | Path, item: str) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if not name or p.is_absolute() or ".." in p.parts:
        raise AnnotationError(source, item, f"file name {name!r} must be a relative path")
    return p


# --------------------------------------------------------------------------- COCO


def _category_list(raw: Any, source: Path, key: str) -> list[Category]:
    if not isinstance(raw, list):
        raise AnnotationError(source, None, f"'{key}' must be a list")
    out: list[Category] = []
    seen_ids: set[int] = set()
    seen_names: set[str] = set()
    for i, c in enumerate(raw):
        item = f"{key}[{i}]"
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise AnnotationError(source, item, "needs 'id' and 'name'")
        if not isinstance(c["id"], int) or not isinstance(c["name"], str):
            raise AnnotationError(source, item, "'id' must be an integer and 'name' a string")
        if c["id"] in seen_ids or c["name"] in seen_names:
            raise AnnotationError(source, item, f"duplicate {key} {c['id']} {c['name']!r}")
        seen_ids.add(c["id"])
        seen_names.add(c["name"])
        extra = {k: v for k, v in c.items() if k not in ("id", "name", "supercategory")}
        out.append(Category(c["id"], c["name"], str(c.get("supercategory") or ""), extra))
    return out


_COCO_ANN_KEYS = ("id", "image_id", "category_id", "bbox", "segmentation", "attribute_ids",
                  "score")


def read_coco(path: str | Path, *, drop_parts: bool = False,
              errors: list[AnnotationError] | None = None) -> AnnotatedDataset:
    """Read a COCO instances file: COCO itself, Fashionpedia (``attribute_ids`` with the
    top-level ``attributes`` list, supercategories) or ModaNet (extra ``year``/``type`` keys,
    degenerate polygons dropped).

    ``bbox`` is ``[x, y, w, h]``; when absent the box is taken from the segmentation.
    ``drop_parts=True`` removes Fashionpedia's garment parts, closures and decorations.
    With ``errors`` given, a bad image or annotation is recorded there and skipped; problems
    with the file as a whole (not JSON, no ``images`` list, bad categories) always raise.
    """
    path = Path(path)
    doc = _load_json(path)
    if not isinstance(doc, dict):
        raise AnnotationError(path, None, "a COCO file must hold a JSON object")
    for key in ("images", "annotations", "categories"):
        if key not in doc:
            raise AnnotationError(path, None, f"missing top-level key '{key}'")
        if not isinstance(doc[key], list):
            raise AnnotationError(path, None, f"'{key}' must be a list")
    categories = _category_list(doc["categories"], path, "categories")
    attributes = _category_list(doc.get("attributes") or [], path, "attributes")
    cat_by_id = {c.id: c for c in categories}
    attr_by_id = {a.id: a for a in attributes}

    images: dict[int, AnnotatedImage] = {}
    for i, im in enumerate(doc["images"]):
        item = f"image {im.get('id', f'#{i}')}" if isinstance(im, dict) else f"images[{i}]"
        try:
            if not isinstance(im, dict):
                raise AnnotationError(path, item, "must be an object")
            missing = [k for k in ("id", "file_name", "width", "height") if k not in im]
            if missing:
                raise AnnotationError(path, item, f"missing key(s) {', '.join(missing)}")
            w, h = im["width"], im["height"]
            if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
                raise AnnotationError(path, item, f"bad size {w!r}x{h!r}")
            if im["id"] in images:
                raise AnnotationError(path, item, "duplicate image id")
            _safe_relative(str(im["file_name"]), path, item)
            extra = {k: v for k, v in im.items() if k not in ("id", "file_name", "width",
                                                               "height")}
            images[im["id"]] = AnnotatedImage(str(im["file_name"]), w, h, id=im["id"],
                                              extra=extra)
        except AnnotationError as exc:
            _report(exc, errors)
        except (TypeError, KeyError) as exc:
            _report(AnnotationError(path, item, f"malformed ({exc})"), errors)

    for i, ann in enumerate(doc["annotations"]):
        item = (f"annotation id {ann['id']}" if isinstance(ann, dict) and "id" in ann
                else f"annotations[{i}]")
        try:
            if not isinstance(ann, dict):
                raise AnnotationError(path, item, "must be an object")
            missing = [k for k in ("image_id", "category_id") if k not in ann]
            if "bbox" not in ann and "segmentation" not in ann:
                missing.append("bbox")
            if missing:
                raise AnnotationError(path, item, f"missing key(s) {', '.join(missing)}")
            image = images.get(ann["image_id"])
            if image is None:
                raise AnnotationError(path, item, f"unknown image_id {ann['image_id']!r}")
            cat = cat_by_id.get(ann["category_id"])
            if cat is None:
                raise AnnotationError(path, item, f"unknown category_id {ann['category_id']!r}")
            seg = ann.get("segmentation")
            if seg in (None, [], {}):
                seg = None
            elif isinstance(seg, dict):
                try:
                    h, w, _ = _rle_counts(seg)
                except ValueError as exc:
                    raise AnnotationError(path, item, f"bad RLE segmentation: {exc}") from None
                if (h, w) != (image.height, image.width):
                    raise AnnotationError(path, item, f"RLE size {h}x{w} differs from image "
                                                      f"{image.height}x{image.width}")
            else:
                seg = _check_polygons(seg, path, item) or None
            if "bbox" in ann:
                bb = ann["bbox"]
                if not isinstance(bb, list) or len(bb) != 4 or not all(_number(v) for v in bb):
                    raise AnnotationError(path, item,
                                          f"bbox must be [x, y, w, h] numbers, got {bb!r}")
                if bb[2] < 0:
                    raise AnnotationError(path, item, f"bbox has negative width ({bb[2]})")
                if bb[3] < 0:
                    raise AnnotationError(path, item, f"bbox has negative height ({bb[3]})")
                box = (bb[0], bb[1], bb[0] + bb[2], bb[1] + bb[3])
            else:
                box = _segmentation_box(seg) if seg is not None else None
                if box is None:
                    raise AnnotationError(path, item, "no bbox and an empty segmentation")
            box = _check_box(box, image.width, image.height, path, item)
            attr_names: list[str] = []
            attr_ids = ann.get("attribute_ids") or []
            if not isinstance(attr_ids, list) or not all(isinstance(a, int) for a in attr_ids):
                raise AnnotationError(path, item, "attribute_ids must be a list of integers")
            for a in attr_ids:
                if a not in attr_by_id:
                    raise AnnotationError(path, item, f"unknown attribute id {a!r}")
                attr_names.append(attr_by_id[a].name)
            score = ann.get("score")
            extra = {k: v for k, v in ann.items() if k not in _COCO_ANN_KEYS}
            image.objects.append(Annotation(cat.name, box, seg, tuple(attr_names),
                                            float(score) if _number(score) else None, extra))
        except AnnotationError as exc:
            _report(exc, errors)
        except (TypeError, KeyError) as exc:  # e.g. a list where an id should be
            _report(AnnotationError(path, item, f"malformed ({exc})"), errors)

    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    licenses = doc.get("licenses") if isinstance(doc.get("licenses"), list) else []
    dataset = AnnotatedDataset(list(images.values()), categories, attributes, info, licenses)
    return drop_fashionpedia_parts(dataset) if drop_parts else dataset


def _json_number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def _coco_image(im: AnnotatedImage, cat_ids: Mapping[str, int], attr_ids: Mapping[str, int],
                with_attributes: bool) -> tuple[dict, list[dict]]:
    if im.width is None or im.height is None:
        raise AnnotationError(im.file_name, None, "COCO needs the image size; it is unknown")
    image = {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height,
             **im.extra}
    anns = []
    for obj in im.objects:
        item = f"{obj.category} object"
        if obj.category not in cat_ids:
            raise AnnotationError(im.file_name, item, "category not in the category list")
        x1, y1, x2, y2 = obj.box
        extra = dict(obj.extra)
        area = extra.pop("area", None)
        if area is None:
            if isinstance(obj.segmentation, Mapping):
                area = rle_area(obj.segmentation)
            elif obj.segmentation:
                area = _polygon_area(obj.segmentation)
            else:
                area = (x2 - x1) * (y2 - y1)
        ann: dict[str, Any] = {
            "id": None, "image_id": None, "category_id": cat_ids[obj.category],
            "bbox": [_json_number(v) for v in (x1, y1, x2 - x1, y2 - y1)],
            "area": _json_number(area), "iscrowd": int(extra.pop("iscrowd", 0)),
            "segmentation": obj.segmentation if obj.segmentation is not None else [],
        }
        if with_attributes or obj.attributes:
            missing = [a for a in obj.attributes if a not in attr_ids]
            if missing:
                raise AnnotationError(im.file_name, item, f"unknown attribute(s) {missing}")
            ann["attribute_ids"] = [attr_ids[a] for a in obj.attributes]
        if obj.score is not None:
            ann["score"] = obj.score
        ann.update(extra)
        anns.append(ann)
    return image, anns


def to_coco_dict(dataset: AnnotatedDataset, *, progress: Progress | None = None,
                 errors: list[AnnotationError] | None = None) -> dict:
    """The dataset as a COCO instances document.

    Image ids are kept (or numbered from 1 when absent); annotation ids are numbered from 1.
    ``area`` is the source's when it had one, else the mask area (RLE) or polygon area, else
    the box area. ``attribute_ids`` are written when the dataset has attributes. With
    ``errors`` given, an image that cannot be written is recorded there and left out.
    """
    cat_ids = {c.name: c.id for c in dataset.categories}
    attr_ids = {a.name: a.id for a in dataset.attributes}
    used = {im.id for im in dataset.images if im.id is not None}
    next_id = max(used, default=0) + 1
    images, annotations = [], []
    total = len(dataset.images)
    for n, im in enumerate(dataset.images, 1):
        try:
            image, anns = _coco_image(im, cat_ids, attr_ids, bool(dataset.attributes))
        except AnnotationError as exc:
            _report(exc, errors)
        else:
            if image["id"] is None:
                image["id"], next_id = next_id, next_id + 1
            images.append(image)
            for ann in anns:
                ann.update(id=len(annotations) + 1, image_id=image["id"])
                annotations.append(ann)
        if progress:
            progress(n, total)

    def cat_doc(c: Category) -> dict:
        return {"id": c.id, "name": c.name, "supercategory": c.supercategory, **c.extra}

    doc: dict[str, Any] = {"info": dataset.info, "licenses": dataset.licenses, "images": images,
                           "annotations": annotations,
                           "categories": [cat_doc(c) for c in dataset.categories]}
    if dataset.attributes:
        doc["attributes"] = [cat_doc(a) for a in dataset.attributes]
    return doc


def write_coco(dataset: AnnotatedDataset, path: str | Path, *, indent: int | None = None,
               progress: Progress | None = None,
               errors: list[AnnotationError] | None = None) -> Path:
    """Write :func:`to_coco_dict` as JSON (UTF-8); returns the path."""
    path = Path(path)
    doc = to_coco_dict(dataset, progress=progress, errors=errors)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=indent, ensure_ascii=False)
    return path


# --------------------------------------------------------------------------- YOLO


def _yolo_line(index: int, box: Box, width: int, height: int) -> str:
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    w, h = (x2 - x1) / width, (y2 - y1) / height
    return f"{index} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def _join_root(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}" if root else name


def write_yolo(dataset: AnnotatedDataset, out_dir: str | Path, *, image_root: str = "",
               progress: Progress | None = None,
               errors: list[AnnotationError] | None = None) -> Path:
    """Write YOLO labels: ``out_dir/labels/<file_name minus suffix>.txt`` with one line
    ``class cx cy w h`` per object (normalised, 6 decimals), ``out_dir/classes.txt`` (one name
    per line, line number = class id) and ``out_dir/images.txt`` (``image_root/file_name`` per
    line, the darknet image list). Images without objects get an empty label file. With
    ``errors`` given, an image that cannot be written is recorded there and left out."""
    out = Path(out_dir)
    labels = out / "labels"
    index = dataset.class_index()
    seen: dict[str, str] = {}
    lines_images: list[str] = []
    total = len(dataset.images)
    for n, im in enumerate(dataset.images, 1):
        try:
            rel = _safe_relative(im.file_name, im.file_name, None)
            if im.width is None or im.height is None:
                raise AnnotationError(im.file_name, None,
                                      "YOLO needs the image size; it is unknown")
            label_rel = rel.with_suffix(".txt").as_posix()
            if label_rel in seen:
                raise AnnotationError(im.file_name, None, f"label file {label_rel} is already "
                                                          f"written for {seen[label_rel]}")
            rows = []
            for obj in im.objects:
                if obj.category not in index:
                    raise AnnotationError(im.file_name, f"{obj.category} object",
                                          "category not in the category list")
                rows.append(_yolo_line(index[obj.category], obj.box, im.width, im.height))
        except AnnotationError as exc:
            _report(exc, errors)
        else:
            seen[label_rel] = im.file_name
            target = labels / label_rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
            lines_images.append(_join_root(image_root, im.file_name))
        if progress:
            progress(n, total)
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("".join(c + "\n" for c in dataset.class_names),
                                     encoding="utf-8")
    (out / "images.txt").write_text("".join(p + "\n" for p in lines_images), encoding="utf-8")
    return out


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as img:  # reads the header only
            return img.size
    except (OSError, ValueError):
        return None


def _read_classes(path: Path) -> list[str]:
    try:
        names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise AnnotationError(path, None, "no such file (the class names)") from None
    return [n for n in names if n]


def read_yolo(yolo_dir: str | Path, *,
              image_sizes: Mapping[str, tuple[int, int]] | None = None,
              images_dir: str | Path | None = None,
              errors: list[AnnotationError] | None = None) -> AnnotatedDataset:
    """Read a folder written by :func:`write_yolo` back into the neutral model.

    Boxes are scaled back to pixels: integers where the 6 decimals cannot tell them from an
    integer, else rounded to 1/1000 px. Each image's ``file_name`` is
    the longest tail of its ``images.txt`` path that has a label file (so the ``image_root``
    given to the writer falls away). The image size comes from ``image_sizes`` (keyed by file
    name, ``(width, height)``) or else from the image header, under ``images_dir`` when given,
    else at the path in ``images.txt``. Category ids are 0-based positions in ``classes.txt``.
    """
    root = Path(yolo_dir)
    labels = root / "labels"
    classes = _read_classes(root / "classes.txt")
    listing = root / "images.txt"
    if listing.exists():
        paths = [ln.strip() for ln in listing.read_text(encoding="utf-8").splitlines()
                 if ln.strip()]
    else:
        paths = sorted(p.relative_to(labels).with_suffix(".jpg").as_posix()
                       for p in labels.rglob("*.txt"))
    images = []
    for p in paths:
        try:
            file_name = _label_tail(p, labels)
            if file_name is None:
                raise AnnotationError(listing, p, "no label file for this image")
            label_file = labels / PurePosixPath(file_name).with_suffix(".txt")
            size = (image_sizes or {}).get(file_name)
            if size is None:
                size = _image_size(Path(images_dir) / file_name if images_dir else Path(p))
            if size is None:
                raise AnnotationError(label_file, None, f"image size unknown (no size given "
                                                        f"and {p} cannot be read)")
            w, h = size
            im = AnnotatedImage(file_name, int(w), int(h))
            text = label_file.read_text(encoding="utf-8")
            for ln_no, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                item = f"line {ln_no}"
                parts = line.split()
                try:
                    if len(parts) != 5:
                        raise ValueError
                    cls = int(parts[0])
                    cx, cy, bw, bh = (float(v) for v in parts[1:])
                except ValueError:
                    raise AnnotationError(label_file, item,
                                          f"expected 'class cx cy w h', got {line!r}") from None
                if not 0 <= cls < len(classes):
                    raise AnnotationError(label_file, item, f"class {cls} not in classes.txt "
                                                            f"({len(classes)} classes)")
                box = _from_yolo(cx, cy, bw, bh, w, h)
                box = _check_box(box, im.width, im.height, label_file, item)
                im.objects.append(Annotation(classes[cls], box))
            images.append(im)
        except AnnotationError as exc:
            _report(exc, errors)
    categories = [Category(i, name) for i, name in enumerate(classes)]
    return AnnotatedDataset(images, categories)


def _from_yolo(cx: float, cy: float, bw: float, bh: float, width: int, height: int) -> Box:
    """Pixel box from normalised YOLO values written with 6 decimals. Such values carry up to
    0.75e-6 of the image size in error, so a coordinate that close to an integer is that
    integer; any other is rounded to 1/1000 px."""
    out = []
    for v, size in (((cx - bw / 2) * width, width), ((cy - bh / 2) * height, height),
                    ((cx + bw / 2) * width, width), ((cy + bh / 2) * height, height)):
        nearest = round(v)
        out.append(float(nearest) if abs(v - nearest) <= 0.75e-6 * size + 1e-9 else round(v, 3))
    return tuple(out)  # type: ignore[return-value]


def _label_tail(image_path: str, labels: Path) -> str | None:
    """The longest tail of ``image_path`` whose label file exists under ``labels``."""
    parts = PurePosixPath(image_path.replace("\\", "/")).parts
    for i in range(len(parts)):
        tail = parts[i:]
        if ".." in tail or tail[0] == "/":
            continue
        rel = PurePosixPath(*tail)
        if (labels / rel.with_suffix(".txt")).is_file():
            return rel.as_posix()
    return None


# --------------------------------------------------------------------------- plain list

_WS = re.compile(r"\s")


def write_box_list(dataset: AnnotatedDataset, path: str | Path, *, image_root: str = "",
                   classes_path: str | Path | None = None,
                   progress: Progress | None = None,
                   errors: list[AnnotationError] | None = None) -> Path:
    """Write the plain list used by keras-yolo3: one line per image,
    ``image_path x1,y1,x2,y2,class_id x1,y1,x2,y2,class_id ...`` with integer pixel
    coordinates (:meth:`Annotation.pixel_box`: end exclusive, rounded halves up) and 0-based
    class ids. The class names go to ``classes_path`` (default ``<stem>_classes.txt`` beside
    the list). Paths with white space cannot be held by this format: such an image raises
    (or, with ``errors`` given, is recorded there and left out)."""
    path = Path(path)
    index = dataset.class_index()
    lines = []
    total = len(dataset.images)
    for n, im in enumerate(dataset.images, 1):
        try:
            image_path = _join_root(image_root, im.file_name)
            if _WS.search(image_path):
                raise AnnotationError(im.file_name, None,
                                      "the plain list cannot hold paths with white space")
            fields = [image_path]
            for obj in im.objects:
                if obj.category not in index:
                    raise AnnotationError(im.file_name, f"{obj.category} object",
                                          "category not in the category list")
                x1, y1, x2, y2 = obj.pixel_box()
                fields.append(f"{x1},{y1},{x2},{y2},{index[obj.category]}")
        except AnnotationError as exc:
            _report(exc, errors)
        else:
            lines.append(" ".join(fields))
        if progress:
            progress(n, total)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    classes_path = Path(classes_path) if classes_path else _list_classes_path(path)
    classes_path.write_text("".join(c + "\n" for c in dataset.class_names), encoding="utf-8")
    return path


def _list_classes_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_classes.txt")


def read_box_list(path: str | Path, *, classes: Sequence[str] | str | Path | None = None,
                  image_root: str = "",
                  image_sizes: Mapping[str, tuple[int, int]] | None = None,
                  errors: list[AnnotationError] | None = None) -> AnnotatedDataset:
    """Read a plain box list. ``classes`` is a list of names or a file of names (default:
    ``<stem>_classes.txt`` beside the list). ``image_root`` is stripped from the paths to give
    ``file_name``. Sizes are unknown (``None``) unless ``image_sizes`` gives them."""
    path = Path(path)
    if classes is None or isinstance(classes, str | Path):
        classes = _read_classes(Path(classes) if classes else _list_classes_path(path))
    classes = list(classes)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnnotationError(path, None, "no such file") from None
    prefix = image_root.rstrip("/") + "/" if image_root else ""
    images = []
    for ln_no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        item = f"line {ln_no}"
        try:
            name = parts[0][len(prefix):] if prefix and parts[0].startswith(prefix) else parts[0]
            size = (image_sizes or {}).get(name)
            im = AnnotatedImage(name, *(size or (None, None)))
            for field_ in parts[1:]:
                values = field_.split(",")
                try:
                    if len(values) != 5:
                        raise ValueError
                    x1, y1, x2, y2, cls = (int(v) for v in values)
                except ValueError:
                    raise AnnotationError(path, item, f"expected x1,y1,x2,y2,class_id, got "
                                                      f"{field_!r}") from None
                if not 0 <= cls < len(classes):
                    raise AnnotationError(path, item,
                                          f"class id {cls} not in the {len(classes)} classes")
                box = _check_box((x1, y1, x2, y2), im.width, im.height, path, item)
                im.objects.append(Annotation(classes[cls], box))
            images.append(im)
        except AnnotationError as exc:
            _report(exc, errors)
    return AnnotatedDataset(images, [Category(i, c) for i, c in enumerate(classes)])


# --------------------------------------------------------------------------- DeepFashion2


def deepfashion2_files(annos_dir: str | Path) -> list[Path]:
    """The per-image JSON files of a DeepFashion2 ``annos`` folder, sorted."""
    root = Path(annos_dir)
    if not root.is_dir():
        raise AnnotationError(root, None, "not a folder")
    return sorted(p for p in root.glob("*.json") if not p.name.startswith("."))


def deepfashion2_keypoints(category_id: int, landmarks: Sequence[float]) -> list[float]:
    """The 294 x 3 keypoint vector of the official DeepFashion2 -> COCO conversion."""
    points = [0.0] * (_DF2_POINTS * 3)
    start = _DF2_OFFSETS[category_id] * 3
    points[start:start + len(landmarks)] = [float(v) for v in landmarks]
    return points


def read_deepfashion2_file(path: str | Path, *, image_size: tuple[int, int] | None = None,
                           images_dir: str | Path | None = None) -> AnnotatedImage:
    """One DeepFashion2 annotation file (``000001.json`` with ``source``, ``pair_id`` and
    ``item1``, ``item2``, ...) as an :class:`AnnotatedImage`.

    The image size is not in the file: give ``image_size`` ``(width, height)`` or
    ``images_dir`` (default: the ``image`` folder beside ``annos``), where ``<stem>.jpg`` is
    read (header only). The image id is the number in the file name, as in the official
    evaluation. Each object keeps ``style``, ``scale``, ``occlusion``, ``zoom_in``,
    ``viewpoint``, ``landmarks`` and the DeepFashion2 ``category_id`` in ``extra``.
    """
    path = Path(path)
    doc = _load_json(path)
    if not isinstance(doc, dict):
        raise AnnotationError(path, None, "a DeepFashion2 file must hold a JSON object")
    items = sorted((k for k in doc if k.startswith("item")),
                   key=lambda k: int(k[4:]) if k[4:].isdigit() else 10**9)
    for key in ("source", "pair_id"):
        if key not in doc:
            raise AnnotationError(path, None, f"missing top-level key '{key}'")
    file_name = f"{path.stem}.jpg"
    if image_size is None:
        folder = Path(images_dir) if images_dir else path.parent.parent / "image"
        image_size = _image_size(folder / file_name)
        if image_size is None:
            raise AnnotationError(path, None, f"cannot read the size of {folder / file_name} "
                                              "(DeepFashion2 files do not record it)")
    width, height = image_size
    image = AnnotatedImage(file_name, int(width), int(height),
                           id=int(path.stem) if path.stem.isdigit() else None,
                           extra={"source": doc["source"], "pair_id": doc["pair_id"]})
    for key in items:
        try:
            image.objects.append(_deepfashion2_item(doc[key], image, path, key))
        except (TypeError, KeyError) as exc:
            raise AnnotationError(path, key, f"malformed ({exc})") from None
    return image


def _deepfashion2_item(obj: Any, image: AnnotatedImage, path: Path, key: str) -> Annotation:
    if not isinstance(obj, dict):
        raise AnnotationError(path, key, "must be an object")
    missing = [k for k in ("category_id", "category_name", "bounding_box") if k not in obj]
    if missing:
        raise AnnotationError(path, key, f"missing key(s) {', '.join(missing)}")
    cid = obj["category_id"]
    if not isinstance(cid, int) or cid not in DEEPFASHION2_CATEGORIES:
        raise AnnotationError(path, key, f"unknown category_id {cid!r} (1-13)")
    name = DEEPFASHION2_CATEGORIES[cid]
    if str(obj["category_name"]).strip().lower() != name:
        raise AnnotationError(path, key, f"category_name {obj['category_name']!r} does not "
                                         f"match category_id {cid} ({name!r})")
    if not isinstance(obj["bounding_box"], list):
        raise AnnotationError(path, key, "bounding_box must be [x1, y1, x2, y2]")
    box = _check_box(obj["bounding_box"], image.width, image.height, path, key)
    seg = _check_polygons(obj.get("segmentation") or [], path, key) or None
    landmarks = obj.get("landmarks") or []
    if (not isinstance(landmarks, list) or len(landmarks) % 3
            or len(landmarks) > 3 * DEEPFASHION2_LANDMARKS[cid]
            or not all(_number(v) for v in landmarks)):
        raise AnnotationError(path, key, f"landmarks must be x, y, v number triples (at most "
                                         f"{DEEPFASHION2_LANDMARKS[cid]} for {name!r})")
    extra: dict[str, Any] = {k: obj[k] for k in _DF2_ITEM_FIELDS if k in obj}
    extra["landmarks"] = landmarks
    extra["deepfashion2_category_id"] = cid
    return Annotation(name, box, seg, extra=extra)


def deepfashion2_categories() -> list[Category]:
    """The 13 DeepFashion2 categories (ids 1-13, as in the official COCO conversion)."""
    return [Category(cid, name, "clothes") for cid, name in DEEPFASHION2_CATEGORIES.items()]


def read_deepfashion2(annos_dir: str | Path, *, images_dir: str | Path | None = None,
                      errors: list[AnnotationError] | None = None,
                      progress: Progress | None = None) -> AnnotatedDataset:
    """A DeepFashion2 ``annos`` folder as one dataset (see :func:`read_deepfashion2_file`)."""
    files = deepfashion2_files(annos_dir)
    images = []
    for n, f in enumerate(files, 1):
        try:
            images.append(read_deepfashion2_file(f, images_dir=images_dir))
        except AnnotationError as exc:
            _report(exc, errors)
        if progress:
            progress(n, len(files))
    return AnnotatedDataset(images, deepfashion2_categories(),
                            info={"description": "DeepFashion2, converted by fashionlens"})


def deepfashion2_to_coco_extra(dataset: AnnotatedDataset) -> AnnotatedDataset:
    """Reshape DeepFashion2 fields into the official COCO layout: per object ``style``,
    ``pair_id``, ``keypoints`` (294 x 3) and ``num_keypoints``; per image ``source`` and
    ``pair_id`` stay on the image. The other per-item fields (scale, occlusion, zoom_in,
    viewpoint) are kept as extra annotation keys."""
    images = []
    for im in dataset.images:
        objects = []
        for obj in im.objects:
            extra = dict(obj.extra)
            cid = extra.pop("deepfashion2_category_id", None)
            landmarks = extra.pop("landmarks", None)
            if cid is not None and landmarks is not None:
                extra["keypoints"] = deepfashion2_keypoints(cid, landmarks)
                extra["num_keypoints"] = sum(1 for v in landmarks[2::3] if v > 0)
            if "pair_id" in im.extra:
                extra["pair_id"] = im.extra["pair_id"]
            objects.append(replace(obj, extra=extra))
        images.append(replace(im, objects=objects))
    names = [str(i) for i in range(1, _DF2_POINTS + 1)]
    categories = [replace(c, extra={**c.extra, "keypoints": names, "skeleton": []})
                  for c in dataset.categories]
    return replace(dataset, images=images, categories=categories)
