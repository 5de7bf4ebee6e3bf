"""REST API over a catalog: search by photo, listings and photos, audit jobs (served catalog and
uploaded ZIPs), on the demo catalog with real photos."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fashionlens.api import create_app
from fashionlens.core.settings import get_settings

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "catalog"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server-data")


@pytest.fixture(scope="module")
def client(analyzer, demo_catalog_db, data_dir):
    app = create_app(get_settings(), analyzer=analyzer, db_dir=demo_catalog_db,
                     data_dir=data_dir)
    with TestClient(app) as c:
        yield c


def _photo(name: str) -> tuple[str, bytes, str]:
    path = DEMO / name
    return path.name, path.read_bytes(), "image/jpeg"


def _wait(client: TestClient, url: str, timeout: float = 120) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        body = client.get(url).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.25)
    raise AssertionError(f"audit job {url} did not finish in {timeout} s")


# --------------------------------------------------------------------------- search
def test_search_finds_the_photo_itself_and_its_copy_first(client):
    r = client.post("/v1/search", files={"image": _photo("photos/ts-001.jpg")},
                    data={"k": "5"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [h["id"] for h in results[:2]] == ["ts-001", "ts-101"]  # ts-101 is a turned crop
    assert len(results) == 5
    assert all("image" not in h for h in results)  # server paths never leave the server
    assert results[0]["thumb_url"] == "/v1/items/ts-001/image?size=thumb"


def test_search_for_a_garment_returns_looks_with_the_rest_of_the_outfit(client):
    r = client.post("/v1/search", files={"image": _photo("lookbook/look-003.jpg")},
                    data={"k": "12"})
    looks = [h for h in r.json()["results"] if h["kind"] == "look"]
    assert looks[0]["id"] == "look-003" and looks[0].get("copy")  # the look itself, first
    with_rest = [h for h in looks if h.get("complete_the_look")]
    assert with_rest
    for piece in with_rest[0]["complete_the_look"]:
        assert piece["label"] and len(piece["box"]) == 4
        assert piece["label"] != with_rest[0]["garment"]["label"] or \
            piece["box"] != with_rest[0]["garment"]["box"]


def test_search_filters_by_category_in_any_language_and_by_colour(client):
    r = client.post("/v1/search", files={"image": _photo("photos/ts-001.jpg")},
                    data={"k": "6", "category": "pantalones"})
    assert r.status_code == 200, r.text
    cats = {h["category"] for h in r.json()["results"]}
    assert cats and cats <= {"Pants", "lower-body"}
    r = client.post("/v1/search", files={"image": _photo("photos/ts-001.jpg")},
                    data={"k": "6", "colour": "negru"})  # Romanian: black
    assert r.status_code == 200 and all("black" in h["colours"] for h in r.json()["results"])


@pytest.mark.parametrize("field,value,word", [
    ("category", "spaceship", "unknown category"),
    ("colour", "octarine", "unknown colour"),
    ("region", "10,10,5,5", "region"),
])
def test_search_refuses_bad_filters_with_a_clear_422(client, field, value, word):
    r = client.post("/v1/search", files={"image": _photo("photos/ts-001.jpg")},
                    data={field: value})
    assert r.status_code == 422 and word in r.json()["error"]["message"]


def test_search_refuses_a_pdf_named_jpg(client):
    r = client.post("/v1/search", files={"image": ("x.jpg", b"%PDF-1.4\n1 0 obj", "image/jpeg")})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_format"


def test_without_a_catalog_search_says_so(analyzer, tmp_path):
    with TestClient(create_app(get_settings(), analyzer=analyzer, data_dir=tmp_path)) as c:
        r = c.post("/v1/search", files={"image": _photo("photos/ts-001.jpg")})
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_catalog"
        assert c.get("/healthz").json()["catalog"] is None


# --------------------------------------------------------------------------- listings
def test_item_shows_what_is_stated_and_seen_with_garments_of_a_look(client):
    body = client.get("/v1/items/look-001").json()
    assert body["kind"] == "look" and body["garments"]
    assert "image" not in body and body["image_url"] == "/v1/items/look-001/image"
    item = client.get("/v1/items/dr-002").json()
    assert item["colour"] == "red" and item["label"] == "Dress"


@pytest.mark.parametrize("item_id", ["no-such-id", "..", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                     "ts-001'--"])
def test_unknown_or_hostile_ids_are_404(client, item_id):
    for url in (f"/v1/items/{item_id}", f"/v1/items/{item_id}/image"):
        r = client.get(url)
        assert r.status_code == 404 and "error" in r.json()


def test_item_photos_are_reencoded_jpegs_without_metadata(client):
    full = client.get("/v1/items/dr-001/image")
    thumb = client.get("/v1/items/dr-001/image?size=thumb")
    assert full.headers["content-type"] == thumb.headers["content-type"] == "image/jpeg"
    big, small = Image.open(io.BytesIO(full.content)), Image.open(io.BytesIO(thumb.content))
    assert max(big.size) <= 1024 and max(small.size) <= 128 < max(big.size)
    assert not big.getexif() and "exif" not in big.info
    assert client.get("/v1/items/dr-001/image?size=huge").status_code == 422


# --------------------------------------------------------------------------- audit jobs
def test_audit_of_the_served_catalog_finds_the_deliberate_mistakes(client):
    r = client.post("/v1/audit")
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["url"])
    assert job["status"] == "done", job["error"]
    found = {(f["id"], f["check"]) for f in job["findings"]}
    assert {("sh-002", "category_mismatch"), ("dr-002", "colour_mismatch"),
            ("tp-001", "title_mismatch"), ("hd-002", "title_mismatch"),
            ("ts-101", "near_duplicate")} <= found
    assert job["progress"] == {"done": 40, "total": 40}
    first = job["findings"][0]
    assert first["reason"] and first["thumb_url"].startswith("/v1/items/")
    assert client.get(first["thumb_url"]).headers["content-type"] == "image/jpeg"
    report = client.get(job["report_url"])
    assert report.status_code == 200 and "sh-002" in report.text
    assert report.headers["content-security-policy"].startswith("default-src 'none'")


def _exif_jpeg(path: Path) -> bytes:
    """The photo with an EXIF block holding a GPS position and a camera make."""
    img = Image.open(path)
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (41.0, 23.0, 0.0)}  # GPS IFD: latitude
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def _zip(rows: list[list[str]], files: dict[str, bytes], *, folder: str = "shop/") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        text = io.StringIO()
        w = csv.writer(text)
        w.writerow(["id", "image", "title", "category", "colour"])
        w.writerows(rows)
        zf.writestr(folder + "catalog.csv", text.getvalue())
        for name, data in files.items():
            zf.writestr(folder + name, data)
    return out.getvalue()


def test_audit_of_an_uploaded_zip_ingests_good_rows_and_explains_bad_ones(client, data_dir):
    dress = _exif_jpeg(DEMO / "photos" / "dr-001.jpg")
    assert b"SpyCam" in dress
    rows = [
        ["a-dress", "img/dress.jpg", "Red dress", "Pants", "red"],          # wrong category
        ["a-shoe", "img/shoe.jpg", "Brown shoes", "Shoes", "brown"],
        ["a-pdf", "img/doc.jpg", "Not a photo", "Dress", "red"],
        ["a-gone", "img/missing.jpg", "Missing", "Dress", "red"],
        ["a-escape", "../../etc/passwd", "Escape", "Dress", "red"],
        ["a-abs", "/etc/hostname", "Absolute", "Dress", "red"],
        ["a-url", "http://169.254.169.254/latest/meta-data", "SSRF", "Dress", "red"],
        ["a-short"],
    ]
    files = {"img/dress.jpg": dress,
             "img/shoe.jpg": (DEMO / "photos" / "sh-001.jpg").read_bytes(),
             "img/doc.jpg": b"%PDF-1.7\n%secret\n"}
    r = client.post("/v1/audit", files={"catalog": ("shop.zip", _zip(rows, files),
                                                    "application/zip")})
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["url"])
    assert job["status"] == "done", job["error"]
    reasons = {x["id"]: x["reason"] for x in job["rejects"]}
    assert set(reasons) == {"a-pdf", "a-gone", "a-escape", "a-abs", "a-url", "a-short"}
    assert "not in the ZIP" in reasons["a-gone"]
    assert "inside the ZIP" in reasons["a-escape"] and "inside the ZIP" in reasons["a-abs"]
    assert "URL" in reasons["a-url"]
    assert "PDF" in reasons["a-pdf"] or "format" in reasons["a-pdf"]
    assert ("a-dress", "category_mismatch") in {(f["id"], f["check"]) for f in job["findings"]}
    thumb = client.get(f"/v1/audit/{job['job']}/items/a-dress/image")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    # the stored photos: random names, re-encoded, EXIF/GPS gone
    stored = list((data_dir / "audit" / job["job"]).rglob("photos/*.jpg"))
    assert len(stored) == 2
    for p in stored:
        assert len(p.stem) == 32 and "dress" not in p.name
        assert b"SpyCam" not in p.read_bytes() and not Image.open(p).getexif()


def test_a_bare_csv_with_local_paths_fails_with_a_reason(client):
    text = "id,image,title,category,colour\nx1,/etc/passwd,x,Dress,red\nx2,photo.jpg,y,Dress,red\n"
    r = client.post("/v1/audit", files={"catalog": ("cat.csv", text.encode(), "text/csv")})
    job = _wait(client, r.json()["url"])
    assert job["status"] == "failed" and "no row" in job["error"]
    assert all("upload a ZIP" in x["reason"] for x in job["rejects"])
    assert len(job["rejects"]) == 2 and job["report_url"] is None


@pytest.mark.parametrize("name,payload,word", [
    ("cat.csv", b"\x89PNG\r\n\x1a\n\0\0\0binary", "not a text catalog"),
    ("cat.zip", b"PK\x03\x04 broken zip", "catalog"),
    ("two.zip", None, "exactly one"),
])
def test_unusable_uploads_fail_with_a_reason(client, name, payload, word):
    if payload is None:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            zf.writestr("a.csv", "id,image\n")
            zf.writestr("b.csv", "id,image\n")
        payload = out.getvalue()
    r = client.post("/v1/audit", files={"catalog": (name, payload)})
    assert r.status_code == 202
    job = _wait(client, r.json()["url"])
    assert job["status"] == "failed" and word in job["error"], job["error"]


def test_audit_job_ids_are_checked_before_any_file_is_touched(client):
    for job in ("nope", "../../etc", "0" * 32):
        r = client.get(f"/v1/audit/{job}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.get("/v1/audit/" + "0" * 32 + "/report.html").status_code == 404


def test_a_failed_upload_names_the_users_file_not_the_servers_paths(client, data_dir):
    r = client.post("/v1/audit", files={"catalog": ("my-shop.csv", b"sku,photo\n1,a.jpg\n")})
    job = _wait(client, r.json()["url"])
    assert job["status"] == "failed" and "my-shop.csv" in job["error"]
    assert str(data_dir) not in job["error"] and "/tmp" not in job["error"]


def test_finished_audits_survive_a_server_restart(analyzer, demo_catalog_db, data_dir, client):
    job = _wait(client, client.post("/v1/audit").json()["url"])
    assert job["status"] == "done"
    fresh = create_app(get_settings(), analyzer=analyzer, db_dir=demo_catalog_db,
                       data_dir=data_dir)
    with TestClient(fresh) as c:
        again = c.get(f"/v1/audit/{job['job']}").json()
        assert again["status"] == "done" and again["findings"] == job["findings"]
        assert c.get(again["report_url"]).status_code == 200
