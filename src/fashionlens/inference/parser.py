"""The garment parser on ONNX Runtime: photo → label map at the photo's own size → garments.

The bundle's network reads a letterboxed square (``Preprocessing(resize="letterbox")``: long
side scaled to ``size``, centred on a ``pad_value`` canvas) and returns per-class logits for
every input pixel. :class:`GarmentParser` cuts the photo's region out of those logits, resizes
them (bilinear) to the photo's own size, and takes the softmax: the label map is the argmax,
the per-pixel score its probability. Garment instances come from
:func:`fashionlens.garments.instances_from_label_map`; an instance's score is the mean
probability of its class over its pixels.

Very large photos are parsed at a working size of at most :data:`MAX_WORK_PIXELS` and the
label map and scores are then enlarged (nearest neighbour) to the photo's size, so memory stays
bounded whatever the upload.

numpy, Pillow, scipy and ONNX Runtime only: no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from fashionlens.core.results import ImageFailure
from fashionlens.garments import GarmentInstance, instances_from_label_map, render_overlay
from fashionlens.imaging import (
    DEFAULT_LIMITS,
    ImageLimits,
    InvalidImage,
    Preprocessing,
    fit_to_input,
    open_image,
    to_array,
)
from fashionlens.inference.bundle import ModelBundle
from fashionlens.inference.classifier import make_session

__all__ = ["MAX_WORK_PIXELS", "GarmentParser", "ParsedPhoto", "letterbox_region",
           "logits_to_photo"]

#: Largest number of pixels at which class probabilities are computed (4 MP ≈ 2450 x 1630).
MAX_WORK_PIXELS = 4_000_000
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


@dataclass
class ParsedPhoto:
    """One parsed photo: ``label_map`` (H, W) uint8 indexing ``classes``, ``scores`` (H, W)
    float32 (probability of the chosen class), the garment instances and the decoded photo."""

    image: str
    label_map: np.ndarray
    scores: np.ndarray
    instances: list[GarmentInstance]
    classes: Sequence[str]
    photo: Image.Image | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the photo and its label map."""
        return self.label_map.shape[1], self.label_map.shape[0]

    def mask_image(self) -> Image.Image:
        """The label map as an 8-bit greyscale PNG-ready image (value = class index)."""
        return Image.fromarray(self.label_map, "L")

    def overlay(self) -> Image.Image:
        if self.photo is None:
            raise ValueError("the photo was not kept; parse with keep_photo=True")
        return render_overlay(self.photo, self.label_map, self.instances, self.classes)

    def to_json(self, mask: str | None = None) -> dict:
        out: dict = {"image": self.image}
        if mask is not None:
            out["mask"] = mask
        out["garments"] = [g.to_dict() for g in self.instances]
        return out


def letterbox_region(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of a ``width x height`` photo inside the ``size`` square
    made by :func:`fashionlens.imaging.fit_to_input` in ``"letterbox"`` mode."""
    scale = size / max(width, height)
    nw, nh = max(1, round(width * scale)), max(1, round(height * scale))
    return (size - nw) // 2, (size - nh) // 2, nw, nh


def _softmax(z: np.ndarray, axis: int = 0) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def _work_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    if width * height <= max_pixels:
        return width, height
    f = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * f)), max(1, int(height * f))


def logits_to_photo(logits: np.ndarray, width: int, height: int, *,
                    max_pixels: int = MAX_WORK_PIXELS) -> tuple[np.ndarray, np.ndarray]:
    """Label map (H, W) uint8 and scores (H, W) float32 from one photo's letterboxed logits
    ``(C, S, S)``: the photo's region is cut out, resized bilinearly to the photo's size (or
    a working size for huge photos, enlarged by nearest neighbour afterwards) and softmaxed."""
    c, s, s2 = logits.shape
    if s != s2:
        raise ValueError(f"expected square logits (C, S, S), got {logits.shape}")
    left, top, nw, nh = letterbox_region(width, height, s)
    region = logits[:, top:top + nh, left:left + nw]
    ww, wh = _work_size(width, height, max_pixels)
    if (ww, wh) != (nw, nh):
        resized = np.empty((c, wh, ww), dtype=np.float32)
        for k in range(c):
            ch = Image.fromarray(np.ascontiguousarray(region[k], dtype=np.float32), "F")
            resized[k] = np.asarray(ch.resize((ww, wh), Image.Resampling.BILINEAR))
        region = resized
    else:
        region = np.array(region, dtype=np.float32)
    probs = _softmax(region, axis=0)
    label_map = probs.argmax(axis=0).astype(np.uint8)
    scores = np.take_along_axis(probs, label_map[None].astype(np.intp), axis=0)[0]
    if (ww, wh) != (width, height):
        label_map = np.asarray(Image.fromarray(label_map, "L").resize(
            (width, height), Image.Resampling.NEAREST))
        scores = np.asarray(Image.fromarray(scores, "F").resize(
            (width, height), Image.Resampling.NEAREST))
    return np.ascontiguousarray(label_map), np.ascontiguousarray(scores, dtype=np.float32)


class GarmentParser:
    """Outlines the garments a person wears in a photo (background, skin, hair and the garment
    classes of the bundle's ``classes``).

    ``threads`` is the number of ONNX Runtime intra-op threads. ``instance_options`` are passed
    to :func:`~fashionlens.garments.instances_from_label_map` (defaults: the bundle's
    ``instances`` section).
    """

    def __init__(self, bundle: ModelBundle | str | Path, *, variant: str = "default",
                 threads: int = 2, limits: ImageLimits = DEFAULT_LIMITS,
                 instance_options: dict | None = None):
        self.bundle = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
        self.variant = variant
        self.threads = threads
        self.limits = limits
        self.classes: list[str] = self.bundle.classes
        self.preprocessing: Preprocessing = self.bundle.preprocessing
        if self.preprocessing.resize != "letterbox":
            raise ValueError(f"a parser bundle needs letterbox preprocessing, got "
                             f"{self.preprocessing.resize!r}")
        opts = dict(self.bundle.manifest.get("instances", {}))
        opts.update(instance_options or {})
        self.instance_options = opts
        self.session = make_session(self.bundle.onnx_path(variant), threads)

    # -- arrays in, arrays out -------------------------------------------------------------
    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits ``(N, C, S, S)`` for preprocessed letterboxed input ``(N, 3, S, S)``."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        s = self.preprocessing.size
        if batch.ndim != 4 or batch.shape[1:] != (3, s, s):
            raise ValueError(f"expected (N, 3, {s}, {s}) float32, got {batch.shape}")
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def label_map(self, photo: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """Label map (H, W) uint8 and scores (H, W) float32 for a decoded RGB photo."""
        x = to_array(fit_to_input(photo, self.preprocessing), self.preprocessing)
        logits = self.run(x[None])[0]
        return logits_to_photo(logits, photo.width, photo.height)

    def parse_image(self, photo: Image.Image, *, name: str = "<image>",
                    keep_photo: bool = True) -> ParsedPhoto:
        """Parse a decoded RGB photo (use :meth:`parse` for untrusted files or bytes)."""
        label_map, scores = self.label_map(photo)
        instances = instances_from_label_map(label_map, self.classes, keep_masks=True,
                                             **self.instance_options)
        for inst in instances:
            inst.score = float(scores[inst.mask].mean())
        return ParsedPhoto(name, label_map, scores, instances, self.classes,
                           photo if keep_photo else None)

    # -- photos in, results out ------------------------------------------------------------
    def parse(self, sources: Iterable, *, keep_photo: bool = True
              ) -> Iterator[ParsedPhoto | ImageFailure]:
        """Results in input order; a bad photo yields an :class:`ImageFailure` and no stop."""
        for src in sources:
            name = _name(src)
            try:
                photo = open_image(src, limits=self.limits)
            except InvalidImage as exc:
                yield ImageFailure(name, exc.reason, exc.code)
                continue
            yield self.parse_image(photo, name=name, keep_photo=keep_photo)


def _name(source) -> str:
    if isinstance(source, str):
        return source
    return str(source) if isinstance(source, Path) else "<bytes>"
