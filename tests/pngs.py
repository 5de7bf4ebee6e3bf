"""PNG bytes written by hand, for tests of hostile and unusual input."""

from __future__ import annotations

import struct
import zlib


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and a correct CRC."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(width: int, height: int, raw: bytes, *, bit_depth: int = 8,
              colour: int = 2) -> bytes:
    """Signature, IHDR claiming ``width`` x ``height``, one IDAT of ``raw`` compressed, IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def png_header(width: int, height: int) -> bytes:
    """A tiny file whose header claims ``width`` x ``height`` pixels (a pixel bomb)."""
    return png_bytes(width, height, b"\0" * 16)
