"""Write the named seed files of fuzz/corpus/imaging/ (deterministic; a few KB each).

Real photos come from examples/photos, shrunk to 48 px so the fuzzer mutates small files; the
hostile cases (bombs, truncations, wrong formats, odd modes) are built byte by byte. Usage::

    .venv/bin/python fuzz/make_seed_corpus.py [--out fuzz/corpus/imaging]

Files the fuzzer adds later (hash names) are left alone; named seeds are rewritten.
"""

from __future__ import annotations

import argparse
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "examples" / "photos" / "t-shirt-c4210253.jpg"
PHOTO2 = REPO / "examples" / "photos" / "dress-d1dd492a.jpg"
SIDE = 48


def _photo(path: Path = PHOTO, side: int = SIDE) -> Image.Image:
    img = Image.open(path).convert("RGB")
    img.thumbnail((side, side))
    return img


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png(width: int, height: int, depth: int, colour: int, raw: bytes, *extra: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + b"".join(extra)
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def _jpeg_sof(width: int, height: int) -> bytes:
    """A JPEG that is only SOI + SOF0 claiming ``width x height`` (no scan data)."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"".join(
        bytes([i, 0x11, 0]) for i in (1, 2, 3))
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


# ------------------------------------------------------------------------------- the seeds

def real_jpeg() -> bytes:
    return _save(_photo(), "JPEG", quality=80)


def real_jpeg_grey() -> bytes:
    return _save(_photo(PHOTO2).convert("L"), "JPEG", quality=80)


def real_png() -> bytes:
    return _save(_photo(), "PNG", optimize=True)


def real_webp_lossy() -> bytes:
    return _save(_photo(), "WEBP", quality=70)


def real_webp_lossless() -> bytes:
    return _save(_photo(side=24), "WEBP", lossless=True)


def webp_alpha() -> bytes:
    img = _photo(side=24).convert("RGBA")
    img.putalpha(128)
    return _save(img, "WEBP", quality=70)


def webp_animated() -> bytes:
    a, b = _photo(side=24), _photo(PHOTO2, side=24).resize((24, 24))
    a = a.resize((24, 24))
    return _save(a, "WEBP", save_all=True, append_images=[b], duration=100, loop=0, quality=60)


def jpeg_exif_rotated() -> bytes:
    return _save(_photo(), "JPEG", quality=80, exif=_exif_orientation(6))


def jpeg_exif_corrupt() -> bytes:
    # An APP1 "Exif" segment whose TIFF header points far outside the segment.
    exif = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 0x7FFFFFF0) + b"\x01\x00" * 8
    data = real_jpeg()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:]


def jpeg_cmyk() -> bytes:
    return _save(_photo(side=32).convert("CMYK"), "JPEG", quality=80)


def jpeg_progressive() -> bytes:
    return _save(_photo(), "JPEG", quality=80, progressive=True)


def _jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, bytes) of each segment after SOI; a scan includes its entropy-coded data."""
    i, out = 2, []
    while i < len(data):
        marker = data[i + 1]
        if marker == 0xD9:
            out.append((marker, data[i:i + 2]))
            break
        j = i + 2 + struct.unpack_from(">H", data, i + 2)[0]
        if marker == 0xDA:
            while True:  # entropy-coded data runs to the next marker (not a stuffed FF00/RSTn)
                j = data.index(b"\xff", j)
                if data[j + 1] == 0 or 0xD0 <= data[j + 1] <= 0xD7:
                    j += 2
                    continue
                break
        out.append((marker, data[i:j]))
        i = j
    return out


def jpeg_scan_bomb(side: int = 2000, repeats: int = 400) -> bytes:
    """A progressive JPEG whose last (AC refinement) scan is repeated ``repeats`` times.

    libjpeg warns about the inconsistent progression and goes on: every scan is a pass over
    the whole coefficient buffer, so the decode time grows with scans x pixels while the
    file grows by 14 bytes a scan (here 4 MP x 400 scans: ~1.5 s from 15 KB).
    """
    segments = _jpeg_segments(_save(Image.new("L", (side, side), 128), "JPEG", quality=50,
                                    progressive=True))
    scans = [seg for marker, seg in segments if marker == 0xDA]
    head = b"".join(seg for marker, seg in segments if marker != 0xD9)
    return b"\xff\xd8" + head + scans[-1] * repeats + b"\xff\xd9"


def jpeg_truncated() -> bytes:
    data = real_jpeg()
    return data[: len(data) // 2]


def jpeg_header_only() -> bytes:
    return b"\xff\xd8\xff\xe0"


def jpeg_bomb_header() -> bytes:
    return _jpeg_sof(60_000, 60_000)


def jpeg_zero_size() -> bytes:
    return _jpeg_sof(0, 0)


def png_truncated() -> bytes:
    data = real_png()
    return data[: len(data) // 2]


def png_bomb_header() -> bytes:
    """IHDR claiming 50000 x 50000 (2.5 GP) with a tiny IDAT: refused before decoding."""
    return _png(50_000, 50_000, 8, 2, b"\0" * 8)


def png_palette_transparent() -> bytes:
    img = _photo(side=24).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return _save(img, "PNG", transparency=0)


def png_16bit_grey() -> bytes:
    w = h = 16
    raw = b"".join(b"\0" + b"".join(struct.pack(">H", (x * 4096 + y * 97) & 0xFFFF)
                                     for x in range(w)) for y in range(h))
    return _png(w, h, 16, 0, raw)


def png_16bit_rgba() -> bytes:
    w = h = 12
    raw = b"".join(b"\0" + b"".join(struct.pack(">HHHH", x * 5000, y * 5000, 30000, x * y * 400)
                                     for x in range(w)) for y in range(h))
    return _png(w, h, 16, 6, raw)


def png_grey_alpha() -> bytes:
    img = _photo(side=24).convert("LA")
    return _save(img, "PNG")


def png_1bit() -> bytes:
    return _save(_photo(side=32).convert("1"), "PNG")


def png_trns_rgb() -> bytes:
    """RGB with a tRNS colour key (transparency in info, mode RGB)."""
    w = h = 8
    raw = b"".join(b"\0" + b"".join(bytes([x * 30, y * 30, 0]) for x in range(w))
                   for y in range(h))
    return _png(w, h, 8, 2, raw, _chunk(b"tRNS", struct.pack(">HHH", 0, 0, 0)))


def png_bad_crc() -> bytes:
    data = bytearray(real_png())
    data[29] ^= 0xFF  # inside the IHDR CRC
    return bytes(data)


def png_animated() -> bytes:
    a = _photo(side=16).resize((16, 16))
    return _save(a, "PNG", save_all=True, append_images=[a.rotate(90)], duration=100)


def png_huge_ztxt() -> bytes:
    """A zTXt chunk that inflates to 8 MiB, past Pillow's 1 MiB text limit (8 KB of zlib)."""
    payload = b"Comment\x00\x00" + zlib.compress(b"A" * (8 * 1024 * 1024), 9)
    return _png(4, 4, 8, 2, (b"\0" + b"\0" * 12) * 4, _chunk(b"zTXt", payload))


def png_idat_bomb() -> bytes:
    """2000 x 2000 (within 4 MP) of zeros: 12 MB of pixels from ~12 KB of zlib."""
    w = h = 2000
    raw = (b"\0" + b"\0" * (w * 3)) * h
    return _png(w, h, 8, 2, raw)


def pdf_named_jpg() -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def gif() -> bytes:
    return _save(_photo(side=16), "GIF")


def bmp() -> bytes:
    return _save(_photo(side=16), "BMP")


def tiff() -> bytes:
    return _save(_photo(side=16), "TIFF")


def heic_header() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 32


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n'


def html() -> bytes:
    return b"<!doctype html><html><body>not a photo</body></html>\n"


def zero_bytes() -> bytes:
    return b""


def riff_wave() -> bytes:
    return b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\0" * 24


def webp_bomb_header() -> bytes:
    """A VP8X header claiming a 16384 x 16384 canvas with no image data."""
    vp8x = b"\x10\x00\x00\x00" + (16383).to_bytes(3, "little") + (16383).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_truncated() -> bytes:
    data = real_webp_lossy()
    return data[: len(data) // 2]


SEEDS: dict[str, Callable[[], bytes]] = {
    "real.jpg": real_jpeg,
    "real-grey.jpg": real_jpeg_grey,
    "real.png": real_png,
    "real-lossy.webp": real_webp_lossy,
    "real-lossless.webp": real_webp_lossless,
    "alpha.webp": webp_alpha,
    "animated.webp": webp_animated,
    "exif-rotated.jpg": jpeg_exif_rotated,
    "exif-corrupt.jpg": jpeg_exif_corrupt,
    "cmyk.jpg": jpeg_cmyk,
    "progressive.jpg": jpeg_progressive,
    "scan-bomb-400-scans.jpg": jpeg_scan_bomb,
    "truncated.jpg": jpeg_truncated,
    "header-only.jpg": jpeg_header_only,
    "bomb-60000x60000.jpg": jpeg_bomb_header,
    "zero-size.jpg": jpeg_zero_size,
    "truncated.png": png_truncated,
    "bomb-50000x50000.png": png_bomb_header,
    "palette-transparent.png": png_palette_transparent,
    "16bit-grey.png": png_16bit_grey,
    "16bit-rgba.png": png_16bit_rgba,
    "grey-alpha.png": png_grey_alpha,
    "1bit.png": png_1bit,
    "trns-rgb.png": png_trns_rgb,
    "bad-crc.png": png_bad_crc,
    "animated.png": png_animated,
    "ztxt-bomb.png": png_huge_ztxt,
    "idat-zeros-2000x2000.png": png_idat_bomb,
    "bomb-16384x16384.webp": webp_bomb_header,
    "truncated.webp": webp_truncated,
    "pdf-named.jpg": pdf_named_jpg,
    "gif.jpg": gif,
    "bmp.jpg": bmp,
    "tiff.jpg": tiff,
    "heic.jpg": heic_header,
    "svg.jpg": svg,
    "html.jpg": html,
    "wave.webp": riff_wave,
    "zero-bytes.jpg": zero_bytes,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "corpus" / "imaging"))
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    for name, make in SEEDS.items():
        data = make()
        (out / name).write_bytes(data)
        print(f"{name:<28}{len(data):>8} bytes")


if __name__ == "__main__":
    main()
