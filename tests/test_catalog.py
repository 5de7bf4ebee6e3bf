"""The catalog: rows with rejects, ingest (idempotent, crash-safe), index consistency, search."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fashionlens.catalog import (
    CatalogRow,
    CatalogSearcher,
    CatalogStore,
    RowReject,
    StoredItem,
    StoredVector,
    ingest,
    open_index,
    parse_region,
    read_rows,
)
from fashionlens.catalog.index import VectorIndex, resolve_factory
from fashionlens.commands.catalog import audit, catalog_app, search
from fashionlens.core.settings import get_settings

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "catalog"
BUNDLE = get_settings().models_dir / "garment-classifier"
needs_model = pytest.mark.skipif(not (BUNDLE / "manifest.json").exists(),
                                 reason="shipped classifier bundle not present")


def _demo_rows(kind: str = "item") -> list[dict[str, str]]:
    with open(DEMO / "catalog.csv", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["kind"] == kind]


def _write_csv(path: Path, rows: list[list[str]], header=("id", "image", "title", "category",
                                                          "colour", "kind")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(catalog_app, name="catalog")
    app.command("search")(search)
    app.command("audit")(audit)
    return app


# --------------------------------------------------------------------------- rows (no model)
def test_csv_rows_and_rejects(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    path = tmp_path / "cat.csv"
    path.write_text(
        "id,image,title,category,colour,brand,look\n"
        "a1,a.jpg,Camiseta roja,T-Shirt,red,acme,\n"
        "a2,,no photo,Pants,black,acme,\n"
        "a3,a.jpg,too,few\n"
        ",a.jpg,no id,Pants,black,acme,\n"
        "a1,a.jpg,again,Pants,black,acme,\n"
        "l1,https://example.com/look.jpg,Look,,,,yes\n", encoding="utf-8")
    out = list(read_rows(path))
    good = [r for r in out if isinstance(r, CatalogRow)]
    bad = {r.line: r.reason for r in out if isinstance(r, RowReject)}
    assert [r.id for r in good] == ["a1", "l1"]
    assert good[0].image == str(tmp_path.resolve() / "a.jpg")
    assert good[0].metadata == {"brand": "acme"} and good[0].kind == "auto"
    assert good[1].kind == "look" and good[1].is_url
    assert "no image" in bad[3]
    assert "4 columns" in bad[4] and "7" in bad[4]
    assert "no id" in bad[5]
    assert "already used on line 2" in bad[6]


def test_jsonl_rows(tmp_path):
    path = tmp_path / "cat.jsonl"
    path.write_text('{"id": "x", "image": "p.jpg", "color": "navy", "season": "AW"}\n'
                    "{not json\n"
                    '["a list"]\n'
                    '{"id": "y", "image": "q.jpg", "kind": "look"}\n', encoding="utf-8")
    out = list(read_rows(path))
    assert isinstance(out[0], CatalogRow) and out[0].colour == "navy"
    assert out[0].metadata == {"season": "AW"}
    assert isinstance(out[1], RowReject) and "not valid JSON" in out[1].reason
    assert isinstance(out[2], RowReject)
    assert out[3].kind == "look"


def test_parse_region():
    assert parse_region("1,2,30,40") == (1, 2, 30, 40)
    assert parse_region(None) is None
    for bad in ("1,2,3", "5,5,1,1", "a,b,c,d"):
        with pytest.raises(ValueError):
            parse_region(bad)


# --------------------------------------------------------------------------- index (no model)
def _fake_item(i: int, dim: int = 16, seed: int = 0) -> StoredItem:
    v = np.random.default_rng(seed * 1000 + i).normal(size=dim).astype(np.float32)
    v /= np.linalg.norm(v)
    return StoredItem(id=f"id{i}", kind="item", image=f"{i}.jpg", image_hash=f"h{i}",
                      fields_hash="f", vectors=[StoredVector(embedding=v)])


def test_index_is_loaded_replayed_or_rebuilt(tmp_path):
    store = CatalogStore(tmp_path)
    store.set_meta("dim", "16")
    assert open_index(store) == (None, "empty")
    for i in range(5):
        store.put(_fake_item(i))
    idx, action = open_index(store)
    assert action == "rebuilt" and idx.ntotal == 5 and idx.factory == "Flat"
    assert open_index(store)[1] == "loaded"
    for i in range(5, 8):  # added behind the saved index's back (a crash before saving)
        store.put(_fake_item(i))
    idx, action = open_index(store)
    assert action == "replayed" and idx.ntotal == 8
    store.remove(["id2"])
    idx, action = open_index(store)
    assert action == "rebuilt" and idx.ntotal == 7
    (tmp_path / "index.faiss").write_bytes(b"garbage")
    idx, action = open_index(store)
    assert action == "rebuilt" and idx.ntotal == 7
    idx, action = open_index(store, factory="HNSW32")
    assert action == "rebuilt" and idx.factory == "HNSW32"
    q = store.get("id3", with_vectors=True)
    emb = next(e for vids, e in store.iter_embeddings() for vid, e in zip(vids, e, strict=True)
               if vid == q.vectors[0].vid)
    scores, vids = idx.search(emb, 1)
    assert vids[0, 0] == q.vectors[0].vid and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    store.close()


def test_untrainable_factory_falls_back_to_exact(tmp_path):
    with CatalogStore(tmp_path) as store:
        store.set_meta("dim", "16")
        for i in range(6):
            store.put(_fake_item(i))
        idx, action = open_index(store, factory="PCA8,IVF4,Flat")  # 6 vectors: cannot train
        assert action == "rebuilt" and idx.factory == "Flat" and idx.ntotal == 6
        assert open_index(store)[1] == "loaded"


def test_resolve_factory():
    assert resolve_factory("auto", 100, 1280) == "Flat"
    assert resolve_factory("auto", 100_000, 1280) == "HNSW32"
    assert resolve_factory("auto", 5_000_000, 1280).startswith("PCA128,IVF")
    assert resolve_factory("HNSW16", 5, 8) == "HNSW16"
    idx = VectorIndex.empty("Flat", 4)
    with pytest.raises(ValueError):
        idx.add(np.array([1]), np.zeros((1, 5), np.float32))


# --------------------------------------------------------------------------- ingest (model)
@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory):
    """8 demo garments, 1 look and 4 malformed rows, ingested once."""
    root = tmp_path_factory.mktemp("catalog")
    items = _demo_rows("item")[:8]
    look = _demo_rows("look")[0]
    (root / "notes.jpg").write_text("not a photo", encoding="utf-8")
    rows = [[r["id"], str(DEMO / r["image"]), r["title"], r["category"], r["colour"], r["kind"]]
            for r in [*items, look]]
    rows += [["bad-missing", "", "no image", "Pants", "black", ""],
             ["bad-path", str(root / "nowhere.jpg"), "x", "Pants", "black", ""],
             ["bad-file", "notes.jpg", "x", "Pants", "black", ""],
             ["bad-cols", "x.jpg", "x"]]
    path = _write_csv(root / "cat.csv", rows)
    db = root / "db"
    report = ingest(path, db)
    return {"root": root, "csv": path, "db": db, "report": report, "items": items,
            "look": look}


@needs_model
def test_ingest_rows_and_rejects(small_catalog):
    rep, db = small_catalog["report"], small_catalog["db"]
    assert rep.added == 9
    reasons = {r.id: r.reason for r in rep.rejected}
    assert set(reasons) == {"bad-missing", "bad-path", "bad-file", "bad-cols"}
    assert "no image" in reasons["bad-missing"]
    assert "not found" in reasons["bad-path"]
    assert "not an image" in reasons["bad-file"]
    assert "columns" in reasons["bad-cols"]
    with open(db / "rejects.csv", encoding="utf-8") as f:
        written = {r["id"]: r["reason"] for r in csv.DictReader(f)}
    assert written == reasons
    with CatalogStore(db) as store:
        assert store.count_items() == 9
        it = store.get(small_catalog["items"][0]["id"], with_vectors=True)
        assert it.label in store.classes and 0 < it.confidence <= 1
        assert it.probs.shape == (len(store.classes),)
        assert it.colours and store.thumb(it.id)[:2] == b"\xff\xd8"
        assert len(it.vectors) == 1
        look = store.get(small_catalog["look"]["id"], with_vectors=True)
        assert look.kind == "look"
        stats = store.stats()
        assert stats["looks"] == 1 and stats["items"] == 8
        idx, action = open_index(store)
        assert action == "loaded" and idx.ntotal == store.count_vectors()


@needs_model
def test_ingest_is_idempotent_and_updates_fields(small_catalog, tmp_path):
    db = tmp_path / "db"
    shutil.copytree(small_catalog["db"], db)
    rep = ingest(small_catalog["csv"], db)
    assert (rep.added, rep.replaced, rep.updated, rep.unchanged) == (0, 0, 0, 9)
    with open(small_catalog["csv"], encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[1][2] = "A new title"
    rows[2][1] = str(DEMO / _demo_rows("item")[20]["image"])  # a new photo for an old id
    path = _write_csv(tmp_path / "changed.csv", rows[1:], header=rows[0])
    rep = ingest(path, db)
    assert (rep.updated, rep.replaced, rep.unchanged) == (1, 1, 7)
    with CatalogStore(db) as store:
        assert store.get(rows[1][0]).title == "A new title"
        assert store.get(rows[2][0]).image == rows[2][1]
        assert store.count_items() == 9
        idx, action = open_index(store)
        assert action == "loaded" and idx.ntotal == store.count_vectors() >= 9
        scores, vids = idx.search(store.vectors_of(store.get(rows[2][0]).pk,
                                                   with_embedding=True)[0].embedding, 1)
        assert scores[0, 0] == pytest.approx(1.0, abs=1e-4)


@needs_model
def test_search_cli_json(small_catalog):
    first = small_catalog["items"][0]
    query = str(DEMO / first["image"])
    res = CliRunner().invoke(_app(), ["search", query, query, "--db",
                                      str(small_catalog["db"]), "--k", "3", "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert len(lines) == 2 and lines[0]["query"] == query
    top = lines[0]["results"][0]
    assert top["id"] == first["id"] and top["score"] > 0.99 and top["kind"] == "item"
    assert {"category", "colours", "garment"} <= set(top)
    # hierarchy-aware category filter: only garments under the node come back
    searcher = CatalogSearcher(small_catalog["db"])
    try:
        out = next(searcher.search([query], k=5, category="footwear"))
        for hit in out["results"]:
            assert hit["category"] == "Shoes"
        with pytest.raises(ValueError):
            next(searcher.search([query], category="spaceship"))
        bad = next(searcher.search([str(small_catalog["root"] / "notes.jpg")]))
        assert "error" in bad
    finally:
        searcher.close()


@needs_model
def test_search_finds_cropped_and_turned_copies(small_catalog, tmp_path):
    from PIL import Image

    first = small_catalog["items"][0]
    img = Image.open(DEMO / first["image"]).convert("RGB")
    w, h = img.size
    img.crop((round(0.15 * w), round(0.15 * h), round(0.85 * w), round(0.85 * h))).save(
        tmp_path / "crop.jpg", quality=90)
    img.rotate(-50, expand=True, fillcolor=(255, 255, 255)).save(tmp_path / "turn.jpg")
    searcher = CatalogSearcher(small_catalog["db"])
    try:
        out = list(searcher.search([str(tmp_path / "crop.jpg"), str(tmp_path / "turn.jpg")],
                                   k=3))
    finally:
        searcher.close()
    for res in out:
        assert res["results"][0]["id"] == first["id"], res
    assert out[0]["results"][0].get("copy") is True


@needs_model
def test_remove_keeps_index_consistent(small_catalog, tmp_path):
    db = tmp_path / "db"
    shutil.copytree(small_catalog["db"], db)
    gone = small_catalog["items"][1]["id"]
    res = CliRunner().invoke(_app(), ["catalog", "remove", gone, "--db", str(db)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(_app(), ["catalog", "stats", "--db", str(db), "--json"])
    stats = json.loads(res.stdout)
    assert stats["items"] + stats["looks"] == 8
    assert stats["index"]["ntotal"] == stats["vectors"] and stats["index"]["check"] == "loaded"


_CHILD = """
import sys
from fashionlens.catalog import ingest
ingest(sys.argv[1], sys.argv[2], batch_size=2, save_every=3)
"""


@needs_model
def test_sigkill_mid_ingest_then_resume(tmp_path):
    """Kill -9 after some rows are acknowledged; the re-run loses and duplicates nothing."""
    items = _demo_rows("item")[:20]
    rows = [[r["id"], str(DEMO / r["image"]), r["title"], r["category"], r["colour"], "item"]
            for r in items]
    path = _write_csv(tmp_path / "cat.csv", rows)
    db = tmp_path / "db"
    env = {**os.environ, "FASHIONLENS_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(db)], env=env)
    acknowledged: set[str] = set()
    deadline = time.time() + 60
    try:
        while time.time() < deadline and proc.poll() is None:
            if (db / "catalog.sqlite").exists():
                try:
                    con = sqlite3.connect(f"file:{db / 'catalog.sqlite'}?mode=ro", uri=True)
                    acknowledged = {r[0] for r in con.execute("SELECT id FROM items")}
                    con.close()
                except sqlite3.OperationalError:
                    pass
                if len(acknowledged) >= 4:
                    break
            time.sleep(0.02)
        killed_mid_run = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed_mid_run, "ingest finished before it could be killed"
    assert 4 <= len(acknowledged) < 20
    report = ingest(path, db)
    assert report.unchanged >= len(acknowledged)
    assert report.added + report.unchanged == 20
    with CatalogStore(db) as store:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM items")]
        assert sorted(ids) == sorted(r["id"] for r in items)  # each exactly once
        assert acknowledged <= set(ids)
        idx, action = open_index(store)
        assert action == "loaded"
        assert idx.ntotal == store.count_vectors() == len(ids)


class _HalfParser:
    """A stand-in garment parser: the top half of a photo is upper-body, the rest lower-body."""

    classes = ["background", "skin", "hair", "upper-body", "lower-body"]

    def parse_image(self, photo, *, keep_photo=True):
        from types import SimpleNamespace

        from fashionlens.garments import instances_from_label_map

        w, h = photo.size
        label_map = np.full((h, w), 4, np.uint8)
        label_map[: h // 2] = 3
        label_map[:, : w // 8] = 0
        return SimpleNamespace(instances=instances_from_label_map(label_map, self.classes))


@needs_model
def test_looks_hold_garments_and_complete_the_look(tmp_path):
    from fashionlens.catalog import CatalogAnalyzer

    look = _demo_rows("look")[0]
    items = _demo_rows("item")[:3]
    rows = [[r["id"], str(DEMO / r["image"]), r["title"], r["category"], r["colour"],
             r["kind"]] for r in [look, *items]]
    path = _write_csv(tmp_path / "cat.csv", rows)
    analyzer = CatalogAnalyzer(parser=_HalfParser())
    rep = ingest(path, tmp_path / "db", analyzer=analyzer)
    assert rep.looks == 1 and rep.looks_without_garments == 0
    with CatalogStore(tmp_path / "db") as store:
        stored = store.get(look["id"], with_vectors=True)
        assert [v.label for v in stored.vectors] == ["upper-body", "lower-body"]
        assert all(v.box and v.colours for v in stored.vectors)
    searcher = CatalogSearcher(tmp_path / "db", analyzer=analyzer)
    try:
        out = next(searcher.search([str(DEMO / look["image"])], k=4, region=(0, 0, 1, 0.5)))
    finally:
        searcher.close()
    hit = next(h for h in out["results"] if h["id"] == look["id"])
    assert hit["kind"] == "look" and hit["garment"]["label"] in ("upper-body", "lower-body")
    assert len(hit["complete_the_look"]) == 1
    assert hit["complete_the_look"][0]["label"] != hit["garment"]["label"]


@needs_model
def test_url_rows_add_and_rebuild_index(tmp_path):
    """An http(s) image is downloaded (here from a local server); add and rebuild-index work."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DEMO))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        item = _demo_rows("item")[3]
        path = _write_csv(tmp_path / "cat.csv", [
            ["u1", f"{base}/{item['image']}", item["title"], item["category"], "", "item"],
            ["u2", f"{base}/photos/missing.jpg", "x", "Pants", "", "item"]])
        rep = ingest(path, tmp_path / "db")
    finally:
        server.shutdown()
    assert rep.added == 1 and [r.id for r in rep.rejected] == ["u2"]
    assert "cannot download" in rep.rejected[0].reason
    runner, db = CliRunner(), str(tmp_path / "db")
    photo = str(DEMO / _demo_rows("item")[4]["image"])
    res = runner.invoke(_app(), ["catalog", "add", photo, "--db", db, "--id", "a1",
                                 "--category", "Shirt", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["added"] == 1
    res = runner.invoke(_app(), ["catalog", "rebuild-index", "--db", db, "--factory", "HNSW32"])
    assert res.exit_code == 0, res.output
    with CatalogStore(db) as store:
        idx, action = open_index(store)
        assert (idx.factory, action, idx.ntotal) == ("HNSW32", "loaded", 2)


def test_unstated_kind_makes_looks_of_outfit_photos_only(tmp_path):
    """Without a kind column, the parser decides: a photo is a look when it shows a person
    wearing garments; product photos stay items however the parser's garment classes fire
    on them."""
    rows = list(csv.DictReader((DEMO / "catalog.csv").open(encoding="utf-8")))
    plain = tmp_path / "plain.csv"
    with plain.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "image", "title", "category", "colour"])
        for r in rows:
            w.writerow([r["id"], str(DEMO / r["image"]), r["title"], r["category"], r["colour"]])
    ingest(plain, tmp_path / "db")
    store = CatalogStore(tmp_path / "db", create=False)
    try:
        kinds = {it.id: it.kind for it in store.items()}
    finally:
        store.close()
    stated = {r["id"]: r["kind"] for r in rows}
    assert all(kinds[i] == "item" for i, k in stated.items() if k == "item")
    looks = [i for i, k in stated.items() if k == "look"]
    assert sum(kinds[i] == "look" for i in looks) >= len(looks) - 2
