"""Catalog ingest: rows → safe decode → classify, hedge, colours, embed → SQLite → index.

Each listing is committed to SQLite in its own transaction together with its vectors; only
then is it *acknowledged* (counted, added to the in-memory index). The FAISS index is saved
every ``save_every`` listings and at the end; a run killed in between loses nothing, since
the next run replays the vectors the saved index lacks (:func:`~.index.open_index`).

Re-running is idempotent: a listing whose photo (SHA-256 of the bytes) and stated fields are
unchanged is skipped; one whose fields changed but photo did not is updated without
re-analysis; a new photo under an existing id replaces the listing.

Rows that cannot be used (wrong column count, no image, a missing or unreadable file, a file
that is not a JPEG/PNG/WebP image) go to the rejects file with a reason; the run goes on.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fashionlens.catalog.fingerprint import fingerprints
from fashionlens.catalog.index import VectorIndex, open_index
from fashionlens.catalog.rows import CatalogRow, RowReject, fetch_image, read_rows
from fashionlens.catalog.store import CatalogStore, StoredItem, StoredVector
from fashionlens.garments import shows_person
from fashionlens.imaging import DEFAULT_LIMITS, ImageLimits, InvalidImage, open_image

__all__ = ["CatalogAnalyzer", "IngestReport", "ingest", "load_parser", "remove", "REJECTS_NAME"]

REJECTS_NAME = "rejects.csv"
THUMB_SIZE = 128
COLOUR_SIZE = 320
# Parser classes that are garments (searchable regions) and the taxonomy node each one is.
GARMENT_REGIONS = {"upper-body": "upper-body", "outerwear": "outerwear", "dress": "one-piece",
                   "lower-body": "bottoms", "footwear": "footwear", "legwear": None,
                   "bag": None, "accessories": None}
# A garment must cover this share of the photo to count; a row of unstated kind is a look when
# the parser sees such a garment on a person (fashionlens.garments.shows_person).
LOOK_MIN_AREA = 0.03
# Search vectors are the embedding, optionally joined by sqrt(class probabilities) x this
# weight and renormalised: the inner product then adds the Bhattacharyya coefficient of the
# two photos' class probabilities (weight²) to their embedding cosine. 0 = embedding only.
PROBS_WEIGHT = 0.0


@dataclass
class IngestReport:
    """What one ingest run did (counts, and the rejects with their reasons)."""

    added: int = 0
    replaced: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowReject] = field(default_factory=list)
    index_action: str = ""
    looks: int = 0
    looks_without_garments: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "replaced": self.replaced, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": len(self.rejected),
                "looks": self.looks, "looks_without_garments": self.looks_without_garments,
                "index": self.index_action}


def load_parser(models_dir: Path | None = None) -> Any | None:
    """The garment parser when its code and bundle are installed, else None."""
    try:
        from fashionlens.inference.parser import GarmentParser  # type: ignore[import-not-found]
    except ImportError:
        return None
    from fashionlens.core.settings import get_settings

    bundle = (models_dir or get_settings().models_dir) / "garment-parser"
    if not (bundle / "manifest.json").exists():
        return None
    try:
        return GarmentParser(bundle)
    except Exception:  # a parser that cannot start must not stop the catalog
        return None


def _parse(parser: Any, rgb: np.ndarray) -> tuple[list[Any], bool]:
    """Garment instances (with masks at ``rgb``'s size) from a GarmentParser, and whether the
    photo shows a person wearing them (:func:`fashionlens.garments.shows_person`)."""
    classes = list(parser.classes)
    if hasattr(parser, "parse_image"):
        parsed = parser.parse_image(Image.fromarray(rgb), keep_photo=False)
        instances, label_map = list(parsed.instances), getattr(parsed, "label_map", None)
        if label_map is None:
            return instances, True
    else:
        from fashionlens.garments import instances_from_label_map

        label_map, _ = parser.label_map(Image.fromarray(rgb))
        label_map = np.asarray(label_map)
        instances = instances_from_label_map(label_map, classes)
    return instances, shows_person(label_map, classes)


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _jpeg(img: Image.Image, size: int, quality: int = 80) -> bytes:
    img = img.copy()
    img.thumbnail((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _colours_json(gc: Any) -> tuple[list[dict[str, Any]], str | None]:
    return gc.to_json()["colours"], gc.pattern


class CatalogAnalyzer:
    """Everything ingest and search compute from a photo, with one set of models.

    ``classifier``: a :class:`~fashionlens.inference.GarmentClassifier` (default: the shipped
    bundle). Hedging is used when the bundle carries a calibration (``hedged`` is None
    otherwise); the garment parser when one is installed (``parser=False`` turns it off).
    """

    def __init__(self, classifier: Any = None, *, parser: Any = None,
                 target_accuracy: float | None = None, colours: bool = True,
                 limits: ImageLimits = DEFAULT_LIMITS,
                 probs_weight: float = PROBS_WEIGHT) -> None:
        from fashionlens.core.settings import get_settings

        s = get_settings()
        if classifier is None:
            from fashionlens.inference import GarmentClassifier

            classifier = GarmentClassifier(s.models_dir / "garment-classifier",
                                           threads=s.threads, limits=limits)
        self.classifier = classifier
        self.classes = list(classifier.classes)
        self.target_accuracy = target_accuracy or s.target_accuracy
        self.hedger = None
        if classifier.bundle.manifest.get("hedging"):
            from fashionlens.hedging import hedger_from_bundle

            self.hedger = hedger_from_bundle(classifier.bundle)
        self.parser = load_parser(s.models_dir) if parser is None else (parser or None)
        self.colours = colours
        self.colour_namer = None
        if colours:
            from fashionlens.colour_namer import default_namer

            self.colour_namer = default_namer(s.models_dir)
        self.limits = limits
        self.probs_weight = float(probs_weight)

    @property
    def model_name(self) -> str:
        """Bundle name, version and a fingerprint of its manifest (changes when retrained)."""
        b = self.classifier.bundle
        doc = json.dumps(b.manifest, sort_keys=True, default=str).encode("utf-8")
        return f"{b.name}@{b.manifest.get('version', '?')}#{hashlib.sha256(doc).hexdigest()[:12]}"

    # ------------------------------------------------------------------ embedding
    def embed(self, sources: list[Any]) -> list[Any]:
        """Classification (with probs, and the search vector as ``embedding``) or
        ImageFailure per source, in order."""
        out = list(self.classifier.classify(sources, with_embedding=True, with_probs=True))
        if self.probs_weight > 0:
            for res in out:
                if not hasattr(res, "error"):
                    res.embedding = self.search_vector(res.embedding, res.probs)
        return out

    def search_vector(self, embedding: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """The vector stored in the index for a photo (see :data:`PROBS_WEIGHT`)."""
        e = np.asarray(embedding, np.float32)
        if self.probs_weight <= 0:
            return e
        v = np.concatenate([e, self.probs_weight * np.sqrt(np.asarray(probs, np.float32))])
        return (v / np.linalg.norm(v)).astype(np.float32)

    @property
    def vector_dim(self) -> int:
        size = self.classifier.preprocessing.size
        _, emb = self.classifier.run(np.zeros((1, 3, size, size), np.float32))
        return int(emb.shape[1]) + (len(self.classes) if self.probs_weight > 0 else 0)

    def hedge(self, probs: np.ndarray) -> dict[str, Any] | None:
        if self.hedger is None or probs is None:
            return None
        return self.hedger.predict(np.asarray(probs)[None, :], self.target_accuracy)[0].to_dict()

    # ------------------------------------------------------------------ listings
    def analyze(self, batch: list[tuple[CatalogRow, bytes, str]]) -> list[StoredItem | RowReject]:
        """Analyse ``(row, photo bytes, image hash)`` triples; one result per triple."""
        results = self.embed([data for _, data, _ in batch])
        out: list[StoredItem | RowReject] = []
        for (row, data, digest), res in zip(batch, results, strict=True):
            if hasattr(res, "error"):
                out.append(RowReject(row.line, row.id, f"image {row.image}: {res.error}"))
                continue
            try:
                out.append(self._item(row, data, digest, res))
            except InvalidImage as exc:
                out.append(RowReject(row.line, row.id, f"image {row.image}: {exc.reason}"))
        return out

    def _item(self, row: CatalogRow, data: bytes, digest: str, res: Any) -> StoredItem:
        img = open_image(data, limits=self.limits, draft_size=COLOUR_SIZE)
        width, height = img.size
        small = img.copy()
        small.thumbnail((COLOUR_SIZE, COLOUR_SIZE), Image.Resampling.BILINEAR)
        rgb = np.asarray(small)
        item = StoredItem(
            id=row.id, kind="item", image=row.image, image_hash=digest,
            fields_hash=row.fields_hash(), title=row.title, category=row.category,
            colour=row.colour, metadata=row.metadata, label=res.label,
            confidence=float(res.confidence), hedged=self.hedge(res.probs),
            probs=np.asarray(res.probs, np.float32), width=width, height=height,
            thumb=_jpeg(small, THUMB_SIZE), fingerprint=fingerprints(small))
        regions: list[StoredVector] = []
        person = False
        if row.kind in ("look", "auto") and self.parser is not None:
            try:
                regions, person = self._garments(rgb, only_if_person=row.kind == "auto")
            except Exception as exc:  # a failing parser must not lose the listing
                regions = []
                item.metadata = {**item.metadata, "_parser_error": str(exc)[:200]}
        if row.kind == "look":
            item.kind, item.kind_source = "look", "stated"
        elif row.kind == "auto" and person and regions:
            item.kind, item.kind_source = "look", "parser"
        else:
            item.kind_source = "stated" if row.kind == "item" else "default"
            regions = []
        if item.kind == "look" and regions:
            item.vectors = regions
            item.colours = [c for v in regions[:1] for c in v.colours]
        else:
            if self.colours:
                from fashionlens.colour import colours_of_region, garment_mask_for_product_photo

                mask = garment_mask_for_product_photo(rgb) if item.kind == "item" else None
                item.colours, item.pattern = _colours_json(
                    colours_of_region(rgb, mask, namer=self.colour_namer))
            item.vectors = [StoredVector(embedding=np.asarray(res.embedding, np.float32),
                                         region=-1, label=res.label, colours=item.colours)]
        return item

    def _garments(self, rgb: np.ndarray, *,
                  only_if_person: bool = False) -> tuple[list[StoredVector], bool]:
        """One vector per garment region of an outfit photo (empty without a parser), and
        whether a person wears them; ``only_if_person``: embed nothing when none does."""
        from fashionlens.colour import colours_of_region

        h, w = rgb.shape[:2]
        instances, person = _parse(self.parser, rgb)
        found = [g for g in instances
                 if GARMENT_REGIONS.get(g.label) is not None and g.mask is not None
                 and g.mask.shape == (h, w) and g.area >= LOOK_MIN_AREA * h * w]
        if not found or (only_if_person and not person):
            return [], person
        img = Image.fromarray(rgb)
        crops = []
        for g in found:
            x1, y1, x2, y2 = g.box
            mx, my = round(0.06 * (x2 - x1)), round(0.06 * (y2 - y1))
            box = (max(0, x1 - mx), max(0, y1 - my), min(w, x2 + mx), min(h, y2 + my))
            crops.append(_png(img.crop(box)))
        embedded = self.embed(crops)
        out = []
        for i, (g, res) in enumerate(zip(found, embedded, strict=True)):
            if hasattr(res, "error"):
                continue
            colours = (_colours_json(colours_of_region(rgb, g.mask, namer=self.colour_namer))[0]
                       if self.colours else [])
            out.append(StoredVector(
                embedding=np.asarray(res.embedding, np.float32), region=i, label=g.label,
                box=[int(v) for v in g.box], colours=colours))
        return out, person


def _prepare(row: CatalogRow, store: CatalogStore, limits: ImageLimits) -> tuple:
    """('skip'|'update'|'analyse'|'reject', payload) for one row before any model runs."""
    try:
        data = fetch_image(row, limits=limits)
    except InvalidImage as exc:
        return "reject", RowReject(row.line, row.id, f"image {row.image}: {exc.reason}")
    digest = _hash(data)
    old = store.hashes(row.id)
    if old is not None and old[0] == digest:
        return ("skip", None) if old[1] == row.fields_hash() else ("update", None)
    return "analyse", (data, digest, old is not None)


def ingest(
    rows: str | Path | Iterable[CatalogRow | RowReject],
    db_dir: str | Path,
    *,
    analyzer: CatalogAnalyzer | None = None,
    factory: str | None = None,
    rejects_path: str | Path | None = None,
    batch_size: int = 16,
    save_every: int = 256,
    progress: Callable[[int, int | None], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> IngestReport:
    """Ingest a catalog file (or rows) into the catalog at ``db_dir``; see the module doc.

    ``rejects_path`` (default ``<db_dir>/rejects.csv``) is rewritten by every run, one line per
    rejected row, written as soon as the row is rejected. ``progress(done, total)`` is called
    after each row.
    """
    db_dir = Path(db_dir)
    source = str(rows) if isinstance(rows, str | Path) else ""
    if isinstance(rows, str | Path):
        total: int | None = sum(1 for _ in read_rows(rows))
        rows = read_rows(rows)
    else:
        rows = list(rows)
        total = len(rows)
    store = CatalogStore(db_dir)
    report = IngestReport()
    rejects_file = Path(rejects_path) if rejects_path else db_dir / REJECTS_NAME
    rej_f = open(rejects_file, "w", encoding="utf-8", newline="")  # noqa: SIM115
    import csv

    rej_w = csv.writer(rej_f)
    rej_w.writerow(["source", "line", "id", "reason", "raw"])
    done = 0

    def reject(r: RowReject) -> None:
        report.rejected.append(r)
        rej_w.writerow([source, r.line, r.id or "", r.reason, r.raw])
        rej_f.flush()

    def tick(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    try:
        analyzer = analyzer or CatalogAnalyzer()
        _check_model(store, analyzer)
        index, action = open_index(store, factory=factory, log=log)
        report.index_action = action
        pending: list[tuple[CatalogRow, bytes, str, bool]] = []
        since_save = 0

        def flush() -> None:
            nonlocal index, since_save
            if not pending:
                return
            results = analyzer.analyze([(r, d, h) for r, d, h, _ in pending])
            for (row, _, _, existed), res in zip(pending, results, strict=True):
                if isinstance(res, RowReject):
                    reject(res)
                    tick()
                    continue
                old_vids: list[int] = []
                if existed:
                    old = store.get(row.id)
                    old_vids = [v.vid for v in store.vectors_of(old.pk)] if old else []
                vids = store.put(res)  # committed: the row is acknowledged from here on
                if index is None:
                    index = _new_index(store, factory, _dim(res))
                if old_vids and index.remove(np.array(old_vids, np.int64)):
                    index.deletions = store.deletions
                # (an index that cannot delete keeps a stale ``deletions``: rebuilt at the end)
                index.add(np.array(vids, np.int64), np.stack([v.embedding for v in res.vectors]))
                report.replaced += existed
                report.added += not existed
                if res.kind == "look":
                    report.looks += 1
                    report.looks_without_garments += all(v.region < 0 for v in res.vectors)
                since_save += 1
                tick()
            pending.clear()
            if index is not None and since_save >= save_every and index.is_trained:
                index.save(store.dir)
                since_save = 0

        for row in rows:
            if isinstance(row, RowReject):
                reject(row)
                tick()
                continue
            what, payload = _prepare(row, store, analyzer.limits)
            if what == "reject":
                reject(payload)
                tick()
            elif what == "skip":
                report.unchanged += 1
                tick()
            elif what == "update":
                store.update_fields(row.id, title=row.title, category=row.category,
                                    colour=row.colour, metadata=row.metadata,
                                    fields_hash=row.fields_hash(), image=row.image)
                report.updated += 1
                tick()
            else:
                data, digest, existed = payload
                pending.append((row, data, digest, existed))
                if len(pending) >= batch_size:
                    flush()
        flush()
        # The index grown in this run may no longer be the size "auto" asks for, or may have
        # failed to delete (stale ``deletions``): open_index checks all that and rebuilds.
        if index is not None and index.is_trained:
            index.save(store.dir)
        _, final = open_index(store, log=log)
        if final == "rebuilt" or report.index_action == "empty" and index is not None:
            report.index_action = "rebuilt" if final == "rebuilt" else "built"
    finally:
        rej_f.close()
        store.close()
    return report


def _dim(item: StoredItem) -> int:
    return int(np.asarray(item.vectors[0].embedding).shape[-1])


def _new_index(store: CatalogStore, factory: str | None, dim: int) -> VectorIndex:
    """An empty index to grow during ingest; a type that needs training starts exact and
    :func:`open_index` rebuilds it with the requested factory at the end of the run."""
    from fashionlens.catalog.index import resolve_factory

    wanted = factory or store.get_meta("index_factory", "auto") or "auto"
    index = VectorIndex.empty(resolve_factory(wanted, store.count_vectors(), dim), dim)
    if not index.is_trained:
        index = VectorIndex.empty("Flat", dim)
    index.deletions = store.deletions
    return index


def _check_model(store: CatalogStore, analyzer: CatalogAnalyzer) -> None:
    """Vectors from different models cannot share an index: refuse to mix them."""
    model = store.get_meta("model")
    if model is None or store.count_items() == 0:
        with store.transaction():
            store.set_meta("model", analyzer.model_name)
            store.set_meta("classes", json.dumps(analyzer.classes))
            store.set_meta("dim", str(analyzer.vector_dim))
            store.set_meta("probs_weight", repr(analyzer.probs_weight))
            store.set_meta("parser", "yes" if analyzer.parser is not None else "no")
        return
    if model != analyzer.model_name:
        raise RuntimeError(
            f"catalog {store.dir} was built with model {model}, not {analyzer.model_name}; "
            "re-ingest into a new --db directory")
    analyzer.probs_weight = float(store.get_meta("probs_weight", "0") or 0)


def remove(db_dir: str | Path, ids: Iterable[str]) -> int:
    """Remove listings by id; the index drops their vectors in place (or is rebuilt)."""
    store = CatalogStore(db_dir, create=False)
    try:
        ids = [i for i in ids if store.get(i) is not None]
        vids = [v.vid for i in ids for v in store.vectors_of(store.get(i).pk)]
        index, _ = open_index(store, save=False)
        n = store.remove(ids)
        if index is not None and vids and index.remove(np.array(vids, np.int64)):
            index.deletions = store.deletions
            index.save(store.dir)
        open_index(store)  # rebuilds when the in-place removal was not possible
        return n
    finally:
        store.close()

