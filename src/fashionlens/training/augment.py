"""Augmentations that matter for clothes photos.

Geometry varies a lot between shop photos (flat-lays, hangers, worn, cropped): random crops and
zoom-out, rotations up to ±50°, shear, shifts and horizontal flips. Colour is *not* jittered by
default, because a garment's colour is a label the product reads later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torchvision.transforms.v2 as T
from PIL import Image

from fashionlens.imaging import Preprocessing, fit_to_input, to_array


@dataclass(frozen=True)
class AugmentConfig:
    crop_scale: tuple[float, float] = (0.35, 1.0)
    zoom_out: float = 1.6          # canvas up to this many times the photo (0 = off)
    zoom_out_p: float = 0.3
    rotation: float = 50.0         # degrees, both ways
    rotation_p: float = 0.5
    shear: float = 10.0            # degrees
    shift: float = 0.1             # fraction of the side
    hflip_p: float = 0.5
    colour_jitter: float = 0.0     # brightness/contrast only; hue never changes
    fill: tuple[int, int, int] = (255, 255, 255)

    def to_dict(self) -> dict:
        return asdict(self)


def train_transform(pre: Preprocessing, cfg: AugmentConfig = AugmentConfig()):
    """PIL RGB image → float32 CHW array, randomly augmented."""
    steps: list = []
    if cfg.zoom_out > 1.0:
        steps.append(T.RandomApply([T.RandomZoomOut(fill=cfg.fill, side_range=(1.0, cfg.zoom_out))],
                                   p=cfg.zoom_out_p))
    steps.append(T.RandomApply([T.RandomAffine(degrees=cfg.rotation, fill=cfg.fill,
                                               interpolation=T.InterpolationMode.BILINEAR)],
                               p=cfg.rotation_p))
    steps.append(T.RandomAffine(degrees=0, translate=(cfg.shift, cfg.shift), shear=cfg.shear,
                                fill=cfg.fill, interpolation=T.InterpolationMode.BILINEAR))
    steps.append(T.RandomResizedCrop(pre.size, scale=cfg.crop_scale, antialias=True))
    steps.append(T.RandomHorizontalFlip(cfg.hflip_p))
    if cfg.colour_jitter > 0:
        steps.append(T.ColorJitter(brightness=cfg.colour_jitter, contrast=cfg.colour_jitter))
    geometry = T.Compose(steps)

    def apply(img: Image.Image) -> np.ndarray:
        # Bring the photo near the model size first: augmenting 4x fewer pixels is cheaper.
        w, h = img.size
        scale = pre.size * 1.25 / min(w, h)
        if scale < 1:
            img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                             Image.BILINEAR)
        return to_array(geometry(img), pre)

    return apply


def eval_transform(pre: Preprocessing):
    """The serving preprocessing, exactly: what inference does to a decoded photo."""
    return lambda img: to_array(fit_to_input(img, pre), pre)
