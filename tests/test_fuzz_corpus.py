"""Replay the fuzz corpus of the image door (fuzz/corpus/imaging) without atheris.

Every file goes through the harness's own ``TestOneInput`` (decode with small limits, then
both model preprocessings): only ``InvalidImage`` may come out of ``open_image`` (the harness
catches it), anything else fails here with its traceback, and each file takes under 1 s.
The named hostile seeds must be present and refused (or decoded) the way they should be.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from fashionlens.imaging import InvalidImage, open_image

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
CORPUS = FUZZ / "corpus" / "imaging"
FILES = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
MAX_SECONDS = 1.0
# Pillow warns (and goes on) about corrupt EXIF or APNG data, which many inputs have.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.*")
MAX_CORPUS_BYTES = 2 * 1024 * 1024

# Named seeds (fuzz/make_seed_corpus.py) and what the door must make of them: the
# InvalidImage code, or "ok" for a photo that decodes.
EXPECTED = {
    "zero-bytes.jpg": "empty",
    "pdf-named.jpg": "unsupported_format",
    "gif.jpg": "unsupported_format",
    "bmp.jpg": "unsupported_format",
    "tiff.jpg": "unsupported_format",
    "heic.jpg": "unsupported_format",
    "svg.jpg": "unsupported_format",
    "html.jpg": "unsupported_format",
    "wave.webp": "unsupported_format",
    "bomb-50000x50000.png": "too_many_pixels",
    "bomb-60000x60000.jpg": "too_many_pixels",
    "bomb-16384x16384.webp": "too_many_pixels",
    "truncated.jpg": "corrupt",
    "truncated.png": "corrupt",
    "truncated.webp": "corrupt",
    "header-only.jpg": "corrupt",
    "zero-size.jpg": "corrupt",
    "bad-crc.png": "corrupt",
    "ztxt-bomb.png": "corrupt",
    # A progressive JPEG repeating one scan 400 times: 4 MP x 400 full passes, ~1.5 s from
    # 15 KB (and hours from a 25 MiB upload). Must be refused before decoding.
    "scan-bomb-400-scans.jpg": "corrupt",
    "real.jpg": "ok",
    "real-grey.jpg": "ok",
    "real.png": "ok",
    "real-lossy.webp": "ok",
    "real-lossless.webp": "ok",
    "alpha.webp": "ok",
    "animated.webp": "ok",
    "animated.png": "ok",
    "exif-rotated.jpg": "ok",
    "exif-corrupt.jpg": "ok",
    "cmyk.jpg": "ok",
    "progressive.jpg": "ok",
    "palette-transparent.png": "ok",
    "16bit-grey.png": "ok",
    "16bit-rgba.png": "ok",
    "grey-alpha.png": "ok",
    "1bit.png": "ok",
    "trns-rgb.png": "ok",
    "idat-zeros-2000x2000.png": "ok",
}


def _load_harness():
    spec = importlib.util.spec_from_file_location("fuzz_imaging", FUZZ / "fuzz_imaging.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # atheris is optional: only running the file needs it
    return module


harness = _load_harness()


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_is_refused_cleanly_or_decoded(path: Path):
    data = path.read_bytes()
    t = time.perf_counter()
    harness.TestOneInput(data)  # raises anything but InvalidImage, which it handles
    elapsed = time.perf_counter() - t
    assert elapsed < MAX_SECONDS, f"{path.name} took {elapsed:.2f} s"


def test_corpus_holds_the_named_hostile_cases():
    names = {p.name for p in FILES}
    missing = sorted(set(EXPECTED) - names)
    assert not missing, f"seed files missing (run fuzz/make_seed_corpus.py): {missing}"
    assert len(FILES) > len(EXPECTED), "no fuzzer-found inputs beside the named seeds"
    assert sum(p.stat().st_size for p in FILES) < MAX_CORPUS_BYTES


@pytest.mark.parametrize("name,expected", sorted(EXPECTED.items()))
def test_named_seed_gets_the_right_answer(name: str, expected: str):
    data = (CORPUS / name).read_bytes()
    if expected == "ok":
        img = open_image(data, limits=harness.LIMITS)
        assert img.mode == "RGB" and img.width * img.height > 0
        return
    with pytest.raises(InvalidImage) as caught:
        open_image(data, limits=harness.LIMITS)
    assert caught.value.code == expected, caught.value.reason


def test_exif_rotation_is_applied():
    stored = open_image(CORPUS / "real.jpg", limits=harness.LIMITS).size
    rotated = open_image(CORPUS / "exif-rotated.jpg", limits=harness.LIMITS).size
    assert rotated == stored[::-1] and stored[0] != stored[1]


def test_transparency_is_composited_on_white():
    # trns-rgb.png: 8x8 RGB whose pixel (0, 0) is black, the tRNS transparent colour key.
    img = open_image(CORPUS / "trns-rgb.png", limits=harness.LIMITS)
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)
    assert img.getpixel((7, 7)) == (210, 210, 0)


def test_harness_lets_only_invalid_image_through(monkeypatch):
    """The harness swallows InvalidImage and nothing else (which the fuzzer reports)."""
    assert harness.check_one_input(b"") is False

    def leaky_door(*_args, **_kwargs):
        raise ValueError("a Pillow error leaking through the door")

    monkeypatch.setattr(harness, "open_image", leaky_door)
    with pytest.raises(ValueError, match="leaking"):
        harness.TestOneInput(b"\xff\xd8\xff")
