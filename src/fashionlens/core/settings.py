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


def _default_data_dir() -> Path:
    env = os.environ.get("FASHIONLENS_DATA")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return Path(xdg) / "fashionlens"


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    models_dir: Path = field(default_factory=_default_models_dir)
    threads: int = int(os.environ.get("FASHIONLENS_THREADS", "0")) or min(2, os.cpu_count() or 1)
    max_image_bytes: int = int(os.environ.get("FASHIONLENS_MAX_IMAGE_BYTES", 25 * 1024 * 1024))
    max_image_pixels: int = int(os.environ.get("FASHIONLENS_MAX_IMAGE_PIXELS", 40_000_000))
    target_accuracy: float = float(os.environ.get("FASHIONLENS_TARGET_ACCURACY", "0.95"))
    classifier_variant: str = os.environ.get("FASHIONLENS_CLASSIFIER_VARIANT", "default")
    # Where the server keeps what it writes (the demo catalog, audit jobs); never the models.
    data_dir: Path = field(default_factory=_default_data_dir)
    # Analyses running at once; requests beyond it get a fast 503 (0: twice the threads).
    max_concurrent: int = int(os.environ.get("FASHIONLENS_MAX_CONCURRENT", "0"))
    # Seconds one request may take to send its body, and an analysis to run (504 beyond).
    request_timeout: float = float(os.environ.get("FASHIONLENS_REQUEST_TIMEOUT", "30"))
    # Largest catalog file (CSV, JSONL or a ZIP with photos) the audit endpoint accepts.
    max_catalog_bytes: int = int(os.environ.get("FASHIONLENS_MAX_CATALOG_BYTES",
                                                200 * 1024 * 1024))
    # Whether catalogs uploaded to the server may name photos by http(s) URL (off: SSRF).
    allow_url_images: bool = field(default_factory=lambda: _flag(
        "FASHIONLENS_ALLOW_URL_IMAGES"))


def get_settings() -> Settings:
    return Settings()
