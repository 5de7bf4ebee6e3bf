"""Catalog audit: checks that find listings whose photo, category, colour and title disagree,
near-duplicate photos and likely label errors; reports in JSON, CSV and HTML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fashionlens.audit.checks import (
    CHECKS,
    Finding,
    find_category_mismatches,
    find_colour_mismatches,
    find_label_issues_in_catalog,
    find_near_duplicates,
    find_title_mismatches,
)
from fashionlens.audit.labels import find_label_issues, label_quality_scores
from fashionlens.audit.report import write_csv, write_html, write_json

__all__ = [
    "CHECKS",
    "Finding",
    "audit_catalog",
    "find_category_mismatches",
    "find_colour_mismatches",
    "find_label_issues",
    "find_label_issues_in_catalog",
    "find_near_duplicates",
    "find_title_mismatches",
    "label_quality_scores",
    "write_csv",
    "write_html",
    "write_json",
]


TURNED_VIEWS_MAX = 2000
AUDIT_ROTATIONS = (45, -45, 90, -90)


def _turned_views(store, analyzer=None) -> dict:
    """Per item pk: (embeddings, fingerprints) of its photo turned by AUDIT_ROTATIONS (photos
    that can no longer be read fall back to the stored thumbnail)."""
    import numpy as np

    from fashionlens.catalog.ingest import CatalogAnalyzer
    from fashionlens.catalog.search import _view_fingerprints, query_views
    from fashionlens.imaging import InvalidImage, read_bytes

    analyzer = analyzer or CatalogAnalyzer(parser=False, colours=False)
    analyzer.probs_weight = float(store.get_meta("probs_weight", "0") or 0)
    pks, views = [], []
    for it in store.items(kind="item"):
        try:
            data = read_bytes(it.image, analyzer.limits) if not it.image.startswith(
                ("http://", "https://")) else store.thumb(it.id)
            turned = query_views(data, AUDIT_ROTATIONS)[1:]
        except (InvalidImage, TypeError):
            thumb = store.thumb(it.id)
            if not thumb:
                continue
            turned = query_views(thumb, AUDIT_ROTATIONS)[1:]
        pks.append(it.pk)
        views.append(turned)
    flat = [v for vs in views for v in vs]
    res = analyzer.embed(flat) if flat else []
    out, i = {}, 0
    for pk, vs in zip(pks, views, strict=True):
        ok = [j for j, r in enumerate(res[i:i + len(vs)]) if not hasattr(r, "error")]
        if ok:
            out[pk] = (np.stack([res[i + j].embedding for j in ok]),
                       _view_fingerprints([vs[j] for j in ok]))
        i += len(vs)
    return out


def audit_catalog(db_dir: str | Path, *, checks: Sequence[str] = CHECKS,
                  min_score: float = 0.5, turned_views: bool | None = None,
                  analyzer=None) -> list[Finding]:
    """Run ``checks`` over the catalog at ``db_dir``; findings ranked by score (highest first).

    ``min_score`` drops weaker findings (colour near misses score 0.2). ``turned_views``: also
    look for rotated copies among near-duplicates, by embedding each photo turned by ±45° and
    ±90° (4 more model runs per listing); by default on for catalogs of up to
    ``TURNED_VIEWS_MAX`` listings.
    """
    from fashionlens.catalog.index import open_index
    from fashionlens.catalog.store import CatalogStore
    from fashionlens.colour import default_dictionary
    from fashionlens.core.taxonomy import Taxonomy

    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known: {', '.join(CHECKS)}")
    store = CatalogStore(db_dir, create=False)
    try:
        taxonomy = Taxonomy.load()
        dictionary = default_dictionary()
        classes = store.classes or []
        items = list(store.items())
        found: list[Finding] = []
        if "category_mismatch" in checks:
            found += find_category_mismatches(items, classes=classes, taxonomy=taxonomy,
                                              min_score=min_score)
        if "colour_mismatch" in checks:
            found += find_colour_mismatches(items, dictionary=dictionary)
        if "title_mismatch" in checks:
            found += find_title_mismatches(items, classes=classes, taxonomy=taxonomy,
                                           dictionary=dictionary)
        if "near_duplicate" in checks:
            index, _ = open_index(store)
            if turned_views is None:
                turned_views = store.count_items("item") <= TURNED_VIEWS_MAX
            views = _turned_views(store, analyzer) if turned_views and index else None
            found += find_near_duplicates(store, index, views=views)
        if "label_issue" in checks:
            found += find_label_issues_in_catalog(items, classes=classes, taxonomy=taxonomy)
    finally:
        store.close()
    found = [f for f in found if f.score >= min_score]
    found.sort(key=lambda f: (-f.score, f.id, f.check))
    return found
