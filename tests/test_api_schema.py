"""Property-based tests of the REST API against its own OpenAPI schema (schemathesis).

Every operation the app publishes in ``/openapi.json`` is collected at run time (new endpoints
are picked up as they are added) and fed generated requests, valid and invalid: multipart
image fields get random bytes, which must be refused with a 4xx and never a 5xx. Checks:

- ``not_a_server_error``: no 5xx, whatever the input — except the one deliberate one, a fast
  ``503 overloaded`` with ``Retry-After`` when capacity is full (the generator posts audit
  jobs faster than they run, so the audit queue does fill up);
- ``response_schema_conformance``: a response whose status code the schema declares has the
  declared shape;
- ``errors_have_one_shape``: every 4xx/5xx body is ``{"error": {"code", "message"}}``.

Derandomized (same examples every run) and capped at a few examples per operation so the
whole module stays within about a minute on 2 cores.
"""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from fashionlens.api import create_app  # noqa: E402
from fashionlens.core.settings import get_settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "catalog"
BUNDLE = get_settings().models_dir / "garment-classifier"
CATALOG_ROWS = 6  # demo items in the test catalog (plus one look)
MAX_EXAMPLES = 40

pytestmark = pytest.mark.skipif(not (BUNDLE / "manifest.json").exists(),
                                reason="shipped classifier bundle not present")


def _small_catalog(root: Path) -> Path:
    """A few demo listings (and one look) ingested into ``root / "db"``."""
    from fashionlens.catalog.ingest import ingest

    with open(DEMO / "catalog.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    items = [r for r in rows if r["kind"] != "look"][:CATALOG_ROWS]
    looks = [r for r in rows if r["kind"] == "look"][:1]
    path = root / "catalog.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "image", "title", "category", "colour", "kind"])
        for r in [*items, *looks]:
            w.writerow([r["id"], str(DEMO / r["image"]), r["title"], r["category"], r["colour"],
                        r["kind"]])
    db = root / "db"
    ingest(path, db)
    return db


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    cfg = get_settings()
    cfg.max_image_bytes = 2 * 1024 * 1024
    cfg.max_image_pixels = 4_000_000
    root = tmp_path_factory.mktemp("api-schema")
    params = inspect.signature(create_app).parameters
    kwargs = {}
    if "db_dir" in params:
        kwargs["db_dir"] = _small_catalog(root)
    if "data_dir" in params:
        kwargs["data_dir"] = root / "data"
    app = create_app(cfg, **kwargs)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    # Run the app's lifespan shutdown now (it stops background work such as audit jobs)
    # rather than at interpreter exit.
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.32's lazy schemas read ``node._nodeid``, which pytest 9 no longer has
    (it became ``node._id`` behind the ``nodeid`` property); give it the attribute it reads."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _is_overload_refusal(response) -> bool:
    """The documented fast refusal: 503, ``Retry-After``, error code ``overloaded``."""
    if response.status_code != 503 or "retry-after" not in response.headers:
        return False
    try:
        return response.json()["error"]["code"] == "overloaded"
    except (ValueError, KeyError, TypeError):
        return False


def no_server_error(ctx, response, case):
    """``not_a_server_error``, but the deliberate 503 ``overloaded`` is not a bug."""
    if _is_overload_refusal(response):
        return None
    return not_a_server_error(ctx, response, case)


def errors_have_one_shape(ctx, response, case):
    """Every refusal, whatever its status, is the one JSON error shape of the API."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: "
                             f"{response.text[:200]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict) and set(error) == {"code", "message"}, body
    assert isinstance(error["code"], str) and error["code"], body
    assert isinstance(error["message"], str) and error["message"], body
    return None


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(checks=[no_server_error, response_schema_conformance,
                                  errors_have_one_shape])
