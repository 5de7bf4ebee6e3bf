"""REST API: analysis of a real photo, hostile uploads, overload, one error shape."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from pngs import png_header  # noqa: E402

from fashionlens.api import create_app  # noqa: E402
from fashionlens.core.settings import get_settings  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "photos"
LOOKBOOK = Path(__file__).resolve().parents[1] / "examples" / "catalog" / "lookbook"


@pytest.fixture(scope="module")
def client(analyzer, demo_catalog_db, tmp_path_factory):
    settings = get_settings()
    settings.max_image_bytes = 2 * 1024 * 1024
    app = create_app(settings, analyzer=analyzer, db_dir=demo_catalog_db,
                     data_dir=tmp_path_factory.mktemp("data"))
    with TestClient(app) as c:
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
    ("bomb.png", png_header(20_000, 20_000), 413, "too_many_pixels"),
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


def test_overload_answers_503_with_retry_after(analyzer):
    settings = get_settings()
    app = create_app(settings, analyzer=analyzer, max_concurrent=1)
    with TestClient(app) as c:
        app.state.capacity.in_use = app.state.capacity.limit  # every slot taken
        r = c.post("/v1/analyze", files={"image": ("x.jpg", b"\xff\xd8\xff\xe0")})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "overloaded"


# --------------------------------------------------------------------------- analysis extras
def test_analyze_says_one_honest_sentence_and_returns_a_mask_overlay(client):
    import base64
    import io

    from PIL import Image

    look = LOOKBOOK / "look-003.jpg"
    r = client.post("/v1/analyze", files={"image": ("look.jpg", look.read_bytes())},
                    data={"overlay": "true", "target_accuracy": "0.8"})
    assert r.status_code == 200, r.text
    body = r.json()
    hedged = body["hedged"]
    assert body["summary"] and body["icon"] in {
        "upper-body", "outerwear", "bottoms", "one-piece", "footwear", "headwear", "garment"}
    if hedged["covers"] == [body["label"]]:  # a leaf: no hedge words
        assert "—" not in body["summary"]
    else:  # hedged: says the broad node and names the most probable class as a guess
        assert "—" in body["summary"]
    assert body["overlay"].startswith("data:image/png;base64,")
    mask = Image.open(io.BytesIO(base64.b64decode(body["overlay"].split(",", 1)[1])))
    assert mask.mode == "RGBA" and max(mask.size) <= 512
    assert abs(mask.width / mask.height - body["width"] / body["height"]) < 0.02
    alpha = mask.getchannel("A")
    assert alpha.getextrema() == (0, 128)  # background clear, garments tinted
    assert body["garments"] and all("colours" in g for g in body["garments"])


def test_body_cap_refuses_a_declared_size_before_reading(client):
    r = client.post("/v1/analyze", content=b"x" * 10,
                    headers={"content-type": "multipart/form-data; boundary=b",
                             "content-length": str(50 * 1024 * 1024)})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large_bytes"


def test_body_cap_stops_a_chunked_upload_while_it_streams(client):
    """At the ASGI level (TestClient would buffer the body first): a chunked upload with no
    Content-Length is refused once the cap is passed, without reading the rest."""
    import asyncio

    pulled, sent = 0, []
    head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n'

    async def receive():
        nonlocal pulled
        pulled += 1
        if pulled > 64:  # 64 MiB offered, far past the 2 MiB cap
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": head if pulled == 1 else b"\xff" * 2 ** 20,
                "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "path": "/v1/analyze", "raw_path": b"/v1/analyze",
             "query_string": b"", "root_path": "", "scheme": "http",
             "headers": [(b"content-type", b"multipart/form-data; boundary=b"),
                         (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert b"too_large_bytes" in b"".join(m.get("body", b"") for m in sent[1:])
    assert pulled <= 4  # refused as soon as the cap was passed


def test_slow_analysis_times_out_with_504_and_frees_its_slot(analyzer):
    import threading

    settings = get_settings()
    settings.request_timeout = 0.3
    release = threading.Event()

    class Stuck:
        classifier, parser, limits = analyzer.classifier, analyzer.parser, analyzer.limits

        def analyze(self, data, **kw):
            release.wait(5)
            return {"label": "late"}

    app = create_app(settings, analyzer=Stuck(), max_concurrent=1)
    with TestClient(app) as c:
        t = time.perf_counter()
        r = c.post("/v1/analyze", files={"image": ("x.jpg", b"\xff\xd8\xff")})
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        assert time.perf_counter() - t < 2
        # the stuck analysis still holds the only slot: the next request is refused fast
        assert c.post("/v1/analyze", files={"image": ("x.jpg", b"1")}).status_code == 503
        release.set()
        for _ in range(50):
            if app.state.capacity.in_use == 0:
                break
            time.sleep(0.05)
        assert app.state.capacity.in_use == 0


def test_metrics_count_requests_by_route_template(client):
    client.get("/v1/items/ts-001")
    client.get("/v1/items/no-such-item")
    text = client.get("/metrics").text
    assert 'fashionlens_http_requests_total{method="GET",route="/v1/items/{item_id}",' \
           'status="200"}' in text
    assert 'route="/v1/items/{item_id}",status="404"' in text
    assert "no-such-item" not in text  # ids never become label values
    assert "fashionlens_analyses_in_flight" in text
    assert "fashionlens_overload_refusals_total" in text


def test_pages_are_served_with_a_content_security_policy(client):
    for path in ("/", "/audit"):
        r = client.get(path)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "default-src 'self'" in r.headers["content-security-policy"]


def test_when_full_the_503_comes_before_the_upload_is_read(analyzer):
    import asyncio

    app = create_app(get_settings(), analyzer=analyzer, max_concurrent=1)
    app.state.capacity.in_use = 1
    pulled, sent = 0, []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "path": "/v1/search", "raw_path": b"/v1/search",
             "query_string": b"", "root_path": "", "scheme": "http",
             "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 503 and (b"retry-after", b"1") in sent[0]["headers"]
    assert pulled == 0
    metrics = app.state.metrics.render()[0].decode()
    assert "fashionlens_overload_refusals_total 1.0" in metrics


def test_a_product_shot_is_one_garment_and_an_outfit_photo_lists_its_garments(client):
    """The parser, trained on outfit photos, fires garment classes on product shots (a pair of
    shoes read as "dress" and "bag"); with nobody wearing them the photo is one garment."""
    shoes = (LOOKBOOK.parent / "photos" / "sh-002.jpg").read_bytes()
    body = client.post("/v1/analyze", files={"image": ("s.jpg", shoes)},
                       data={"overlay": "true"}).json()
    assert body["kind"] == "item" and body["garments"] == [] and "overlay" not in body
    assert body["label"] == "Shoes" and body["colours"]["colours"]
    look = (LOOKBOOK / "look-001.jpg").read_bytes()
    body = client.post("/v1/analyze", files={"image": ("l.jpg", look)}).json()
    assert body["kind"] == "look" and body["garments"]


def test_analysis_names_things_in_the_asked_language(client):
    look = (LOOKBOOK / "look-001.jpg").read_bytes()
    es = client.post("/v1/analyze", files={"image": ("l.jpg", look)}, data={"lang": "es"}).json()
    en = client.post("/v1/analyze", files={"image": ("l.jpg", look)}).json()
    assert es["label"] == en["label"] and es["summary"] != en["summary"]
    from fashionlens.colour import default_dictionary

    names = default_dictionary().colours
    for doc in [es["colours"], *(g["colours"] for g in es["garments"])]:
        for c in doc["colours"]:
            assert c["display"] == names[c["name"]].display_name("es")
    assert any(g.get("display") and g["display"] != g["label"] for g in es["garments"])
    r = client.post("/v1/analyze", files={"image": ("l.jpg", look)}, data={"lang": "de"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
