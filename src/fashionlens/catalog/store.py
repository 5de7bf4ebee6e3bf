"""The catalog database: SQLite in WAL mode, the source of truth.

Everything the index needs is here too (embeddings as float32 blobs), so the FAISS index can
always be rebuilt from the database. Tables:

- ``items``: one row per listing (a product photo or a look), what the listing states and what
  the photo shows (class probabilities, label, hedged label, colours, a small thumbnail).
- ``vectors``: the searchable embeddings; ``vid`` is the FAISS id (AUTOINCREMENT, so an id is
  never reused). A product photo has one vector (``region = -1``); a parsed look has one per
  garment (``region = 0, 1, …``) with its label, box and colours.
- ``fingerprints``: per listing, pixel fingerprints of the photo and its central crops
  (:mod:`fashionlens.catalog.fingerprint`), to tell copies of a photo from similar photos.
- ``meta``: schema version, model name and classes, and a ``deletions`` counter the index
  checks to know whether it can be replayed (only additions since it was saved) or must be
  rebuilt.

A listing and its vectors are written in one transaction: a row counts as ingested
("acknowledged") only once that transaction has committed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CatalogStore", "StoredItem", "StoredVector", "DB_NAME", "SCHEMA_VERSION"]

DB_NAME = "catalog.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    kind_source TEXT NOT NULL DEFAULT 'stated',
    image TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    colour TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    image_hash TEXT NOT NULL,
    fields_hash TEXT NOT NULL,
    label TEXT,
    confidence REAL,
    hedged TEXT,
    probs BLOB,
    colours TEXT NOT NULL DEFAULT '[]',
    pattern TEXT,
    width INTEGER,
    height INTEGER,
    thumb BLOB,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS items_image_hash ON items(image_hash);
CREATE TABLE IF NOT EXISTS vectors (
    vid INTEGER PRIMARY KEY AUTOINCREMENT,
    item_pk INTEGER NOT NULL REFERENCES items(pk) ON DELETE CASCADE,
    region INTEGER NOT NULL DEFAULT -1,
    label TEXT,
    box TEXT,
    colours TEXT NOT NULL DEFAULT '[]',
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_item ON vectors(item_pk);
CREATE TABLE IF NOT EXISTS fingerprints (
    item_pk INTEGER PRIMARY KEY REFERENCES items(pk) ON DELETE CASCADE,
    data BLOB NOT NULL
);
"""

# Columns added after version 1 go here as (version, "ALTER TABLE ..."): migrations-light.
_MIGRATIONS: list[tuple[int, str]] = []


@dataclass
class StoredVector:
    """One searchable embedding: the whole photo (``region=-1``) or one garment of a look."""

    embedding: np.ndarray
    region: int = -1
    label: str | None = None
    box: list[int] | None = None
    colours: list[dict[str, Any]] = field(default_factory=list)
    vid: int | None = None
    item_pk: int | None = None


@dataclass
class StoredItem:
    """One listing: what it states and what the photo shows."""

    id: str
    kind: str
    image: str
    image_hash: str
    fields_hash: str
    title: str = ""
    category: str = ""
    colour: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    kind_source: str = "stated"
    label: str | None = None
    confidence: float | None = None
    hedged: dict[str, Any] | None = None
    probs: np.ndarray | None = None
    colours: list[dict[str, Any]] = field(default_factory=list)
    pattern: str | None = None
    width: int | None = None
    height: int | None = None
    thumb: bytes | None = None
    pk: int | None = None
    vectors: list[StoredVector] = field(default_factory=list)
    fingerprint: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "image": self.image, "title": self.title,
                "category": self.category, "colour": self.colour, "label": self.label,
                "confidence": self.confidence, "hedged": self.hedged,
                "colours": [c["name"] for c in self.colours]}


def _blob(a: np.ndarray | None) -> bytes | None:
    return None if a is None else np.ascontiguousarray(a, dtype=np.float32).tobytes()


def _unblob(b: bytes | None) -> np.ndarray | None:
    return None if b is None else np.frombuffer(b, dtype=np.float32)


class CatalogStore:
    """The SQLite catalog under ``db_dir`` (created when missing)."""

    def __init__(self, db_dir: str | Path, *, create: bool = True) -> None:
        self.dir = Path(db_dir)
        path = self.dir / DB_NAME
        if not create and not path.exists():
            raise FileNotFoundError(f"no catalog at {self.dir} (missing {DB_NAME})")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # ------------------------------------------------------------------ schema
    def _migrate(self) -> None:
        # executescript commits on its own; run it outside an explicit transaction.
        self.conn.executescript(_SCHEMA)
        version = int(self.get_meta("schema_version", "0"))
        if version == 0:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
            version = SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"catalog {self.dir} has schema {version}; this fashionlens "
                               f"reads up to {SCHEMA_VERSION}: upgrade fashionlens")
        for v, sql in _MIGRATIONS:
            if v > version:
                with self.transaction():
                    self.conn.execute(sql)
                    self.set_meta("schema_version", str(v))

    def transaction(self):
        return _Transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> CatalogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    @property
    def deletions(self) -> int:
        return int(self.get_meta("deletions", "0") or 0)

    def _bump_deletions(self) -> None:
        self.set_meta("deletions", str(self.deletions + 1))

    @property
    def classes(self) -> list[str] | None:
        raw = self.get_meta("classes")
        return None if raw is None else json.loads(raw)

    # ------------------------------------------------------------------ writing
    def hashes(self, item_id: str) -> tuple[str, str] | None:
        row = self.conn.execute("SELECT image_hash, fields_hash FROM items WHERE id=?",
                                (item_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def put(self, item: StoredItem) -> list[int]:
        """Insert or replace one listing and its vectors in one transaction; returns the vids."""
        with self.transaction():
            old = self.conn.execute("SELECT pk FROM items WHERE id=?", (item.id,)).fetchone()
            if old is not None:
                self.conn.execute("DELETE FROM fingerprints WHERE item_pk=?", (old[0],))
                n = self.conn.execute("DELETE FROM vectors WHERE item_pk=?", (old[0],)).rowcount
                self.conn.execute("DELETE FROM items WHERE pk=?", (old[0],))
                if n:
                    self._bump_deletions()
            cur = self.conn.execute(
                "INSERT INTO items(id, kind, kind_source, image, title, category, colour, "
                "metadata, image_hash, fields_hash, label, confidence, hedged, probs, colours, "
                "pattern, width, height, thumb, added_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (item.id, item.kind, item.kind_source, item.image, item.title, item.category,
                 item.colour, json.dumps(item.metadata, ensure_ascii=False, default=str),
                 item.image_hash, item.fields_hash, item.label, item.confidence,
                 None if item.hedged is None else json.dumps(item.hedged),
                 _blob(item.probs), json.dumps(item.colours), item.pattern, item.width,
                 item.height, item.thumb, time.time()))
            pk = int(cur.lastrowid)
            if item.fingerprint is not None:
                self.conn.execute("INSERT INTO fingerprints(item_pk, data) VALUES (?, ?)",
                                  (pk, _blob(item.fingerprint)))
            vids = []
            for v in item.vectors:
                cur = self.conn.execute(
                    "INSERT INTO vectors(item_pk, region, label, box, colours, embedding) "
                    "VALUES (?,?,?,?,?,?)",
                    (pk, v.region, v.label, None if v.box is None else json.dumps(v.box),
                     json.dumps(v.colours), _blob(v.embedding)))
                vids.append(int(cur.lastrowid))
        item.pk = pk
        return vids

    def update_fields(self, item_id: str, *, title: str, category: str, colour: str,
                      metadata: dict[str, Any], fields_hash: str, image: str) -> None:
        """Change what a listing states (same photo: nothing to re-analyse)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE items SET title=?, category=?, colour=?, metadata=?, fields_hash=?, "
                "image=? WHERE id=?",
                (title, category, colour, json.dumps(metadata, ensure_ascii=False, default=str),
                 fields_hash, image, item_id))

    def remove(self, ids: Iterable[str]) -> int:
        """Delete listings (and their vectors); returns how many existed."""
        removed = 0
        with self.transaction():
            for item_id in ids:
                row = self.conn.execute("SELECT pk FROM items WHERE id=?", (item_id,)).fetchone()
                if row is None:
                    continue
                self.conn.execute("DELETE FROM fingerprints WHERE item_pk=?", (row[0],))
                self.conn.execute("DELETE FROM vectors WHERE item_pk=?", (row[0],))
                self.conn.execute("DELETE FROM items WHERE pk=?", (row[0],))
                removed += 1
            if removed:
                self._bump_deletions()
        return removed

    # ------------------------------------------------------------------ reading
    def count_items(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM items WHERE kind=?",
                                     (kind,)).fetchone()[0])

    def count_vectors(self, max_vid: int | None = None) -> int:
        if max_vid is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM vectors WHERE vid<=?",
                                     (max_vid,)).fetchone()[0])

    def max_vid(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(vid), 0) FROM vectors").fetchone()[0])

    def iter_embeddings(self, *, after_vid: int = 0,
                        chunk: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(vids int64 (n,), embeddings float32 (n, D)) in vid order, in chunks."""
        last = after_vid
        while True:
            rows = self.conn.execute(
                "SELECT vid, embedding FROM vectors WHERE vid>? ORDER BY vid LIMIT ?",
                (last, chunk)).fetchall()
            if not rows:
                return
            vids = np.array([r[0] for r in rows], dtype=np.int64)
            emb = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            yield vids, emb
            last = int(vids[-1])

    def _item(self, row: sqlite3.Row, *, with_vectors: bool = False,
              with_thumb: bool = False) -> StoredItem:
        item = StoredItem(
            id=row["id"], kind=row["kind"], image=row["image"], image_hash=row["image_hash"],
            fields_hash=row["fields_hash"], title=row["title"], category=row["category"],
            colour=row["colour"], metadata=json.loads(row["metadata"] or "{}"),
            kind_source=row["kind_source"], label=row["label"], confidence=row["confidence"],
            hedged=None if row["hedged"] is None else json.loads(row["hedged"]),
            probs=_unblob(row["probs"]), colours=json.loads(row["colours"] or "[]"),
            pattern=row["pattern"], width=row["width"], height=row["height"],
            thumb=row["thumb"] if with_thumb else None, pk=row["pk"])
        if with_vectors:
            item.vectors = self.vectors_of(item.pk)
        return item

    def get(self, item_id: str, **kw: bool) -> StoredItem | None:
        row = self.conn.execute("SELECT * FROM items WHERE id=?", (item_id,)).fetchone()
        return None if row is None else self._item(row, **kw)

    def items(self, *, kind: str | None = None, with_vectors: bool = False,
              with_thumb: bool = False) -> Iterator[StoredItem]:
        sql = "SELECT * FROM items" + (" WHERE kind=?" if kind else "") + " ORDER BY pk"
        for row in self.conn.execute(sql, (kind,) if kind else ()).fetchall():
            yield self._item(row, with_vectors=with_vectors, with_thumb=with_thumb)

    def ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM items ORDER BY pk")]

    def fingerprints(self) -> tuple[np.ndarray, np.ndarray]:
        """(item pks (n,), fingerprints (n, S, D) float32) of every listing that has them."""
        rows = self.conn.execute("SELECT item_pk, data FROM fingerprints ORDER BY item_pk"
                                 ).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0, 0), np.float32)
        from fashionlens.catalog.fingerprint import FINGERPRINT_SCALES

        data = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
        return (np.array([r[0] for r in rows], np.int64),
                data.reshape(len(rows), len(FINGERPRINT_SCALES), -1))

    def whole_photo_embeddings(self, pks: list[int], *,
                               first_garment: bool = False) -> dict[int, np.ndarray]:
        """Per item pk, the embedding of its whole photo; a look stored as its garments has
        none, or (``first_garment``) its first garment's."""
        where = "" if first_garment else " AND region < 0"
        out: dict[int, np.ndarray] = {}
        for i in range(0, len(pks), 500):
            part = [int(p) for p in pks[i:i + 500]]
            q = ",".join("?" * len(part))
            for r in self.conn.execute(f"SELECT item_pk, embedding FROM vectors WHERE item_pk IN "
                                       f"({q}){where} ORDER BY region", part):
                out.setdefault(int(r[0]), np.frombuffer(r[1], np.float32))
        return out

    def thumb(self, item_id: str) -> bytes | None:
        row = self.conn.execute("SELECT thumb FROM items WHERE id=?", (item_id,)).fetchone()
        return None if row is None else row[0]

    def _vector(self, r: sqlite3.Row, with_embedding: bool) -> StoredVector:
        return StoredVector(
            embedding=np.frombuffer(r["embedding"], dtype=np.float32) if with_embedding
            else None, region=r["region"], label=r["label"],
            box=None if r["box"] is None else json.loads(r["box"]),
            colours=json.loads(r["colours"] or "[]"), vid=r["vid"], item_pk=r["item_pk"])

    def vectors_of(self, item_pk: int, *, with_embedding: bool = False) -> list[StoredVector]:
        rows = self.conn.execute("SELECT * FROM vectors WHERE item_pk=? ORDER BY region",
                                 (item_pk,)).fetchall()
        return [self._vector(r, with_embedding) for r in rows]

    def vectors_by_vid(self, vids: Iterable[int]) -> dict[int, StoredVector]:
        vids = [int(v) for v in vids if v >= 0]
        out: dict[int, StoredVector] = {}
        for i in range(0, len(vids), 500):
            part = vids[i:i + 500]
            q = ",".join("?" * len(part))
            for r in self.conn.execute(f"SELECT * FROM vectors WHERE vid IN ({q})", part):
                out[int(r["vid"])] = self._vector(r, False)
        return out

    def items_by_pk(self, pks: Iterable[int]) -> dict[int, StoredItem]:
        pks = sorted({int(p) for p in pks})
        out: dict[int, StoredItem] = {}
        for i in range(0, len(pks), 500):
            part = pks[i:i + 500]
            q = ",".join("?" * len(part))
            for r in self.conn.execute(f"SELECT * FROM items WHERE pk IN ({q})", part):
                out[int(r["pk"])] = self._item(r)
        return out

    def stats(self) -> dict[str, Any]:
        c = self.conn
        looks_unparsed = int(c.execute(
            "SELECT COUNT(*) FROM items WHERE kind='look' AND pk NOT IN "
            "(SELECT item_pk FROM vectors WHERE region>=0)").fetchone()[0])
        by_label = dict(c.execute("SELECT COALESCE(label, '?'), COUNT(*) FROM items "
                                  "GROUP BY label ORDER BY COUNT(*) DESC").fetchall())
        return {
            "items": self.count_items("item"),
            "looks": self.count_items("look"),
            "looks_without_garments": looks_unparsed,
            "vectors": self.count_vectors(),
            "garment_regions": int(c.execute(
                "SELECT COUNT(*) FROM vectors WHERE region>=0").fetchone()[0]),
            "by_label": by_label,
            "model": self.get_meta("model"),
            "parser": self.get_meta("parser"),
            "schema_version": int(self.get_meta("schema_version", "0") or 0),
        }


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error); nests as a no-op."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
