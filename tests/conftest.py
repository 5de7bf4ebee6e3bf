from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The development data set beside the checkout (present for developers and CI)."""
    if not (SHARED_DATA / "clothing" / "labels.csv").exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def demo_catalog_db(tmp_path_factory) -> Path:
    """The demo catalog (examples/catalog, 40 listings) ingested once per test session.

    Tests must treat it as read-only; a test that changes a catalog builds its own.
    """
    from fashionlens.catalog.ingest import ingest

    db = tmp_path_factory.mktemp("demo-catalog")
    report = ingest(REPO / "examples" / "catalog" / "catalog.csv", db)
    assert not report.rejected, report.rejected
    return db


@pytest.fixture(scope="session")
def analyzer():
    """The shipped models, loaded once per test session (read-only; thread-safe)."""
    from fashionlens.analysis import Analyzer

    return Analyzer.from_settings()
