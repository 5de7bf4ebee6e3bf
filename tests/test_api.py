"""REST API: analysis of a real photo, hostile uploads, overload, one error shape."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from fashionlens.api import create_app  # noqa: E402
from fashionlens.core.settings import get_settings  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "photos"


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8))


@pytest.fixture(scope="module")
def client():
    settings = get_settings()
    settings.max_image_bytes = 2 * 1024 * 1024
    with TestClient(create_app(settings)) as c:
        yield c


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.json()["models"]["classifier"] == "garment-classifier"


def test_analyze_a_real_photo(client):
    photo = EXAMPLES / "shoes-7cad8857.jpg"
    r = client.post("/v1/analyze", files={"image": ("x.jpg", photo.read_bytes(), "image/jpeg")},
                    data={"target_accuracy": "0.9", "top_k": "2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["label"] == "Shoes" and len(body["top"]) == 2
    assert body["hedged"]["target_accuracy"] == 0.9
    assert body["hedged"]["path"][0] == "garment"
    assert body["colours"]["colours"] and abs(
        sum(c["share"] for c in body["colours"]["colours"]) - 1) < 0.01
    assert isinstance(body["garments"], list)


@pytest.mark.parametrize("name,payload,status,code", [
    ("empty.jpg", b"", 400, "empty"),
    ("doc.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", 415,
     "unsupported_format"),
    ("bomb.png", _png_header(20_000, 20_000), 413, "too_many_pixels"),
    ("big.jpg", b"\xff\xd8\xff" + b"\0" * (3 * 1024 * 1024), 413, "too_large_bytes"),
])
def test_hostile_uploads_get_clear_fast_errors(client, name, payload, status, code):
    t = time.perf_counter()
    r = client.post("/v1/analyze", files={"image": (name, payload, "image/jpeg")})
    assert time.perf_counter() - t < 1.0
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]
    assert client.get("/healthz").status_code == 200  # still serving


def test_truncated_photo_is_422(client):
    data = (EXAMPLES / "dress-d1dd492a.jpg").read_bytes()
    r = client.post("/v1/analyze", files={"image": ("t.jpg", data[: len(data) // 2])})
    assert r.status_code == 422 and r.json()["error"]["code"] == "corrupt"


def test_missing_field_uses_the_same_error_shape(client):
    r = client.post("/v1/analyze", data={"top_k": "3"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"


def test_overload_answers_503_with_retry_after():
    settings = get_settings()
    app = create_app(settings, max_concurrent=1)
    with TestClient(app) as c:
        app.state.capacity._sem._value = 0  # every slot taken
        r = c.post("/v1/analyze", files={"image": ("x.jpg", b"\xff\xd8\xff\xe0")})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "overloaded"
