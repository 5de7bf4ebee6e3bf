"""Garment instances from a label map (one class index per pixel), and an overlay picture.

A segmentation model (or a CCP ground-truth mask after :func:`group_label_map`) gives one class
per pixel. :func:`instances_from_label_map` turns that into garments: connected regions per
class, with a box, an area and a score.

Conventions:

- ``box`` is ``(x1, y1, x2, y2)`` in integer pixel coordinates with the end **exclusive**: the
  tight box of a region covering columns 10..19 has ``x1 = 10, x2 = 20``. Width is ``x2 - x1``.
  The same convention is used by every converter in ``fashionlens.datasets.formats``.
- Regions are 8-connected (diagonal neighbours touch).
- Fragments smaller than ``min_area_frac`` of the image are specks and are dropped first.
- Fragments of one garment class are merged when they are near each other *and* the straight
  gap between their nearest points is covered by the person (non-background pixels only: a hand,
  a bag, the top under an open coat). A skirt split by a hand or a bag, or a coat split by the
  dress under it, is one instance. Fragments with background between them stay apart, so the
  jeans of two people standing side by side stay two instances even when their tops touch;
  where one person stands in front of another, the garment of the one behind is re-joined
  across the one in front. A label map carries no person identity, so two same-class garments
  that *touch* (two people in jeans, leg against leg) are one region.
- Classes in ``keep_apart`` (by default footwear and accessories) are never merged: two shoes,
  or earrings and sunglasses either side of a face, are separate objects.

numpy, scipy.ndimage and Pillow only.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

__all__ = [
    "DEFAULT_PALETTE",
    "GarmentInstance",
    "class_colours",
    "instances_from_label_map",
    "mask_overlay",
    "render_overlay",
    "shows_person",
]

_EIGHT = np.ones((3, 3), dtype=bool)

#: Colours for the class names of the CCP grouping; other names get generated colours.
DEFAULT_PALETTE: dict[str, tuple[int, int, int]] = {
    "skin": (224, 172, 105),
    "hair": (110, 70, 45),
    "upper-body": (230, 25, 75),
    "outerwear": (245, 130, 48),
    "dress": (145, 30, 180),
    "lower-body": (0, 130, 200),
    "legwear": (70, 220, 220),
    "footwear": (60, 180, 75),
    "bag": (255, 225, 25),
    "accessories": (240, 50, 230),
}


@dataclass
class GarmentInstance:
    """One garment: class name, score in [0, 1], box ``(x1, y1, x2, y2)`` (ints, end exclusive),
    area in pixels, the class index in the label map and, optionally, its boolean mask."""

    label: str
    score: float
    box: tuple[int, int, int, int]
    area: int
    class_index: int = -1
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-ready fields (without the mask)."""
        return {"label": self.label, "score": round(float(self.score), 4),
                "box": [int(v) for v in self.box], "area": int(self.area)}


def instances_from_label_map(
    label_map: np.ndarray,
    classes: Sequence[str],
    *,
    probs: np.ndarray | None = None,
    min_area_frac: float = 0.0005,
    skip: Collection[str] = ("background", "skin", "hair"),
    merge_gap_frac: float = 0.08,
    keep_apart: Collection[str] = ("footwear", "accessories"),
    background: str = "background",
    keep_masks: bool = True,
) -> list[GarmentInstance]:
    """Garment instances of a label map ``(H, W)`` whose values index ``classes``.

    - ``probs``: optional class probabilities ``(H, W, len(classes))``; an instance's score is
      the mean probability of its class over its pixels (1.0 without ``probs``).
    - ``min_area_frac``: fragments smaller than this fraction of the image are dropped (at
      448 x 296 px, the default 0.0005 is 67 px).
    - ``skip``: classes that are not garments (no instances).
    - ``merge_gap_frac``: fragments of one class are merged when the gap between them is at
      most this fraction of the image's long side (36 px at 448 px for the default 0.08) and a
      straight line across the gap, between their nearest points, meets no ``background``
      pixel. 0 disables merging.
    - ``keep_apart``: classes whose separate regions are never merged.

    Returns instances sorted by class index, then by area (largest first).
    """
    lm = np.asarray(label_map)
    if lm.ndim != 2:
        raise ValueError(f"label_map must be 2-D (H, W), got shape {lm.shape}")
    if not np.issubdtype(lm.dtype, np.integer):
        raise ValueError(f"label_map must hold integers, got {lm.dtype}")
    h, w = lm.shape
    n_classes = len(classes)
    if lm.size and (int(lm.min()) < 0 or int(lm.max()) >= n_classes):
        raise ValueError(f"label_map values must be in 0..{n_classes - 1}, "
                         f"found {int(lm.min())}..{int(lm.max())}")
    if probs is not None:
        probs = np.asarray(probs)
        if probs.shape != (h, w, n_classes):
            raise ValueError(f"probs must have shape {(h, w, n_classes)}, got {probs.shape}")
    if not 0 <= min_area_frac < 1:
        raise ValueError("min_area_frac must be in [0, 1)")
    min_area = max(1, math.ceil(min_area_frac * h * w))
    max_gap = merge_gap_frac * max(h, w)
    bg = classes.index(background) if background in classes else None
    person = lm != bg if bg is not None else np.ones(lm.shape, dtype=bool)

    out: list[GarmentInstance] = []
    for c in np.unique(lm).tolist():
        name = classes[c]
        if name in skip:
            continue
        region = lm == c
        comp, n = ndimage.label(region, structure=_EIGHT)
        if n == 0:
            continue
        sizes = np.bincount(comp.ravel(), minlength=n + 1)
        keep = sizes >= min_area
        keep[0] = False
        if not keep.any():
            continue
        ids = np.flatnonzero(keep)
        group = np.zeros(n + 1, dtype=np.int64)  # fragment -> instance number (0 = speck)
        group[ids] = np.arange(1, ids.size + 1)
        if max_gap >= 1 and name not in keep_apart and ids.size > 1:
            group[ids] = _merge_fragments(comp, ids, person, max_gap)
        merged = group[comp]
        areas = np.bincount(merged.ravel())
        channel = probs[..., c] if probs is not None else None
        for k, sl in enumerate(ndimage.find_objects(merged), 1):
            if sl is None or areas[k] < min_area:
                continue
            ys, xs = sl
            mask = merged == k
            score = float(channel[mask].mean()) if channel is not None else 1.0
            out.append(GarmentInstance(
                label=name, score=score, box=(xs.start, ys.start, xs.stop, ys.stop),
                area=int(areas[k]), class_index=c, mask=mask if keep_masks else None))
    out.sort(key=lambda g: (g.class_index, -g.area, g.box[1], g.box[0]))
    return out


def _merge_fragments(comp: np.ndarray, ids: np.ndarray, person: np.ndarray,
                     max_gap: float) -> np.ndarray:
    """Instance numbers (1..) for the fragments ``ids`` of one class: fragments whose nearest
    points are at most ``max_gap`` apart, with a straight line between them that stays on the
    person, share a number (union-find over the pairs)."""
    parent = list(range(ids.size))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    slices = ndimage.find_objects(comp)
    h, w = comp.shape
    pad = math.ceil(max_gap)
    for a in range(ids.size):
        sa = slices[ids[a] - 1]
        y0, y1 = max(0, sa[0].start - pad), min(h, sa[0].stop + pad)
        x0, x1 = max(0, sa[1].start - pad), min(w, sa[1].stop + pad)
        window = comp[y0:y1, x0:x1]
        dist = near = None
        for b in range(a + 1, ids.size):
            if find(a) == find(b):
                continue
            sb = slices[ids[b] - 1]
            if (sb[0].start >= y1 or sb[0].stop <= y0 or sb[1].start >= x1
                    or sb[1].stop <= x0):
                continue  # too far apart to bridge
            if dist is None:  # distance to fragment a, and its nearest pixel, in the window
                dist, near = ndimage.distance_transform_edt(window != ids[a],
                                                            return_indices=True)
            by, bx = np.nonzero(window == ids[b])
            if by.size == 0:
                continue
            d = dist[by, bx]
            closest = float(d.min())
            if closest > max_gap:
                continue
            cand = np.flatnonzero(d <= closest + 1.5)
            for k in cand[:: max(1, cand.size // 16)]:
                ya, xa = near[0][by[k], bx[k]], near[1][by[k], bx[k]]
                steps = int(max(abs(by[k] - ya), abs(bx[k] - xa))) + 1
                ys = np.rint(np.linspace(ya, by[k], steps)).astype(int) + y0
                xs = np.rint(np.linspace(xa, bx[k], steps)).astype(int) + x0
                if person[ys, xs].all():
                    parent[find(b)] = find(a)
                    break
    roots = [find(i) for i in range(ids.size)]
    numbers = {r: i + 1 for i, r in enumerate(dict.fromkeys(roots))}
    return np.array([numbers[r] for r in roots], dtype=np.int64)


def class_colours(classes: Sequence[str],
                  palette: Mapping[str, tuple[int, int, int]] | None = None) -> np.ndarray:
    """``(len(classes), 3)`` uint8 colours: from ``palette`` (default :data:`DEFAULT_PALETTE`),
    else evenly spread hues."""
    palette = DEFAULT_PALETTE if palette is None else palette
    out = np.zeros((len(classes), 3), dtype=np.uint8)
    for i, name in enumerate(classes):
        if name in palette:
            out[i] = palette[name]
        else:
            hue = (i * 0.618033988749895) % 1.0
            out[i] = [round(255 * v) for v in colorsys.hsv_to_rgb(hue, 0.75, 0.95)]
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def render_overlay(
    rgb: Image.Image | np.ndarray,
    label_map: np.ndarray,
    instances: Sequence[GarmentInstance],
    classes: Sequence[str],
    *,
    alpha: float = 0.45,
    palette: Mapping[str, tuple[int, int, int]] | None = None,
    background: str = "background",
) -> Image.Image:
    """The photo with semi-transparent class colours (background left as is), a box per
    instance in its class colour and a ``label score`` tag above (or inside) each box."""
    base = np.asarray(rgb.convert("RGB") if isinstance(rgb, Image.Image) else rgb)
    if base.ndim != 3 or base.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3), got shape {base.shape}")
    lm = np.asarray(label_map)
    if lm.shape != base.shape[:2]:
        raise ValueError(f"label_map shape {lm.shape} differs from image {base.shape[:2]}")
    if lm.size and (int(lm.min()) < 0 or int(lm.max()) >= len(classes)):
        raise ValueError(f"label_map values must be in 0..{len(classes) - 1}")
    colours = class_colours(classes, palette)
    tinted = base.astype(np.float32)
    painted = lm != classes.index(background) if background in classes else np.ones_like(
        lm, dtype=bool)
    tinted[painted] = (1 - alpha) * tinted[painted] + alpha * colours[lm[painted]]
    img = Image.fromarray(np.clip(tinted + 0.5, 0, 255).astype(np.uint8), "RGB")

    h, w = lm.shape
    draw = ImageDraw.Draw(img)
    line = max(1, round(min(h, w) / 200))
    font = _font(max(10, round(min(h, w) / 30)))
    placed: list[tuple[int, int, int, int]] = []
    for inst in instances:
        idx = inst.class_index if 0 <= inst.class_index < len(classes) else (
            classes.index(inst.label) if inst.label in classes else 0)
        colour = tuple(int(v) for v in colours[idx])
        x1, y1, x2, y2 = inst.box
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), outline=colour, width=line)
        text = f"{inst.label} {inst.score:.2f}"
        tx1, ty1, tx2, ty2 = draw.textbbox((0, 0), text, font=font)
        tw, th = tx2 - tx1 + 4, ty2 - ty1 + 4
        left = min(max(0, x1), max(0, w - tw))
        top = y1 - th if y1 - th >= 0 else y1
        for _ in range(len(placed)):  # step down past tags already drawn there
            hit = [p for p in placed if left < p[2] and p[0] < left + tw
                   and top < p[3] and p[1] < top + th]
            if not hit:
                break
            top = max(p[3] for p in hit)
        placed.append((left, top, left + tw, top + th))
        draw.rectangle((left, top, left + tw - 1, top + th - 1), fill=colour)
        luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
        draw.text((left + 2 - tx1, top + 2 - ty1), text, fill=ink, font=font)
    return img


def mask_overlay(label_map: np.ndarray, classes: Sequence[str], *, max_side: int = 512,
                 alpha: float = 0.5, palette: Mapping[str, tuple[int, int, int]] | None = None,
                 background: str = "background") -> Image.Image:
    """A transparent RGBA picture of ``label_map`` in class colours (background clear), at most
    ``max_side`` pixels on its long side, to lay over the photo (e.g. in a web page)."""
    lm = np.asarray(label_map)
    if lm.ndim != 2:
        raise ValueError(f"label_map must be (H, W), got shape {lm.shape}")
    h, w = lm.shape
    scale = min(1.0, max_side / max(h, w, 1))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        lm = np.asarray(Image.fromarray(lm.astype(np.uint8), "L").resize(size, Image.NEAREST))
    rgba = np.zeros((*lm.shape, 4), dtype=np.uint8)
    rgba[..., :3] = class_colours(classes, palette)[lm]
    painted = lm != classes.index(background) if background in classes else np.ones_like(
        lm, dtype=bool)
    rgba[..., 3] = np.where(painted, round(255 * alpha), 0)
    return Image.fromarray(rgba, "RGBA")


#: Shares of the photo the parser must call hair and skin for :func:`shows_person`. Product
#: photos (flat lays, hangers, mannequins) make a parser trained on outfit photos fire garment
#: classes, but rarely show hair. Chosen for the shipped parser with
#: ``benchmarks/look_detection.py`` (300 clothing-set product photos, 300 CCP outfit photos
#: without masks, all parsed at ingest's 320 px): the fewest product photos called looks, then
#: the most outfit photos found, gives 0.3 % and 83.0 % (hair 0.3 % / skin 1 %, the values
#: for the previous parser: 1.0 % and 85.0 %).
PERSON_MIN_HAIR = 0.0035
PERSON_MIN_SKIN = 0.005


def shows_person(label_map: np.ndarray, classes: Sequence[str]) -> bool:
    """Whether a parsed photo shows someone wearing the clothes (an outfit photo, a look)
    rather than a product shot; True for a parser without ``hair``/``skin`` classes."""
    classes = list(classes)
    if "hair" not in classes or "skin" not in classes:
        return True
    lm = np.asarray(label_map)
    n = max(1, lm.size)
    hair = float(np.count_nonzero(lm == classes.index("hair"))) / n
    skin = float(np.count_nonzero(lm == classes.index("skin"))) / n
    return hair >= PERSON_MIN_HAIR and skin >= PERSON_MIN_SKIN
