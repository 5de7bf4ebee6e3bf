"""Search a catalog by photo: similar items, and looks holding a similar garment.

A query photo (optionally a region of it) is embedded by the same classifier that ingested the
catalog and looked up in the FAISS index. Hits are grouped per listing (a look's best garment
counts); filters by category (hierarchy-aware: ``--category tops`` keeps T-shirts and blouses)
and colour (dictionary names in any language: ``--colour bleumarin``) are applied to the
hits, asking the index for more neighbours until ``k`` listings pass or the catalog is
exhausted. For a look, the garments it holds besides the matched one are returned too
("complete the look").
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fashionlens.catalog.fingerprint import COPY_MIN_COSINE, COPY_NCC, COPY_NCC_ALONE
from fashionlens.catalog.index import VectorIndex, open_index
from fashionlens.catalog.ingest import GARMENT_REGIONS, CatalogAnalyzer
from fashionlens.catalog.store import CatalogStore, StoredVector
from fashionlens.imaging import InvalidImage, open_image, read_bytes

__all__ = ["CatalogSearcher", "SearchHit", "parse_region", "query_views"]

# A query photo is also looked at turned by these angles (degrees), so a copy of a catalog
# photo that was rotated still finds it; a turned view's score is lowered by ROTATED_PENALTY so
# that it only wins where it is clearly better (a rotated copy), not for ordinary queries.
ROTATIONS = (45, -45, 90)
ROTATED_PENALTY = 0.02


@dataclass
class SearchHit:
    id: str
    score: float
    kind: str
    category: str | None
    colours: list[str]
    garment: dict[str, Any]
    complete_the_look: list[dict[str, Any]] | None = None
    title: str = ""
    image: str = ""
    copy: bool = False

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "score": round(float(self.score), 5), "kind": self.kind,
               "category": self.category, "colours": self.colours, "garment": self.garment,
               "title": self.title, "image": self.image}
        if self.copy:
            out["copy"] = True
        if self.complete_the_look is not None:
            out["complete_the_look"] = self.complete_the_look
        return out


def parse_region(text: str | None) -> tuple[float, float, float, float] | None:
    """``"x1,y1,x2,y2"`` in pixels (or fractions of the photo when all are ≤ 1)."""
    if not text:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ValueError(f"region must be x1,y1,x2,y2, got {text!r}")
    try:
        x1, y1, x2, y2 = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"region must be four numbers x1,y1,x2,y2, got {text!r}") from None
    if x2 <= x1 or y2 <= y1 or min(x1, y1) < 0:
        raise ValueError(f"region {text!r} is empty or negative (need x1<x2, y1<y2)")
    return x1, y1, x2, y2


def _crop(data: bytes, region: tuple[float, float, float, float]) -> bytes:
    img = open_image(data)
    w, h = img.size
    x1, y1, x2, y2 = region
    if max(region) <= 1.0:
        x1, x2, y1, y2 = x1 * w, x2 * w, y1 * h, y2 * h
    box = (max(0, round(x1)), max(0, round(y1)), min(w, round(x2)), min(h, round(y2)))
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        raise InvalidImage(f"region {region} leaves less than 8x8 pixels of a {w}x{h} photo",
                           "corrupt")
    buf = io.BytesIO()
    img.crop(box).save(buf, format="PNG")
    return buf.getvalue()


def _turn(img: Image.Image, angle: int) -> Image.Image:
    """``img`` turned by ``angle`` degrees, cropped to what is not the added white fill."""
    if angle % 90 == 0:
        return img.rotate(angle, expand=True)
    rgba = img.convert("RGBA").rotate(angle, expand=True, resample=Image.Resampling.BILINEAR)
    alpha = np.asarray(rgba.getchannel("A"))
    inside = alpha > 250  # pixels of the query itself, not the canvas this turn added
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    canvas = Image.new("RGB", rgba.size, (255, 255, 255))
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    # The query may itself be a turned photo on a white canvas (its corners are white): keep
    # the part of the turned view whose rows and columns are mostly photo, not fill.
    white = np.asarray(canvas.convert("L")) >= 250
    content = inside & ~white
    full_rows = np.flatnonzero(content.mean(axis=1) > 0.5 * content.mean(axis=1).max())
    full_cols = np.flatnonzero(content.mean(axis=0) > 0.5 * content.mean(axis=0).max())
    if full_rows.size and full_cols.size:
        rows, cols = full_rows, full_cols
    return canvas.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))


def query_views(data: bytes, rotations: tuple[int, ...] = ROTATIONS) -> list[bytes]:
    """The query photo as given, then turned by each angle (see :func:`_turn`)."""
    if not rotations:
        return [data]
    img = open_image(data)
    out = [data]
    for angle in rotations:
        buf = io.BytesIO()
        _turn(img, angle).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


class CatalogSearcher:
    """Search the catalog at ``db_dir`` (opened read-mostly; the index is checked first)."""

    def __init__(self, db_dir: str | Path, *, analyzer: CatalogAnalyzer | None = None,
                 index: VectorIndex | None = None, cache: dict[str, Any] | None = None) -> None:
        """``index``: an already open index to use. ``cache``: a dict that searchers of the same
        catalog share (one per thread, say), so derived tables such as the copy-detection
        index are built once."""
        from fashionlens.colour import default_dictionary
        from fashionlens.core.taxonomy import Taxonomy

        self.store = CatalogStore(db_dir, create=False)
        self.analyzer = analyzer
        if index is None:
            index, _ = open_index(self.store)
        self.index = index
        self.taxonomy = Taxonomy.load()
        self.colour_dictionary = default_dictionary()
        self._cache = {} if cache is None else cache

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ filters
    def category_node(self, text: str) -> str:
        """Taxonomy node for a category given as a class name, node id or word in a title."""
        t = self.taxonomy
        for cls in t.leaf_classes():
            if cls.lower() == text.strip().lower():
                return t.node_for_class(cls)
        if text.strip().lower() in t.nodes:
            return text.strip().lower()
        found = t.lookup(text)
        if not found:
            raise ValueError(f"unknown category {text!r} (not a class, node or synonym)")
        return found[0]

    def colour_ids(self, text: str) -> list[str]:
        d = self.colour_dictionary
        if text.strip().lower() in d.colours:
            return [text.strip().lower()]
        found = d.lookup(text)
        if not found:
            raise ValueError(f"unknown colour {text!r}")
        return found

    def _node_of(self, label: str | None, region: bool) -> str | None:
        if label is None:
            return None
        if region:
            return GARMENT_REGIONS.get(label)
        try:
            return self.taxonomy.node_for_class(label)
        except KeyError:
            return None

    # ------------------------------------------------------------------ search
    def embed(self, sources: list[Any]) -> list[Any]:
        if self.analyzer is None:
            self.analyzer = CatalogAnalyzer(parser=False, colours=False)
        # queries must be turned into vectors the way the catalog's were
        self.analyzer.probs_weight = float(self.store.get_meta("probs_weight", "0") or 0)
        return self.analyzer.embed(sources)

    def search_vectors(self, queries: np.ndarray, *, k: int = 10, category: str | None = None,
                       colour: str | None = None,
                       exclude: Iterable[str] = ()) -> list[list[SearchHit]]:
        """Top-``k`` listings for each query embedding (rows of ``queries``)."""
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        if self.index is None or self.index.ntotal == 0:
            return [[] for _ in range(len(queries))]
        node = self.category_node(category) if category else None
        colours = self.colour_ids(colour) if colour else None
        excluded = set(exclude)
        out: list[list[SearchHit]] = []
        for q in queries:
            want = max(1, k) * (4 if (node or colours or excluded) else 2)
            while True:
                scores, vids = self.index.search(q[None, :], min(want, self.index.ntotal))
                hits = self._collect(scores[0], vids[0], k, node, colours, excluded)
                if len(hits) >= k or want >= self.index.ntotal:
                    break
                want *= 4
            out.append(hits[:k])
        return out

    def _passes(self, v: StoredVector, item: Any, node: str | None,
                colours: list[str] | None) -> bool:
        if node is not None:
            own = self._node_of(v.label if v.region >= 0 else item.label, v.region >= 0)
            if own is None or not self.taxonomy.is_ancestor_or_self(node, own):
                return False
        if colours is not None:
            names = [c["name"] for c in (v.colours or item.colours) if c.get("share", 1) >= 0.2]
            if not any(n in colours for n in names):
                return False
        return True

    def _hit(self, item: Any, v: StoredVector, score: float) -> SearchHit:
        region = v.region >= 0
        garment = {"label": v.label, "box": v.box, "colours": [c["name"] for c in v.colours]}
        hit = SearchHit(
            id=item.id, score=score, kind=item.kind,
            category=v.label if region else item.label,
            colours=[c["name"] for c in (v.colours or item.colours)],
            garment=garment, title=item.title, image=item.image)
        if item.kind == "look":
            others = [o for o in self.store.vectors_of(item.pk) if o.vid != v.vid]
            hit.complete_the_look = [{"label": o.label, "box": o.box,
                                      "colours": [c["name"] for c in o.colours]}
                                     for o in others if o.region >= 0]
        return hit

    # ------------------------------------------------------------------ copies of a photo
    def _copy_index(self) -> tuple[np.ndarray, Any]:
        if "copies" not in self._cache:
            import faiss

            pks, fps = self.store.fingerprints()
            if not len(pks):
                self._cache["copies"] = (pks, None)
            else:
                index = faiss.IndexFlatIP(fps.shape[-1])
                index.add(np.ascontiguousarray(fps.reshape(-1, fps.shape[-1])))
                self._cache["copies"] = (np.repeat(pks, fps.shape[1]), index)
        return self._cache["copies"]

    def copies(self, view_fingerprints: np.ndarray, view_embeddings: np.ndarray, *,
               k: int = 10) -> dict[int, tuple[float, float]]:
        """Item pk → (NCC, cosine) of catalog photos that the query views are copies of."""
        owners, index = self._copy_index()
        if index is None:
            return {}
        scores, ids = index.search(np.ascontiguousarray(view_fingerprints, np.float32),
                                   min(k, index.ntotal))
        ncc: dict[int, float] = {}
        for s, i in zip(scores.reshape(-1).tolist(), ids.reshape(-1).tolist(), strict=True):
            if i >= 0 and s >= COPY_NCC:
                pk = int(owners[i])
                ncc[pk] = max(ncc.get(pk, -1.0), float(s))
        if not ncc:
            return {}
        emb = self.store.whole_photo_embeddings(list(ncc))
        out = {}
        for pk, n in ncc.items():
            if pk in emb:
                cos = float(np.max(np.asarray(view_embeddings, np.float32) @ emb[pk]))
                if cos >= COPY_MIN_COSINE:
                    out[pk] = (n, cos)
            elif n >= COPY_NCC_ALONE:  # a look stored as garments: pixels must say it alone
                out[pk] = (n, n)
        return out

    def _collect(self, scores: np.ndarray, vids: np.ndarray, k: int, node: str | None,
                 colours: list[str] | None, excluded: set[str]) -> list[SearchHit]:
        vecs = self.store.vectors_by_vid(vids.tolist())
        items = self.store.items_by_pk(v.item_pk for v in vecs.values())
        best: dict[int, SearchHit] = {}
        for s, vid in zip(scores.tolist(), vids.tolist(), strict=True):
            v = vecs.get(int(vid))
            if v is None:
                continue
            item = items[v.item_pk]
            if item.pk in best or item.id in excluded or not self._passes(v, item, node,
                                                                           colours):
                continue
            hit = self._hit(item, v, float(s))
            best[item.pk] = hit
            if len(best) >= k:
                break
        return sorted(best.values(), key=lambda h: -h.score)

    def _copy_hits(self, views: list[bytes], results: list[Any], category: str | None,
                   colour: str | None) -> list[SearchHit]:
        """Catalog photos the query is a copy of (cropped, rescaled, turned), as hits scored
        by the larger of NCC and embedding cosine."""
        found = self.copies(_view_fingerprints(views), np.stack([r.embedding for r in results]))
        if not found:
            return []
        node = self.category_node(category) if category else None
        colours = self.colour_ids(colour) if colour else None
        items = self.store.items_by_pk(found)
        out = []
        for pk, (ncc, cos) in found.items():
            item = items.get(pk)
            vecs = self.store.vectors_of(pk) if item else []
            if not vecs or not self._passes(vecs[0], item, node, colours):
                continue
            hit = self._hit(item, vecs[0], max(ncc, cos))
            hit.copy = True
            out.append(hit)
        return out

    def search(self, queries: list[str], *, k: int = 10, category: str | None = None,
               colour: str | None = None,
               region: tuple[float, float, float, float] | None = None,
               rotations: tuple[int, ...] = ROTATIONS) -> Iterator[dict[str, Any]]:
        """One ``{"query", "results"}`` (or ``{"query", "error"}``) per query photo, in order.

        Each query is also embedded turned by ``rotations`` (see :data:`ROTATIONS`); a
        listing's score is its best over the views (turned views lowered by a small penalty).
        """
        if category:
            self.category_node(category)  # unknown names fail before any photo is read
        if colour:
            self.colour_ids(colour)
        prepared: list[tuple[str, list[bytes], str | None]] = []
        limits = self.analyzer.limits if self.analyzer else _default_limits()
        for qp in queries:
            try:
                data = read_bytes(qp, limits)
                if region is not None:
                    data = _crop(data, region)
                prepared.append((qp, query_views(data, rotations), None))
            except InvalidImage as exc:
                prepared.append((qp, [], exc.reason))
        flat = [v for _, views, _ in prepared for v in views]
        embedded = iter(self.embed(flat)) if flat else iter(())
        for qp, views, error in prepared:
            results = [next(embedded) for _ in views]
            if error is None and hasattr(results[0], "error"):
                error = results[0].error
            if error is not None:
                yield {"query": qp, "error": error}
                continue
            good = [r for r in results if not hasattr(r, "error")]
            per_view = self.search_vectors(np.stack([r.embedding for r in good]), k=k,
                                           category=category, colour=colour)
            best: dict[str, SearchHit] = {}
            for i, hits in enumerate(per_view):
                for h in hits:
                    if i:
                        h.score -= ROTATED_PENALTY
                    if h.id not in best or h.score > best[h.id].score:
                        best[h.id] = h
            for h in self._copy_hits(views, good, category, colour):
                if h.id not in best or h.score >= best[h.id].score:
                    best[h.id] = h
                else:
                    best[h.id].copy = True
            ranked = sorted(best.values(), key=lambda h: -h.score)[:k]
            yield {"query": qp, "results": [h.to_json() for h in ranked]}


def _view_fingerprints(views: list[bytes]) -> np.ndarray:
    from fashionlens.catalog.fingerprint import fingerprint

    return np.stack([fingerprint(open_image(v)) for v in views])


def _default_limits():
    from fashionlens.imaging import DEFAULT_LIMITS

    return DEFAULT_LIMITS


def thumbnail_of(path: str, size: int = 128) -> bytes:
    """A small JPEG of a photo (for reports)."""
    img = open_image(path)
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


__all__ += ["thumbnail_of"]
