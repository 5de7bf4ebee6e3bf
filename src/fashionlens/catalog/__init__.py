"""The catalog: listings in SQLite (source of truth), embeddings in a FAISS index (derived),
ingest from CSV/JSONL, and search by photo. See ``docs/catalog.md``."""

from fashionlens.catalog.index import VectorIndex, open_index, resolve_factory
from fashionlens.catalog.ingest import CatalogAnalyzer, IngestReport, ingest
from fashionlens.catalog.rows import CatalogRow, RowReject, read_rows
from fashionlens.catalog.search import CatalogSearcher, SearchHit, parse_region
from fashionlens.catalog.store import CatalogStore, StoredItem, StoredVector

__all__ = [
    "CatalogAnalyzer",
    "CatalogRow",
    "CatalogSearcher",
    "CatalogStore",
    "IngestReport",
    "RowReject",
    "SearchHit",
    "StoredItem",
    "StoredVector",
    "VectorIndex",
    "ingest",
    "open_index",
    "parse_region",
    "read_rows",
    "resolve_factory",
]
