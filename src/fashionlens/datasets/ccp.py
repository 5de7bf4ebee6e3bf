"""Clothing Co-Parsing (CCP): the folder layout, the label grouping and pixel counts.

Layout (as in ``../shared/data/ccp``)::

    photos/NNNN.jpg      outfit photos
    masks/NNNN.png       8-bit label maps for some photos (value i = labels.json[i], 0 = null)
    labels.json          the 59 label names
    image_tags.json      {"NNNN": [label names present]} for photos without a mask

The 59 CCP labels are grouped into a handful of learnable classes by
``fashionlens/data/ccp_grouping.json`` (``{"classes": [...], "mapping": {ccp label: class}}``,
class index = value in the grouped label map, 0 = background). ``docs/formats.md`` explains
the choice with the pixel counts that :func:`ccp_pixel_counts` reproduces.

numpy and Pillow only (plus ``fashionlens.garments`` for instances).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fashionlens.datasets.formats import (
    AnnotatedDataset,
    AnnotatedImage,
    Annotation,
    AnnotationError,
    Category,
    rle_encode,
)

__all__ = [
    "CCPSample",
    "Grouping",
    "PixelCounts",
    "ccp_pixel_counts",
    "ccp_to_dataset",
    "group_label_map",
    "instances_to_annotations",
    "iter_ccp",
    "load_grouping",
    "load_mask",
    "read_ccp_labels",
    "tags_from_mask",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CCPSample:
    """One CCP photo: its mask (``None`` for tag-only photos) and its tags.

    ``tags`` come from ``image_tags.json``; photos with a mask are not listed there, so their
    tags are empty unless :func:`iter_ccp` was asked for ``mask_tags=True``.
    """

    id: str
    photo: Path
    mask: Path | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grouping:
    """CCP label -> class. ``classes[i]`` is the class with value ``i`` in a grouped map."""

    classes: tuple[str, ...]
    mapping: Mapping[str, str] = field(hash=False)

    def __post_init__(self) -> None:
        if not self.classes or len(self.classes) > 255:
            raise ValueError("a grouping needs 1 to 255 classes")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("grouping classes must be unique")
        unknown = sorted({c for c in self.mapping.values() if c not in self.classes})
        if unknown:
            raise ValueError(f"grouping maps to classes not in its class list: {unknown}")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Grouping:
        return cls(tuple(doc["classes"]), dict(doc["mapping"]))

    def index(self, name: str) -> int:
        return self.classes.index(name)

    def lut(self, ccp_labels: Sequence[str]) -> np.ndarray:
        """256-entry uint8 table: CCP value -> class index (255 for values with no label)."""
        missing = [label for label in ccp_labels if label not in self.mapping]
        if missing:
            raise ValueError(f"the grouping does not cover CCP label(s) {missing}")
        if len(ccp_labels) > 255:
            raise ValueError("at most 255 CCP labels")
        table = np.full(256, 255, dtype=np.uint8)
        for value, label in enumerate(ccp_labels):
            table[value] = self.classes.index(self.mapping[label])
        return table


def load_grouping(path: str | Path | None = None) -> Grouping:
    """The grouping shipped with fashionlens, or one from a JSON file of the same shape."""
    if path is None:
        text = resources.files("fashionlens").joinpath("data/ccp_grouping.json").read_text(
            encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return Grouping.from_dict(json.loads(text))


def _as_grouping(grouping: Grouping | Mapping[str, Any] | None) -> Grouping:
    if grouping is None:
        return load_grouping()
    return grouping if isinstance(grouping, Grouping) else Grouping.from_dict(grouping)


def read_ccp_labels(root: str | Path) -> list[str]:
    """The label names of a CCP folder (``labels.json``; value i = name i)."""
    path = Path(root) / "labels.json"
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(path, None, "no such file") from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(path, None, f"not valid JSON ({exc})") from None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise AnnotationError(path, None, "must be a JSON list of label names")
    return labels


def load_mask(path: str | Path) -> np.ndarray:
    """A CCP mask as a 2-D uint8 array (the PNG's values, no palette applied)."""
    with Image.open(path) as img:
        if img.mode not in ("L", "P"):
            raise AnnotationError(path, None, f"expected an 8-bit label map, got mode {img.mode}")
        return np.asarray(img, dtype=np.uint8).copy()


def tags_from_mask(mask: np.ndarray, ccp_labels: Sequence[str]) -> tuple[str, ...]:
    """The label names present in a CCP mask, in label order."""
    return tuple(ccp_labels[v] for v in np.unique(mask).tolist() if v < len(ccp_labels))


def iter_ccp(root: str | Path, *, masked_only: bool = False,
             mask_tags: bool = False) -> Iterator[CCPSample]:
    """The photos of a CCP folder, sorted by name, with their mask path (or ``None``) and
    tags. ``masked_only`` skips tag-only photos; ``mask_tags`` fills the tags of masked photos
    from their masks (one PNG decode each)."""
    root = Path(root)
    photos = root / "photos"
    if not photos.is_dir():
        raise AnnotationError(root, None, "not a CCP folder (no photos/ inside)")
    labels = read_ccp_labels(root) if mask_tags else []
    tags_path = root / "image_tags.json"
    tags: dict[str, list[str]] = {}
    if tags_path.exists():
        try:
            tags = json.loads(tags_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise AnnotationError(tags_path, None, f"not valid JSON ({exc})") from None
        if not isinstance(tags, dict):
            raise AnnotationError(tags_path, None, "must map photo ids to lists of labels")
    for photo in sorted(p for p in photos.iterdir()
                        if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                        and not p.name.startswith(".")):
        mask = root / "masks" / f"{photo.stem}.png"
        has_mask = mask.is_file()
        if masked_only and not has_mask:
            continue
        sample_tags = tuple(tags.get(photo.stem, ()))
        if has_mask and mask_tags:
            sample_tags = tags_from_mask(load_mask(mask), labels)
        yield CCPSample(photo.stem, photo, mask if has_mask else None, sample_tags)


def group_label_map(mask: np.ndarray, ccp_labels: Sequence[str],
                    grouping: Grouping | Mapping[str, Any] | None = None) -> np.ndarray:
    """Map a CCP mask (values index ``ccp_labels``) to grouped class indices (uint8), with one
    table lookup. Values that name no label raise ``ValueError``."""
    g = _as_grouping(grouping)
    m = np.asarray(mask)
    if m.ndim != 2 or not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"mask must be a 2-D integer array, got {m.dtype} {m.shape}")
    if m.size and (int(m.min()) < 0 or int(m.max()) > 255):
        raise ValueError(f"mask values must be 0..255, found {int(m.min())}..{int(m.max())}")
    table = g.lut(ccp_labels)
    out = table[m.astype(np.uint8, copy=False)]
    if (out == 255).any():
        bad = sorted(set(np.unique(m[out == 255]).tolist()))
        raise ValueError(f"mask values {bad} name no CCP label ({len(ccp_labels)} labels)")
    return out


@dataclass
class PixelCounts:
    """Pixels (and masks) per CCP label and per grouped class, over ``masks`` label maps."""

    masks: int
    total_pixels: int
    labels: dict[str, int]
    label_masks: dict[str, int]
    groups: dict[str, int]
    group_masks: dict[str, int]
    grouping: Grouping = field(repr=False)

    def share(self, pixels: int) -> float:
        return pixels / self.total_pixels if self.total_pixels else 0.0

    def to_dict(self) -> dict:
        return {"masks": self.masks, "total_pixels": self.total_pixels,
                "labels": self.labels, "label_masks": self.label_masks,
                "groups": self.groups, "group_masks": self.group_masks}

    def markdown(self) -> str:
        """The grouping table of ``docs/formats.md``: one row per class with its pixels, its
        share of all pixels, the masks it appears in and its CCP labels with their pixels."""
        rows = ["| value | class | pixels | share | masks | CCP labels (pixels) |",
                "|---:|---|---:|---:|---:|---|"]
        for i, cls in enumerate(self.grouping.classes):
            members = [lab for lab in self.labels if self.grouping.mapping[lab] == cls]
            members.sort(key=lambda lab: -self.labels[lab])
            detail = ", ".join(f"{lab} ({self.labels[lab]:,})" for lab in members)
            rows.append(f"| {i} | {cls} | {self.groups[cls]:,} | "
                        f"{100 * self.share(self.groups[cls]):.2f}% | {self.group_masks[cls]} | "
                        f"{detail} |")
        return "\n".join(rows)


def ccp_pixel_counts(root: str | Path, grouping: Grouping | Mapping[str, Any] | None = None, *,
                     limit: int | None = None, progress: Progress | None = None) -> PixelCounts:
    """Count pixels per CCP label and per grouped class over the masks of a CCP folder
    (the first ``limit`` masks when given)."""
    g = _as_grouping(grouping)
    root = Path(root)
    labels = read_ccp_labels(root)
    table = g.lut(labels)
    masks = sorted((root / "masks").glob("*.png"))[:limit]
    pixels = np.zeros(256, dtype=np.int64)
    present = np.zeros(256, dtype=np.int64)
    group_present = np.zeros(len(g.classes), dtype=np.int64)
    for n, path in enumerate(masks, 1):
        counts = np.bincount(load_mask(path).ravel(), minlength=256)
        pixels += counts
        present += counts > 0
        seen = np.unique(table[np.flatnonzero(counts)])
        group_present[seen[seen < len(g.classes)]] += 1
        if progress:
            progress(n, len(masks))
    extra = np.flatnonzero(pixels[len(labels):])
    if extra.size:
        raise ValueError(f"masks hold values {(extra + len(labels)).tolist()} that name no label")
    groups = {c: 0 for c in g.classes}
    for value, label in enumerate(labels):
        groups[g.mapping[label]] += int(pixels[value])
    return PixelCounts(
        masks=len(masks), total_pixels=int(pixels.sum()),
        labels={lab: int(pixels[i]) for i, lab in enumerate(labels)},
        label_masks={lab: int(present[i]) for i, lab in enumerate(labels)},
        groups=groups,
        group_masks={c: int(group_present[i]) for i, c in enumerate(g.classes)},
        grouping=g)


def instances_to_annotations(instances: Sequence[Any], *,
                             with_scores: bool = False) -> list[Annotation]:
    """Garment instances as neutral annotations: the box kept exactly, the mask (when kept) as
    compressed RLE, the score only with ``with_scores`` (predictions, not ground truth)."""
    out = []
    for inst in instances:
        seg = rle_encode(inst.mask) if getattr(inst, "mask", None) is not None else None
        score = float(inst.score) if with_scores else None
        out.append(Annotation(inst.label, tuple(float(v) for v in inst.box), seg, score=score))
    return out


def ccp_to_dataset(
    root: str | Path,
    grouping: Grouping | Mapping[str, Any] | None = None,
    *,
    limit: int | None = None,
    skip: Sequence[str] = ("background", "skin", "hair"),
    min_area_frac: float = 0.0005,
    merge_gap_frac: float = 0.08,
    errors: list[AnnotationError] | None = None,
    progress: Progress | None = None,
) -> AnnotatedDataset:
    """Garment instances of every masked CCP photo (the first ``limit``) as a dataset.

    Categories are the grouping's classes minus ``skip``, with id = class value in the grouped
    map. ``file_name`` is relative to ``photos/``. A photo whose mask cannot be read, or whose
    size differs from its mask, is reported (``errors`` list, else raised) and skipped.
    """
    from fashionlens.garments import instances_from_label_map

    g = _as_grouping(grouping)
    root = Path(root)
    labels = read_ccp_labels(root)
    g.lut(labels)  # fail early when the grouping does not cover the labels
    samples = list(iter_ccp(root, masked_only=True))[:limit]
    images = []
    for n, sample in enumerate(samples, 1):
        try:
            assert sample.mask is not None
            try:
                mask = load_mask(sample.mask)
            except OSError as exc:
                raise AnnotationError(sample.mask, None, f"cannot read the mask ({exc})") from None
            try:
                with Image.open(sample.photo) as photo:
                    size = photo.size
            except OSError as exc:
                raise AnnotationError(sample.photo, None,
                                      f"cannot read the photo ({exc})") from None
            if size != (mask.shape[1], mask.shape[0]):
                raise AnnotationError(sample.mask, None,
                                      f"mask is {mask.shape[1]}x{mask.shape[0]}, photo is "
                                      f"{size[0]}x{size[1]}")
            try:
                grouped = group_label_map(mask, labels, g)
            except ValueError as exc:
                raise AnnotationError(sample.mask, None, str(exc)) from None
            instances = instances_from_label_map(grouped, g.classes, skip=skip,
                                                 min_area_frac=min_area_frac,
                                                 merge_gap_frac=merge_gap_frac)
            images.append(AnnotatedImage(sample.photo.name, size[0], size[1],
                                         instances_to_annotations(instances),
                                         id=int(sample.id) if sample.id.isdigit() else None))
        except AnnotationError as exc:
            if errors is None:
                raise
            errors.append(exc)
        if progress:
            progress(n, len(samples))
    categories = [Category(i, c, "garment") for i, c in enumerate(g.classes) if c not in skip]
    info = {"description": "Clothing Co-Parsing (CCP) garment instances, converted by "
                           "fashionlens from the grouped label maps",
            "url": "https://github.com/bearpaw/clothing-co-parsing"}
    return AnnotatedDataset(images, categories, info=info,
                            licenses=[{"id": 1, "name": "Apache-2.0",
                                       "url": "https://www.apache.org/licenses/LICENSE-2.0"}])
