"""The untrusted-image door: format allowlist, limits, decoding, orientation, preprocessing."""

from __future__ import annotations

import csv
import io
import json
import pickle
import struct
import subprocess
import sys
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from pngs import png_bytes, png_chunk

from fashionlens.imaging import (
    ERROR_CODES,
    ImageLimits,
    InvalidImage,
    Preprocessing,
    fit_to_input,
    open_image,
    preprocess,
    read_bytes,
    sniff_format,
    to_array,
)

# ------------------------------------------------------------------------------- helpers


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_by_hand(width: int, height: int, raw: bytes, *, bit_depth: int = 8, colour: int = 2):
    """A PNG written byte by byte: signature, IHDR (correct CRC), one IDAT, IEND."""
    return png_bytes(width, height, raw, bit_depth=bit_depth, colour=colour)


def refused(source, code: str, **kwargs) -> InvalidImage:
    with pytest.raises(InvalidImage) as info:
        open_image(source, **kwargs)
    assert info.value.code == code, info.value.reason
    assert info.value.code in ERROR_CODES
    return info.value


def halves(size: tuple[int, int], first, second, *, vertical: bool = False) -> Image.Image:
    """An RGB image whose left (or top) half is ``first`` and the rest ``second``."""
    img = Image.new("RGB", size, second)
    w, h = size
    img.paste(first, (0, 0, w, h // 2) if vertical else (0, 0, w // 2, h))
    return img


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> Path:
    """The first real photo of the clothing data set."""
    with open(shared_data / "clothing" / "labels.csv", newline="") as f:
        first = next(csv.DictReader(f))
    return shared_data / "clothing" / first["image"]


# ------------------------------------------------------------------------------ real photos


def test_real_photo_decodes_to_loaded_rgb(photo: Path):
    img = open_image(photo)
    assert img.mode == "RGB"
    with Image.open(photo) as raw:
        assert sorted(img.size) == sorted(raw.size)
    pixels = np.asarray(img)
    assert pixels.shape == (img.height, img.width, 3) and pixels.std() > 1  # real content
    assert np.array_equal(np.asarray(open_image(photo.read_bytes())), pixels)
    assert np.array_equal(np.asarray(open_image(str(photo))), pixels)
    with open(photo, "rb") as f:
        assert np.array_equal(np.asarray(open_image(f)), pixels)


def test_preprocess_real_photo(photo: Path):
    x = preprocess(photo, Preprocessing())
    assert x.shape == (3, 224, 224) and x.dtype == np.float32 and x.flags.c_contiguous
    assert -1.0 <= x.min() < x.max() <= 1.0


# ---------------------------------------------------------------------------- format sniffing


def test_sniff_accepts_the_three_formats():
    img = Image.new("RGB", (4, 4), (1, 2, 3))
    assert sniff_format(encode(img, "JPEG")) == "JPEG"
    assert sniff_format(encode(img, "PNG")) == "PNG"
    assert sniff_format(encode(img, "WEBP")) == "WEBP"


def test_extension_is_ignored_png_named_jpg(tmp_path: Path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(Image.new("RGB", (5, 3), (10, 200, 30)), "PNG"))
    img = open_image(path)
    assert img.size == (5, 3)
    assert img.getpixel((2, 1)) == (10, 200, 30)  # lossless: it really went through PNG


def test_extension_is_ignored_pdf_named_jpg(tmp_path: Path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    err = refused(path, "unsupported_format")
    assert "PDF" in err.reason
    assert str(err) == err.reason


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("photo.jpg", b"not really")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: encode(Image.new("P", (8, 8)), "GIF"), "GIF"),
        (lambda: encode(Image.new("RGB", (8, 8)), "TIFF"), "TIFF"),
        (lambda: encode(Image.new("RGB", (8, 8)), "BMP"), "BMP"),
        (lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC"),
        (lambda: b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + b"\x00" * 64, "AVIF"),
        (lambda: b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64, "MP4"),
        (_zip_bytes, "ZIP"),
        (lambda: b"\xef\xbb\xbf  <!DOCTYPE html><html><body>hi</body></html>", "HTML"),
        (lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (lambda: b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 32, "WAVE"),
        (lambda: b"data:image/jpeg;base64,/9j/4AAQSkZJRg==", "decoded"),
        (lambda: b"/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQN", "base64"),
        (lambda: b"just some notes\nabout a dress\n", "text"),
    ],
)
def test_other_formats_are_refused_and_named(make, needle: str):
    """Formats Pillow could decode (GIF, TIFF, BMP) are refused too: it is an allowlist."""
    err = refused(make(), "unsupported_format")
    assert needle.lower() in err.reason.lower()


def test_random_garbage_is_refused():
    garbage = b"\x13\x37" + np.random.default_rng(0).bytes(4096)
    err = refused(garbage, "unsupported_format")
    assert "not a JPEG, PNG or WebP" in err.reason and "13 37" in err.reason


def test_garbage_behind_a_jpeg_signature_is_corrupt():
    data = b"\xff\xd8\xff\xe0" + np.random.default_rng(1).bytes(4096)
    assert refused(data, "corrupt").reason.startswith("image data is truncated or corrupt")


# ------------------------------------------------------------------------- empty / truncated


def test_zero_bytes(tmp_path: Path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    for source in (path, b"", io.BytesIO(b"")):
        assert refused(source, "empty").reason == "file is empty"
    with pytest.raises(InvalidImage) as info:
        sniff_format(b"")
    assert info.value.code == "empty"


def test_truncated_jpeg_is_corrupt(photo: Path):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = photo.read_bytes()
    err = refused(data[: len(data) // 2], "corrupt")
    assert err.reason.startswith("image data is truncated or corrupt: ")


def test_truncated_png_is_corrupt():
    noise = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "PNG")
    refused(data[: len(data) // 2], "corrupt")


def test_refuses_to_run_when_pillow_pads_truncated_files(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        open_image(encode(Image.new("RGB", (2, 2)), "PNG"))


# ---------------------------------------------------------------------------------- limits


def test_hand_made_png_is_valid():
    """The byte-by-byte PNG writer used for the bomb below produces real, decodable PNGs."""
    raw = b"".join(b"\x00" + bytes([200, 10, 20]) * 3 for _ in range(2))
    img = open_image(png_by_hand(3, 2, raw))
    assert img.size == (3, 2) and img.getpixel((1, 1)) == (200, 10, 20)


def test_pixel_bomb_is_refused_before_decoding(monkeypatch):
    bomb = png_by_hand(20000, 20000, b"\x00")  # header says 400 MP; the file is ~70 bytes
    assert len(bomb) < 100

    def must_not_decode(self, *args, **kwargs):
        raise AssertionError("pixel data was decoded for an over-limit image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", must_not_decode)
    monkeypatch.setattr(Image.Image, "load", must_not_decode)
    started = time.perf_counter()
    err = refused(bomb, "too_many_pixels")
    assert time.perf_counter() - started < 1.0
    assert err.reason == "image is 20000x20000 = 400.0 MP, above the 40.0 MP limit"


def test_webp_bomb_is_refused_before_the_decoder_allocates_its_canvas():
    # VP8X header announcing a 16383x16383 canvas, and nothing else.
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4
    vp8x += (16382).to_bytes(3, "little") + (16382).to_bytes(3, "little")
    data = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    assert "16383x16383" in refused(data, "too_many_pixels").reason


def test_pixel_limit_is_configurable():
    data = encode(Image.new("RGB", (100, 80)), "PNG")
    err = refused(data, "too_many_pixels", limits=ImageLimits(max_pixels=7_999))
    assert err.reason == "image is 100x80 = 8,000 px, above the 7,999 px limit"
    assert open_image(data, limits=ImageLimits(max_pixels=8_000)).size == (100, 80)


def test_pillow_global_bomb_limit_does_not_interfere(monkeypatch):
    """Only our per-call limit applies: no DecompressionBombWarning/Error from Pillow."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    data = encode(Image.new("RGB", (100, 100)), "JPEG")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_image(data).size == (100, 100)
        assert open_image(data, draft_size=20).size == (25, 25)


def test_byte_limit_for_bytes_and_streams():
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    limits = ImageLimits(max_bytes=len(data) - 1)
    err = refused(data, "too_large_bytes", limits=limits)
    assert "above the" in err.reason
    refused(io.BytesIO(data), "too_large_bytes", limits=limits)
    assert open_image(data, limits=ImageLimits(max_bytes=len(data))).size == (64, 64)


def test_stream_is_never_read_past_the_limit():
    requested: list[int] = []

    class Endless(io.RawIOBase):
        def read(self, n: int = -1) -> bytes:
            requested.append(n)
            assert n >= 0, "unbounded read"
            return b"\xff\xd8\xff" + b"\x00" * (n - 3)

    with pytest.raises(InvalidImage) as info:
        read_bytes(Endless(), ImageLimits(max_bytes=1000))
    assert info.value.code == "too_large_bytes"
    assert requested == [1001]


def test_path_size_is_checked_before_reading(tmp_path: Path):
    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as f:  # sparse: 100 MiB on paper, no disk used
        f.write(b"\xff\xd8\xff")
        f.truncate(100 * 1024 * 1024)
    started = time.perf_counter()
    err = refused(huge, "too_large_bytes")
    assert time.perf_counter() - started < 0.5
    assert err.reason == "file is 100.0 MiB, above the 25.0 MiB limit"


def test_unreadable_paths(tmp_path: Path):
    missing = tmp_path / "nope.jpg"
    err = refused(missing, "unreadable")
    assert err.reason.startswith("file not found: ") and "nope.jpg" in err.reason
    assert "not a regular file" in refused(tmp_path, "unreadable").reason


def test_wrong_argument_type_is_a_programming_error():
    with pytest.raises(TypeError):
        read_bytes(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        read_bytes(io.StringIO("text mode"))  # type: ignore[arg-type]


# ------------------------------------------------------------------ orientation and colour


def test_exif_orientation_6_is_applied():
    img = halves((40, 20), (255, 0, 0), (0, 0, 255))  # red left, blue right
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = encode(img, "JPEG", exif=exif.tobytes(), quality=95)
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.size == (40, 20)
    upright = open_image(data)
    assert upright.size == (20, 40)
    top, bottom = upright.getpixel((10, 5)), upright.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 50  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 50


def test_transparent_rgba_becomes_white():
    img = Image.new("RGBA", (3, 1))
    img.putdata([(0, 0, 0, 0), (255, 0, 0, 255), (0, 0, 255, 128)])
    out = open_image(encode(img, "PNG"))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((1, 0)) == (255, 0, 0)
    half = np.array(out.getpixel((2, 0)))
    assert np.all(np.abs(half - [127, 127, 255]) <= 1)  # blended with white, not black


def test_transparent_grey_alpha_becomes_white():
    img = Image.new("LA", (2, 1))
    img.putdata([(0, 0), (0, 255)])
    out = open_image(encode(img, "PNG"))
    assert out.getpixel((0, 0)) == (255, 255, 255) and out.getpixel((1, 0)) == (0, 0, 0)


def test_palette_png_with_transparency():
    img = Image.new("P", (2, 1))
    img.putpalette([0, 0, 0, 255, 0, 0])
    img.putdata([0, 1])
    data = encode(img, "PNG", transparency=0)
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.mode == "P" and "transparency" in stored.info
    out = open_image(data)
    assert out.getpixel((0, 0)) == (255, 255, 255) and out.getpixel((1, 0)) == (255, 0, 0)


def test_webp_lossless_and_with_alpha():
    noise = np.random.default_rng(3).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    out = open_image(encode(Image.fromarray(noise), "WEBP", lossless=True))
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), noise)

    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.paste((0, 128, 0, 255), (4, 0, 8, 8))
    out = open_image(encode(rgba, "WEBP", lossless=True))
    assert out.getpixel((1, 1)) == (255, 255, 255) and out.getpixel((6, 1)) == (0, 128, 0)


def test_16_bit_greyscale_png_is_scaled_not_clipped():
    values = np.array([[0, 32896, 65535]], dtype=np.uint16)  # 0, 128 * 257, 65535
    data = encode(Image.fromarray(values), "PNG")
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.mode.startswith("I")
    out = np.asarray(open_image(data))
    assert out.shape == (1, 3, 3)
    assert out[0, :, 0].tolist() == [0, 128, 255]
    assert np.all(out == out[..., :1])  # grey: equal channels


def test_cmyk_jpeg_becomes_rgb():
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.mode == "CMYK"
    out = open_image(data)
    assert out.mode == "RGB"
    r, g, b = out.getpixel((8, 8))
    assert r > 230 and g < 25 and b < 25


def test_greyscale_jpeg_becomes_rgb():
    out = open_image(encode(Image.new("L", (8, 8), 90), "JPEG"))
    assert out.mode == "RGB" and out.getpixel((4, 4)) == (90, 90, 90)


# ------------------------------------------------------------------------------ draft decode


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    img = Image.linear_gradient("L").resize((2000, 1500)).convert("RGB")
    return encode(img, "JPEG", quality=80)


def test_draft_decodes_smaller_but_keeps_short_side(big_jpeg: bytes):
    assert open_image(big_jpeg).size == (2000, 1500)
    small = open_image(big_jpeg, draft_size=224)
    assert 224 <= min(small.size) < 1500
    assert small.size == (500, 375)  # 1/4 scale: 1/8 would make the short side 188 < 224
    assert open_image(big_jpeg, draft_size=400).size == (1000, 750)  # 1/2
    assert open_image(big_jpeg, draft_size=1600).size == (2000, 1500)  # no reduction
    assert fit_to_input(small, Preprocessing(size=224)).size == (224, 224)


def test_draft_on_portrait_and_png():
    portrait = encode(Image.new("RGB", (1500, 2000), (9, 9, 9)), "JPEG")
    assert open_image(portrait, draft_size=224).size == (375, 500)
    png = encode(Image.new("RGB", (1500, 2000)), "PNG")
    assert open_image(png, draft_size=224).size == (1500, 2000)  # draft is JPEG-only


def test_preprocess_uses_draft_and_fits(big_jpeg: bytes):
    x = preprocess(big_jpeg, Preprocessing(size=96))
    assert x.shape == (3, 96, 96)


# --------------------------------------------------------------------------- preprocessing


def test_to_array_normalises_exactly():
    colour = (10, 128, 250)
    cfg = Preprocessing(size=8)
    x = preprocess(encode(Image.new("RGB", (20, 12), colour), "PNG"), cfg)
    assert x.shape == (3, 8, 8) and x.dtype == np.float32 and x.flags.c_contiguous
    for c, v in enumerate(colour):
        assert np.allclose(x[c], (v / 255 - 0.5) / 0.5, atol=1e-6)


def test_to_array_with_custom_mean_std_matches_reference():
    cfg = Preprocessing(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    hwc = np.random.default_rng(4).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    reference = (hwc / 255.0 - np.array(cfg.mean)) / np.array(cfg.std)
    x = to_array(Image.fromarray(hwc), cfg)
    assert x.shape == (3, 5, 7) and x.flags.c_contiguous
    assert np.allclose(x, reference.transpose(2, 0, 1), atol=1e-5)
    assert np.array_equal(to_array(hwc, cfg), x)  # arrays are accepted too
    with pytest.raises(ValueError):
        to_array(hwc.astype(np.float32), cfg)


def test_preprocessing_round_trips_through_json():
    cfg = Preprocessing(
        size=256, resize="letterbox", mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6), pad_value=(0, 0, 0)
    )
    back = Preprocessing.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and hash(back) == hash(cfg)
    assert isinstance(back.mean, tuple) and isinstance(back.pad_value, tuple)
    assert Preprocessing.from_dict({}) == Preprocessing()


def test_preprocessing_is_validated():
    with pytest.raises(ValueError, match="unknown preprocessing options: crop_pct"):
        Preprocessing.from_dict({"size": 224, "crop_pct": 0.875})
    with pytest.raises(ValueError):
        Preprocessing(resize="stretch")
    with pytest.raises(ValueError):
        Preprocessing(std=(0.5, 0.0, 0.5))
    with pytest.raises(ValueError):
        Preprocessing(mean=(0.5, 0.5))
    with pytest.raises(ValueError):
        Preprocessing(size=0)


def test_letterbox_pads_with_the_pad_value():
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    out = np.asarray(fit_to_input(img, Preprocessing(size=64, resize="letterbox")))
    assert out.shape == (64, 64, 3)
    assert np.all(out[:16] == 255) and np.all(out[48:] == 255)  # white bands above and below
    assert np.all(out[16:48] == [255, 0, 0])
    padded = fit_to_input(
        img.rotate(90, expand=True), Preprocessing(size=64, resize="letterbox", pad_value=(7, 8, 9))
    )
    arr = np.asarray(padded)
    assert np.all(arr[:, :16] == [7, 8, 9]) and np.all(arr[:, 48:] == [7, 8, 9])
    assert np.all(arr[:, 16:48] == [255, 0, 0])


def test_center_crop_keeps_the_centre():
    img = Image.new("RGB", (300, 100), (0, 0, 255))
    img.paste((255, 0, 0), (100, 0, 200, 100))
    img.paste((0, 255, 0), (200, 0, 300, 100))
    out = np.asarray(fit_to_input(img, Preprocessing(size=50)))
    assert out.shape == (50, 50, 3)
    assert np.all(np.abs(out[:, 2:-2].astype(int) - [255, 0, 0]) <= 2)
    assert out[..., 0].min() > 150  # no column is mostly blue or green


@pytest.mark.parametrize("size", [(1, 1), (1000, 3), (3, 1000), (224, 224), (50, 700)])
@pytest.mark.parametrize("mode", ["center_crop", "letterbox"])
def test_fit_to_input_always_gives_a_square_rgb(size, mode):
    out = fit_to_input(Image.new("L", size, 30), Preprocessing(size=32, resize=mode))
    assert out.mode == "RGB" and out.size == (32, 32)


# ---------------------------------------------------------------------- the error and imports


def test_invalid_image_is_a_value_error_and_pickles():
    err = InvalidImage("file is empty", code="empty")
    assert isinstance(err, ValueError) and str(err) == "file is empty"
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, back.code) == ("file is empty", "empty")


def test_imaging_does_not_import_torch():
    code = "import sys, fashionlens.imaging; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def _scan_bomb(scans: int, size: int = 512) -> bytes:
    """A progressive JPEG whose last scan is repeated ``scans`` times."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (120, 30, 200)).save(buf, format="JPEG", progressive=True)
    data = buf.getvalue()
    last = data.rfind(b"\xff\xda")
    scan = data[last:-2]  # the final scan up to EOI
    return data[:-2] + scan * scans + b"\xff\xd9"


def test_progressive_scan_bomb_is_refused_before_decoding():
    bomb = _scan_bomb(3000)
    t = time.perf_counter()
    with pytest.raises(InvalidImage) as err:
        open_image(bomb)
    assert time.perf_counter() - t < 0.1
    assert err.value.code == "corrupt" and "scans" in err.value.reason


def test_scan_budget_scales_with_pixels_and_ordinary_progressive_photos_pass():
    from fashionlens.imaging import ImageLimits

    assert open_image(_scan_bomb(0)).size == (512, 512)  # an ordinary progressive JPEG
    small_budget = ImageLimits(max_bytes=10**7, max_pixels=512 * 512)
    with pytest.raises(InvalidImage):  # 60 scans over the whole pixel allowance: too much
        open_image(_scan_bomb(50), limits=small_budget)
    assert open_image(_scan_bomb(5), limits=small_budget).size == (512, 512)


def test_png_of_countless_tiny_chunks_is_refused_fast():
    chunk = png_chunk
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"".join(b"\0" + b"\x80" * 24 for _ in range(8))))
    ordinary = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")
    assert open_image(ordinary).size == (8, 8)
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"zzZz", b"") * 60_000 + idat
            + chunk(b"IEND", b""))
    t = time.perf_counter()
    with pytest.raises(InvalidImage) as err:
        open_image(bomb)
    assert time.perf_counter() - t < 0.5 and "chunks" in err.value.reason
