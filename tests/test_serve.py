"""`fashionlens serve` as a user runs it: a real process on a real port, the demo catalog built
on first start, and serving that never imports torch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pngs import png_header

REPO = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("fashionlens")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_without_db_builds_and_serves_the_demo_catalog(tmp_path):
    port = _free_port()
    env = {**os.environ, "FASHIONLENS_THREADS": "1"}
    proc = subprocess.Popen([str(EXE), "serve", "--port", str(port), "--data", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        health = None
        for _ in range(240):
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stdout.read()}")
            try:
                health = httpx.get(base + "/healthz", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.25)
        assert health and health["catalog"] == {"items": 28, "looks": 12}
        assert (tmp_path / "demo-catalog" / "catalog.sqlite").exists()
        page = httpx.get(base + "/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        photo = REPO / "examples" / "catalog" / "photos" / "sk-001.jpg"
        r = httpx.post(base + "/v1/search", files={"image": photo.read_bytes()}, timeout=30)
        assert r.status_code == 200 and r.json()["results"][0]["id"] == "sk-001"
        # hostile uploads over real HTTP: a clear 4xx within a second, and it keeps serving
        good = photo.read_bytes()
        hostile = {"pixel bomb": (png_header(30_000, 30_000), 413),
                   "PDF named .jpg": (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", 415),
                   "empty": (b"", 400), "truncated": (good[: len(good) // 2], 422)}
        for name, (payload, status) in hostile.items():
            t = time.perf_counter()
            r = httpx.post(base + "/v1/analyze", files={"image": ("x.jpg", payload)}, timeout=10)
            assert r.status_code == status, (name, r.text)
            assert time.perf_counter() - t < 1.0, name
            assert r.json()["error"]["message"]
        assert httpx.post(base + "/v1/analyze", files={"image": good},
                          timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serving_never_imports_torch(tmp_path):
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from fashionlens.api import create_app\n"
        f"app = create_app(data_dir={str(tmp_path)!r})\n"
        "c = TestClient(app)\n"
        f"data = open({str(REPO / 'examples' / 'catalog' / 'lookbook' / 'look-001.jpg')!r}, "
        "'rb').read()\n"
        "r = c.post('/v1/analyze', files={'image': data}, data={'overlay': 'true'})\n"
        "assert r.status_code == 200, r.text\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
