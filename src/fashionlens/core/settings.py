"""One settings object; every value can be overridden by a FASHIONLENS_* environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _default_models_dir() -> Path:
    env = os.environ.get("FASHIONLENS_MODELS")
    if env:
        return Path(env)
    # A source checkout keeps the shipped bundles in <repo>/models.
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "models" / "garment-classifier" / "manifest.json").exists():
            return parent / "models"
    return Path.cwd() / "models"


@dataclass
class Settings:
    models_dir: Path = field(default_factory=_default_models_dir)
    threads: int = int(os.environ.get("FASHIONLENS_THREADS", "0")) or min(2, os.cpu_count() or 1)
    max_image_bytes: int = int(os.environ.get("FASHIONLENS_MAX_IMAGE_BYTES", 25 * 1024 * 1024))
    max_image_pixels: int = int(os.environ.get("FASHIONLENS_MAX_IMAGE_PIXELS", 40_000_000))
    target_accuracy: float = float(os.environ.get("FASHIONLENS_TARGET_ACCURACY", "0.95"))
    classifier_variant: str = os.environ.get("FASHIONLENS_CLASSIFIER_VARIANT", "default")


def get_settings() -> Settings:
    return Settings()
