"""The demo catalog that ``fashionlens serve`` shows when it is given no ``--db``.

It is ``examples/catalog`` of a source checkout (40 listings with photos, five deliberate
mistakes for the audit), ingested once into ``<data>/demo-catalog``; later starts find it
unchanged (ingest skips rows whose photo and text are the same) and start at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["demo_catalog_file", "ensure_demo_catalog"]


def demo_catalog_file() -> Path | None:
    """``examples/catalog/catalog.csv`` of the checkout this package runs from, if any."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / "catalog" / "catalog.csv"
        if candidate.exists():
            return candidate
    return None


def ensure_demo_catalog(data_dir: Path, *, log: Callable[[str], None] = print) -> Path | None:
    """The demo catalog's folder, ingested (or brought up to date) first; None without one."""
    from fashionlens.catalog.ingest import ingest

    source = demo_catalog_file()
    if source is None:
        log("no demo catalog found (examples/catalog); serving analysis only")
        return None
    db = Path(data_dir) / "demo-catalog"
    report = ingest(source, db).to_json()
    log(f"demo catalog {db}: {report['added']} added, {report['unchanged']} unchanged, "
        f"{report['rejected']} rejected")
    return db
