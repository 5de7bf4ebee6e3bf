"""The one door for untrusted image bytes, shared by training and serving.

Every photo that enters fashionlens (an upload, a catalog row, a training file) goes through
:func:`open_image`, which

1. reads at most ``ImageLimits.max_bytes`` (a path's size is checked with ``stat`` first),
2. identifies the format from its magic bytes (never the file name) and accepts only JPEG,
   PNG and WebP,
3. reads the header lazily and refuses more than ``ImageLimits.max_pixels`` *before* any pixel
   is decoded,
4. for JPEG, lets libjpeg decode at 1/2, 1/4 or 1/8 scale when the model needs fewer pixels
   (``draft_size``),
5. decodes fully (truncated or corrupt data is refused, never padded with grey),
6. applies the EXIF orientation and returns an RGB image, transparency composited on white.

Anything wrong raises :class:`InvalidImage`, whose ``reason`` is a sentence for a person and
whose ``code`` is for a machine. :func:`preprocess` then turns a photo into the float32 CHW
array a model reads, with a :class:`Preprocessing` that travels inside every model bundle so
training and serving can never drift apart.

This module needs only the standard library, numpy and Pillow (no torch).
"""

from __future__ import annotations

import functools
import io
import os
import stat
import struct
from dataclasses import dataclass, fields
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

__all__ = [
    "ACCEPTED_FORMATS",
    "ERROR_CODES",
    "ImageLimits",
    "ImageSource",
    "InvalidImage",
    "Preprocessing",
    "fit_to_input",
    "open_image",
    "preprocess",
    "read_bytes",
    "sniff_format",
    "to_array",
]

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
ERROR_CODES = frozenset(
    {"empty", "too_large_bytes", "too_many_pixels", "unsupported_format", "corrupt", "unreadable"}
)

#: Raw bytes, a path, or a binary file object (read up to the byte limit, never beyond).
ImageSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO

# Pillow downsamples by an integer factor (box filter) before the final resampling whenever
# the image is at least this many times larger than the target: much faster, visually the same.
REDUCING_GAP = 3.0
WHITE = (255, 255, 255)
_SNIFF_BYTES = 1024


class InvalidImage(ValueError):
    """Raised for any input that is not a safe, decodable JPEG/PNG/WebP.

    ``reason`` is a short human sentence naming the problem; ``code`` is one of
    :data:`ERROR_CODES`: ``"empty"``, ``"too_large_bytes"``, ``"too_many_pixels"``,
    ``"unsupported_format"``, ``"corrupt"`` or ``"unreadable"`` (a path that cannot be read).
    """

    reason: str
    code: str

    def __init__(self, reason: str, code: str = "corrupt") -> None:
        super().__init__(reason, code)
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class ImageLimits:
    """What an untrusted image may cost before it is refused."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise ValueError(f"image limits must be positive, got {self}")


DEFAULT_LIMITS = ImageLimits()


# --------------------------------------------------------------------------- format sniffing

# (prefix, description, is an image format) — checked in order after JPEG/PNG/WebP.
_MAGIC: tuple[tuple[bytes, str, bool], ...] = (
    (b"GIF87a", "a GIF image", True),
    (b"GIF89a", "a GIF image", True),
    (b"II*\x00", "a TIFF image (or camera RAW)", True),
    (b"MM\x00*", "a TIFF image (or camera RAW)", True),
    (b"II+\x00", "a BigTIFF image", True),
    (b"MM\x00+", "a BigTIFF image", True),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image", True),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream", True),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image", True),
    (b"\xff\x0a", "a JPEG XL image", True),
    (b"8BPS", "a Photoshop document (PSD)", True),
    (b"\x00\x00\x01\x00", "a Windows icon (ICO)", True),
    (b"v/1\x01", "an OpenEXR image", True),
    (b"%!PS", "a PostScript document", False),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)", False),
    (b"PK\x05\x06", "a ZIP archive (or an Office document)", False),
    (b"\x1f\x8b", "a gzip archive", False),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", False),
    (b"Rar!\x1a\x07", "a RAR archive", False),
    (b"\xfd7zXZ\x00", "an xz archive", False),
    (b"BZh", "a bzip2 archive", False),
    (b"\x7fELF", "an executable program (ELF)", False),
    (b"MZ", "a Windows executable", False),
    (b"OggS", "an Ogg audio/video file", False),
    (b"ID3", "an MP3 audio file", False),
    (b"fLaC", "a FLAC audio file", False),
    (b"\x1aE\xdf\xa3", "a Matroska/WebM video", False),
    (b"SQLite format 3\x00", "an SQLite database", False),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_BASE64_IMAGE_PREFIXES = (b"/9j/", b"iVBORw0KGgo", b"UklGR")


def _describe(head: bytes) -> tuple[str, bool] | None:
    """Name what ``head`` looks like (description, is an image format), or None if unknown."""
    if b"%PDF-" in head:
        return "a PDF document", False
    if head[4:8] == b"ftyp":  # ISO base media file format (HEIF, AVIF, MP4, MOV, CR3, ...)
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "a HEIC/HEIF image (ISO-BMFF container)", True
        if brand in (b"avif", b"avis"):
            return "an AVIF image (ISO-BMFF container)", True
        if brand == b"crx ":
            return "a Canon CR3 RAW photo (ISO-BMFF container)", True
        name = brand.decode("latin-1").strip() or "?"
        return f"an ISO-BMFF media file such as MP4/MOV (brand '{name}')", False
    if head.startswith(b"RIFF"):
        form = head[8:12].decode("latin-1").strip() or "?"
        return f"a RIFF '{form}' file (audio/video), not WebP", False
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return "a BMP image", True
    for prefix, description, is_image in _MAGIC:
        if head.startswith(prefix):
            return description, is_image
    return _describe_text(head)


def _describe_text(head: bytes) -> tuple[str, bool] | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(text) - 3:  # not just a multi-byte character cut at the end
            return None
        decoded = text[: exc.start].decode("utf-8")
    if not decoded or not all(ch.isprintable() or ch in "\t\r\n\f" for ch in decoded):
        return None
    lower = decoded.lower()
    if lower.startswith("data:"):
        return "a data: URL (text); send the decoded image bytes instead", False
    if text.startswith(_BASE64_IMAGE_PREFIXES):
        return "base64-encoded text; send the decoded image bytes instead", False
    if "<svg" in lower:
        return "an SVG drawing (vector graphics)", True
    if lower.startswith(("<!doctype html", "<html", "<head", "<body")):
        return "an HTML page (text)", False
    if lower.startswith("<?xml") or lower.startswith("<"):
        return "an XML document (text)", False
    if lower.startswith(("{", "[")):
        return "JSON or other text data", False
    return "a text file", False


def sniff_format(head: bytes) -> str:
    """``"JPEG"``, ``"PNG"`` or ``"WEBP"`` from the magic bytes at the start of a file.

    Anything else raises :class:`InvalidImage` (``code="unsupported_format"``) naming what the
    bytes look like when that is recognisable (PDF, GIF, TIFF, BMP, HEIC, ZIP, HTML, ...).
    The file name or extension is never consulted.
    """
    head = bytes(head[:_SNIFF_BYTES])
    if not head:
        raise InvalidImage("file is empty", "empty")
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    described = _describe(head)
    if described is None:
        start = head[:8].hex(" ")
        reason = f"file is not a JPEG, PNG or WebP image (unrecognised data starting {start})"
    elif described[1]:
        reason = f"file is {described[0]}; only JPEG, PNG and WebP images are accepted"
    else:
        reason = f"file is {described[0]}, not an image"
    raise InvalidImage(reason, "unsupported_format")


# --------------------------------------------------------------------------------- reading


def _size_text(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def _too_large(n: int | None, limits: ImageLimits) -> InvalidImage:
    limit = _size_text(limits.max_bytes)
    if n is None:
        return InvalidImage(f"file is larger than the {limit} limit", "too_large_bytes")
    return InvalidImage(f"file is {_size_text(n)}, above the {limit} limit", "too_large_bytes")


def read_bytes(source: ImageSource, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """The raw bytes of ``source``, refusing empty input and anything above ``max_bytes``.

    ``source`` is raw bytes (or a bytes-like object), a path (``str`` or ``os.PathLike``), or a
    binary file object. A path's size is checked with ``stat`` before anything is read, and
    no more than ``max_bytes + 1`` bytes are ever read from a file or stream.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limits.max_bytes:
            raise _too_large(len(data), limits)
    elif isinstance(source, str | os.PathLike):
        data = _read_path(os.fspath(source), limits)
    elif hasattr(source, "read"):
        data = source.read(limits.max_bytes + 1)
        if not isinstance(data, bytes | bytearray):
            raise TypeError("image streams must be opened in binary mode")
        data = bytes(data)
        if len(data) > limits.max_bytes:
            raise _too_large(None, limits)
    else:
        raise TypeError(f"expected image bytes, a path or a binary file, got {type(source)!r}")
    if not data:
        raise InvalidImage("file is empty", "empty")
    return data


def _read_path(path: str | bytes, limits: ImageLimits) -> bytes:
    shown = os.fsdecode(path)
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode) and st.st_size <= limits.max_bytes:
            with open(path, "rb") as f:
                data = f.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise InvalidImage(f"file not found: {shown}", "unreadable") from None
    except (OSError, ValueError) as exc:  # permissions, I/O errors, NUL in the path
        detail = getattr(exc, "strerror", None) or str(exc)
        raise InvalidImage(f"cannot read file: {shown} ({detail})", "unreadable") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidImage(f"not a regular file: {shown}", "unreadable")
    if st.st_size > limits.max_bytes:
        raise _too_large(st.st_size, limits)
    if len(data) > limits.max_bytes:  # the file grew between stat and read
        raise _too_large(None, limits)
    return data


# --------------------------------------------------------------------------------- decoding

# Opening through the plugin classes (rather than Image.open) reads the header lazily exactly
# like Image.open does, but skips Pillow's process-wide MAX_IMAGE_PIXELS check: our own limit
# (per call, with a precise reason) is the only one that applies, and no global is mutated.
_OPENERS = {
    "JPEG": JpegImagePlugin.JpegImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}


def _webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP header (the WebP decoder allocates it when opened)."""
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack_from("<HH", data, 26)
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


#: More scans than any encoder writes (libjpeg's progressive default: 10; mozjpeg: < 64).
MAX_JPEG_SCANS = 100
#: Scans x pixels a JPEG may cost, as a multiple of the pixel limit (40 MP x 24 ≈ 1 s).
JPEG_SCAN_BUDGET = 24


def _jpeg_scans(data: bytes) -> int:
    """Upper bound of a JPEG's scans: its SOS markers. Entropy-coded bytes FF are stuffed as
    FF 00, so every FF DA is a real marker; only metadata (an EXIF thumbnail) adds a few."""
    return data.count(b"\xff\xda")


def _check_jpeg_scans(scans: int, size: tuple[int, int], limits: ImageLimits) -> None:
    """Refuse a progressive "scan bomb": libjpeg makes a full pass over the coefficients per
    scan and only warns about repeated ones, so decoding costs scans x pixels while each scan
    adds ~14 bytes to the file (a 58 KB file can hold a worker for minutes)."""
    w, h = size
    if scans > MAX_JPEG_SCANS or scans * w * h > JPEG_SCAN_BUDGET * limits.max_pixels:
        raise InvalidImage(f"JPEG has {scans} scans over {w}x{h} pixels, more decoding work "
                           "than any real photo needs: refused as a decompression bomb",
                           "corrupt")


#: More chunks than any PNG encoder writes (libpng: 8 KiB IDAT chunks, so a 25 MiB file holds
#: ~3,200); Pillow spends ~0.65 s per MB on a file of empty chunks.
MAX_PNG_CHUNKS = 50_000


def _check_png_chunks(data: bytes) -> None:
    """Refuse a PNG made of a huge number of tiny chunks (cheap to send, slow to decode)."""
    offset, count, end = 8, 0, len(data)
    while offset + 8 <= end:
        (length,) = struct.unpack_from(">I", data, offset)
        count += 1
        if count > MAX_PNG_CHUNKS:
            raise InvalidImage(f"PNG has more than {MAX_PNG_CHUNKS} chunks: refused as a "
                               "decompression bomb", "corrupt")
        if data[offset + 4:offset + 8] == b"IEND":
            return
        offset += 12 + length


def _check_pixels(size: tuple[int, int], limits: ImageLimits) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise InvalidImage(f"image data is truncated or corrupt: size is {w}x{h}", "corrupt")
    if w * h > limits.max_pixels:
        raise InvalidImage(
            f"image is {w}x{h} = {_pixels_text(w * h)}, above the "
            f"{_pixels_text(limits.max_pixels)} limit",
            "too_many_pixels",
        )


def _pixels_text(n: int) -> str:
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n:,} px"


def _corrupt(exc: BaseException) -> InvalidImage:
    detail = str(exc).strip() or type(exc).__name__
    return InvalidImage(f"image data is truncated or corrupt: {detail}", "corrupt")


def open_image(
    source: ImageSource,
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    draft_size: int | None = None,
) -> Image.Image:
    """Decode an untrusted photo into a fully loaded, upright RGB image.

    ``draft_size``: for JPEG, let libjpeg decode at the smallest 1/2, 1/4 or 1/8 scale whose
    *short* side is still at least ``draft_size`` pixels (much faster for big photos that are
    going to be shrunk to a model input anyway). Ignored for PNG and WebP.

    Raises :class:`InvalidImage` for anything that is not a safe, decodable JPEG/PNG/WebP.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone in this process asked Pillow to pad broken files with grey; we never do.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False for fashionlens")
    data = read_bytes(source, limits)
    fmt = sniff_format(data[:_SNIFF_BYTES])
    if fmt == "WEBP" and (canvas := _webp_canvas_size(data)) is not None:
        _check_pixels(canvas, limits)
    if fmt == "PNG":
        _check_png_chunks(data)
    try:
        img = _OPENERS[fmt](io.BytesIO(data))  # header only; no pixel is decoded yet
    except MemoryError:
        raise
    except Exception as exc:
        raise _corrupt(exc) from None
    _check_pixels(img.size, limits)
    if fmt == "JPEG":
        _check_jpeg_scans(_jpeg_scans(data), img.size, limits)
    if fmt == "JPEG" and draft_size is not None:
        if draft_size <= 0:
            raise ValueError(f"draft_size must be positive, got {draft_size}")
        # Pillow picks scale = largest of 8/4/2/1 with scale <= min(w // d, h // d), so both
        # sides, and hence the short one, stay >= draft_size.
        img.draft("RGB", (draft_size, draft_size))
    try:
        img.load()
    except MemoryError:
        raise
    except Exception as exc:  # OSError (truncated), SyntaxError, ValueError, zlib.error, ...
        raise _corrupt(exc) from None
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except MemoryError:
        raise
    except Exception:  # unreadable EXIF: keep the pixels as stored rather than refuse a photo
        pass
    return _to_rgb(img)


_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any decoded mode → RGB; transparency is composited onto white."""
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_to_uint8(img), "L").convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, WHITE)
        canvas.paste(rgba, mask=rgba)
        return canvas
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, RGBX, LAB, ...


def _to_uint8(img: Image.Image) -> np.ndarray:
    """16-bit or 32-bit greyscale → 8-bit, scaling the full range rather than clipping it."""
    a = np.asarray(img)
    if img.mode.startswith("I;16") or (img.mode == "I" and a.size and a.max() > 255):
        a = np.clip(a, 0, 65535).astype(np.uint32)
        return ((a + 128) // 257).astype(np.uint8)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------- preprocessing

_RESIZE_MODES = ("center_crop", "letterbox")


@dataclass(frozen=True)
class Preprocessing:
    """How a decoded photo becomes a model input; stored in every model bundle manifest.

    ``resize``: ``"center_crop"`` scales the short side to ``size`` and keeps the centre
    square; ``"letterbox"`` scales the long side to ``size`` and pads with ``pad_value``.
    Pixels are then mapped to ``(x / 255 - mean) / std`` per RGB channel.
    """

    size: int = 224
    resize: str = "center_crop"
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    pad_value: tuple[int, int, int] = (255, 255, 255)

    def __post_init__(self) -> None:
        # Normalise JSON lists to tuples so the config stays hashable and comparable.
        object.__setattr__(self, "size", int(self.size))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        object.__setattr__(self, "pad_value", tuple(int(v) for v in self.pad_value))
        if self.size <= 0:
            raise ValueError(f"size must be positive, got {self.size}")
        if self.resize not in _RESIZE_MODES:
            raise ValueError(f"resize must be one of {_RESIZE_MODES}, got {self.resize!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or len(self.pad_value) != 3:
            raise ValueError("mean, std and pad_value need exactly 3 values (R, G, B)")
        if any(s == 0 for s in self.std):
            raise ValueError(f"std must be non-zero, got {self.std}")
        if any(not 0 <= v <= 255 for v in self.pad_value):
            raise ValueError(f"pad_value must be 0..255, got {self.pad_value}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "resize": self.resize,
            "mean": list(self.mean),
            "std": list(self.std),
            "pad_value": list(self.pad_value),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            # A bundle asking for preprocessing this code does not know must not be served
            # with a silently different one.
            raise ValueError(f"unknown preprocessing options: {', '.join(unknown)}")
        return cls(**d)


def fit_to_input(img: Image.Image, cfg: Preprocessing) -> Image.Image:
    """Resize (bilinear) and crop or pad a photo to the ``size x size`` RGB model input."""
    if img.mode != "RGB":
        img = _to_rgb(img)
    s = cfg.size
    w, h = img.size
    if cfg.resize == "center_crop":
        if (w, h) == (s, s):
            return img
        side = min(w, h)
        left, top = (w - side) / 2, (h - side) / 2
        box = (left, top, left + side, top + side)  # resize and crop in one pass
        return img.resize((s, s), Image.Resampling.BILINEAR, box=box, reducing_gap=REDUCING_GAP)
    scale = s / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    if (nw, nh) == (s, s):
        return img
    canvas = Image.new("RGB", (s, s), cfg.pad_value)
    canvas.paste(img, ((s - nw) // 2, (s - nh) // 2))
    return canvas


@functools.lru_cache(maxsize=16)
def _scale_offset(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``a, b`` (float32, shape (3, 1, 1)) with ``a * x + b == (x/255 - mean)/std``."""
    m, s = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    scale = (1.0 / (255.0 * s)).astype(np.float32).reshape(3, 1, 1)
    offset = (-m / s).astype(np.float32).reshape(3, 1, 1)
    scale.flags.writeable = offset.flags.writeable = False
    return scale, offset


def to_array(img: Image.Image | np.ndarray, cfg: Preprocessing) -> np.ndarray:
    """RGB image (or HWC uint8 array) → C-contiguous float32 CHW ``(x / 255 - mean) / std``."""
    if isinstance(img, np.ndarray):
        hwc = img
    else:
        hwc = np.asarray(img if img.mode == "RGB" else _to_rgb(img))
    if hwc.dtype != np.uint8 or hwc.ndim != 3 or hwc.shape[2] != 3:
        raise ValueError(f"expected an RGB image / HWC uint8 array, got {hwc.dtype} {hwc.shape}")
    scale, offset = _scale_offset(cfg.mean, cfg.std)
    out = np.empty((3, hwc.shape[0], hwc.shape[1]), dtype=np.float32)
    # One fused multiply from the HWC bytes straight into the CHW output, then the offset.
    np.multiply(hwc.transpose(2, 0, 1), scale, out=out)
    out += offset
    return out


def preprocess(
    source: ImageSource, cfg: Preprocessing, *, limits: ImageLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """Untrusted photo → ``(3, size, size)`` float32 model input (raises InvalidImage)."""
    img = open_image(source, limits=limits, draft_size=cfg.size)
    return to_array(fit_to_input(img, cfg), cfg)
