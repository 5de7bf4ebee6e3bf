"""The vector index: FAISS, built from a factory string, derived from the database.

The index maps a ``vid`` (``vectors.vid`` in SQLite) to its embedding, inner product on unit
vectors (cosine similarity). It is *derived data*: :func:`open_index` loads the saved copy,
checks it against the database and then either uses it as is, replays the vectors added since
it was saved, or rebuilds it from the stored embeddings. Saving writes a temporary file and
renames it, so a crash leaves the previous copy (which the check then replays or rebuilds).

Factory strings are FAISS's (``"Flat"``, ``"HNSW32"``, ``"PCA128,IVF4096,PQ32"``); the index is
always wrapped as ``IDMap2``. ``"auto"`` picks exact search for small catalogs and HNSW (or
PCA + IVF-PQ for very large ones) as the catalog grows.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

__all__ = ["VectorIndex", "open_index", "resolve_factory", "INDEX_FILE", "INDEX_META"]

INDEX_FILE = "index.faiss"
INDEX_META = "index.json"
EXACT_BELOW = 20_000          # "auto": exact search below this many vectors ...
HNSW_BELOW = 2_000_000        # ... HNSW below this, PCA + IVF-PQ above
DEFAULT_EF_SEARCH = 256       # recall@10 0.956 at p50 0.4 ms on 1M x 128-d (catalog_ann.json)
DEFAULT_NPROBE = 32


def resolve_factory(factory: str, n: int, dim: int) -> str:
    """The concrete factory string for ``factory`` (``"auto"`` depends on the size ``n``)."""
    factory = (factory or "auto").strip()
    if factory.lower() != "auto":
        return factory
    if n < EXACT_BELOW:
        return "Flat"
    if n < HNSW_BELOW:
        return "HNSW32"
    nlist = 1 << max(10, min(16, round(math.log2(4 * math.sqrt(n)))))
    return f"PCA{min(128, dim)},IVF{nlist},PQ32"


def _f32(x: Any, dim: int | None = None) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or (dim is not None and a.shape[1] != dim):
        raise ValueError(f"expected float32 (n, {dim}) vectors, got shape {a.shape}")
    return a


@dataclass
class VectorIndex:
    """A FAISS ``IDMap2`` index with the facts needed to check it against the database."""

    index: Any
    factory: str
    dim: int
    max_vid: int = 0
    deletions: int = 0
    requested: str | None = None  # the factory asked for, when it could not be trained yet

    @classmethod
    def empty(cls, factory: str, dim: int) -> VectorIndex:
        index = faiss.index_factory(dim, "IDMap2," + factory, faiss.METRIC_INNER_PRODUCT)
        out = cls(index=index, factory=factory, dim=dim)
        out.set_search_params()
        return out

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def is_trained(self) -> bool:
        return bool(self.index.is_trained)

    def set_search_params(self, *, ef_search: int = DEFAULT_EF_SEARCH,
                          nprobe: int = DEFAULT_NPROBE) -> None:
        ps = faiss.ParameterSpace()
        for name, value in (("efSearch", ef_search), ("nprobe", nprobe)):
            with contextlib.suppress(RuntimeError):  # this index type has no such knob
                ps.set_index_parameter(self.index, name, value)

    def train(self, x: np.ndarray) -> None:
        if not self.is_trained:
            self.index.train(_f32(x, self.dim))

    def add(self, vids: np.ndarray, x: np.ndarray) -> None:
        vids = np.ascontiguousarray(vids, dtype=np.int64).reshape(-1)
        x = _f32(x, self.dim)
        if x.shape[0] != vids.shape[0]:
            raise ValueError(f"{x.shape[0]} vectors but {vids.shape[0]} ids")
        if not len(vids):
            return
        self.index.add_with_ids(x, vids)
        self.max_vid = max(self.max_vid, int(vids.max()))

    def remove(self, vids: np.ndarray) -> bool:
        """Remove ids in place; False when this index type cannot (rebuild it instead)."""
        try:
            self.index.remove_ids(np.ascontiguousarray(vids, dtype=np.int64).reshape(-1))
        except RuntimeError:
            return False
        return True

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores (n, k) float32, vids (n, k) int64)``; missing neighbours have vid -1."""
        x = _f32(x, self.dim)
        k = max(1, int(k))
        if self.ntotal == 0:
            return (np.full((x.shape[0], k), -np.inf, np.float32),
                    np.full((x.shape[0], k), -1, np.int64))
        scores, vids = self.index.search(x, k)
        return scores, vids

    # ------------------------------------------------------------------ persistence
    def meta(self) -> dict[str, Any]:
        return {"factory": self.factory, "requested": self.requested or self.factory,
                "dim": self.dim, "ntotal": self.ntotal, "max_vid": self.max_vid,
                "deletions": self.deletions, "faiss": faiss.__version__}

    def save(self, directory: str | Path) -> None:
        """Write ``index.faiss`` and ``index.json`` atomically (temp file + fsync + rename)."""
        directory = Path(directory)
        tmp = directory / (INDEX_FILE + ".tmp")
        faiss.write_index(self.index, str(tmp))
        _fsync(tmp)
        meta_tmp = directory / (INDEX_META + ".tmp")
        meta_tmp.write_text(json.dumps(self.meta(), indent=2) + "\n", encoding="utf-8")
        _fsync(meta_tmp)
        os.replace(tmp, directory / INDEX_FILE)
        os.replace(meta_tmp, directory / INDEX_META)

    @classmethod
    def load(cls, directory: str | Path) -> VectorIndex | None:
        directory = Path(directory)
        try:
            meta = json.loads((directory / INDEX_META).read_text(encoding="utf-8"))
            index = faiss.read_index(str(directory / INDEX_FILE))
        except (OSError, ValueError, RuntimeError):
            return None
        if int(index.ntotal) != int(meta.get("ntotal", -1)):
            return None  # the two files come from different saves
        out = cls(index=index, factory=meta["factory"], dim=int(meta["dim"]),
                  max_vid=int(meta["max_vid"]), deletions=int(meta["deletions"]),
                  requested=meta.get("requested"))
        out.set_search_params()
        return out


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_index(store, factory: str, *, train_size: int = 200_000,
                log: Callable[[str], None] | None = None) -> VectorIndex:
    """A fresh index over every vector in ``store`` (trained first when the type needs it)."""
    n = store.count_vectors()
    dim = int(store.get_meta("dim", "0") or 0)
    if dim <= 0:
        first = next(store.iter_embeddings(chunk=1), None)
        dim = int(first[1].shape[1]) if first is not None else 0
    if dim <= 0:
        raise ValueError("the catalog has no vectors yet; nothing to index")
    concrete = resolve_factory(factory, n, dim)
    index = VectorIndex.empty(concrete, dim)
    if not index.is_trained:
        if log:
            log(f"training {concrete} on up to {train_size:,} of {n:,} vectors")
        sample, got = [], 0
        for _, emb in store.iter_embeddings():
            sample.append(emb)
            got += len(emb)
            if got >= train_size:
                break
        try:
            index.train(np.concatenate(sample)[:train_size])
        except RuntimeError as exc:  # e.g. fewer vectors than PCA dimensions or IVF lists
            if log:
                log(f"index: cannot train {concrete} on {n} vectors yet ({str(exc)[-90:]}); "
                    "using exact search until the catalog is larger")
            index = VectorIndex.empty("Flat", dim)
            index.requested = concrete
    for vids, emb in store.iter_embeddings():
        index.add(vids, emb)
    index.max_vid = max(index.max_vid, store.max_vid())
    index.deletions = store.deletions
    return index


def open_index(store, *, factory: str | None = None, save: bool = True,
               log: Callable[[str], None] | None = None) -> tuple[VectorIndex | None, str]:
    """The catalog's index, checked against the database: ``(index, action)``.

    ``action`` is ``"loaded"`` (matched), ``"replayed"`` (vectors added since the last save
    were added), ``"rebuilt"`` (the saved copy was missing, damaged, built with another factory
    or older than a deletion) or ``"empty"`` (no vectors yet: ``index`` is None).
    ``factory`` defaults to the one recorded in the database (``"auto"`` when none is).
    """
    wanted = factory or store.get_meta("index_factory", "auto") or "auto"
    if factory:
        store.set_meta("index_factory", factory)
    n = store.count_vectors()
    if n == 0:
        return None, "empty"
    dim = int(store.get_meta("dim", "0") or 0)
    idx = VectorIndex.load(store.dir)
    reason = None
    if idx is None:
        reason = "no saved index"
    elif (idx.requested or idx.factory) != resolve_factory(wanted, n, idx.dim):
        reason = f"factory {idx.factory} differs from {resolve_factory(wanted, n, idx.dim)}"
    elif dim and idx.dim != dim:
        reason = f"dimension {idx.dim} differs from the catalog's {dim}"
    elif idx.deletions != store.deletions:
        reason = "listings were removed or replaced since it was saved"
    elif idx.ntotal != store.count_vectors(max_vid=idx.max_vid):
        reason = f"it holds {idx.ntotal} vectors, the database {n}"
    if reason is None:
        assert idx is not None
        if idx.max_vid == store.max_vid():
            return idx, "loaded"
        added = 0
        for vids, emb in store.iter_embeddings(after_vid=idx.max_vid):
            idx.add(vids, emb)
            added += len(vids)
        if log:
            log(f"index: replayed {added} vectors added since it was saved")
        if save:
            idx.save(store.dir)
        return idx, "replayed"
    if log:
        log(f"index: rebuilding ({reason})")
    idx = build_index(store, wanted, log=log)
    if save:
        idx.save(store.dir)
    return idx, "rebuilt"
