"""FastAPI app factory: ``create_app(settings, db_dir=...)``.

The app holds one set of models (:class:`~fashionlens.analysis.Analyzer`), the served catalog
when there is one (:class:`~fashionlens.api.catalog.CatalogService`), the audit job runner,
the concurrency limit and the metrics. Middleware, outermost first: metrics, the request body
limits (413 while streaming, 408 for stalled senders), then load shedding (a fast 503 before
the upload is read when every analysis slot is busy).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from fashionlens import __version__
from fashionlens.analysis import Analyzer
from fashionlens.api import analyze, audit, catalog
from fashionlens.api.errors import install_handlers
from fashionlens.api.limits import BodyLimit, Capacity, ShedLoad
from fashionlens.api.metrics import ApiMetrics, MetricsMiddleware
from fashionlens.core.settings import Settings, get_settings

WEB = Path(__file__).resolve().parents[1] / "web"
FORM_SLACK = 64 * 1024  # multipart boundaries and small form fields around the photo
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings | None = None, *, analyzer: Analyzer | None = None,
               db_dir: str | Path | None = None, max_concurrent: int | None = None,
               data_dir: str | Path | None = None) -> FastAPI:
    """The REST API and web pages.

    ``db_dir``: a catalog made by ``fashionlens catalog ingest`` to search and audit (none:
    analysis only). ``data_dir`` (default ``settings.data_dir``): where audit jobs are kept.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.audit_jobs.close()

    app = FastAPI(title="fashionlens", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # served from local files: see _add_docs
                  description="Name garments, hedge honestly, outline them, name colours, "
                              "search a catalog by photo and audit it.")
    install_handlers(app)
    metrics = ApiMetrics()
    analyzer = analyzer or Analyzer.from_settings(settings)
    limit = max_concurrent or settings.max_concurrent or max(2, settings.threads * 2)
    capacity = Capacity(limit, on_reject=metrics.overloaded.inc)
    metrics.in_flight.set_function(lambda: capacity.in_use)

    app.state.settings = settings
    app.state.analyzer = analyzer
    app.state.capacity = capacity
    app.state.metrics = metrics
    app.state.catalog = (catalog.CatalogService(db_dir, analyzer.classifier, analyzer.limits)
                         if db_dir is not None else None)
    app.state.audit_jobs = audit.AuditJobs(
        Path(data_dir or settings.data_dir) / "audit",
        served_db=Path(db_dir) if db_dir is not None else None,
        analyzer=_audit_analyzer(analyzer), settings=settings,
        on_finish=lambda state: metrics.audit_jobs.labels(state).inc())

    app.include_router(analyze.router)
    app.include_router(catalog.router)
    app.include_router(audit.router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        """Liveness and what is loaded."""
        a = app.state.analyzer
        return {"status": "ok", "version": __version__,
                "models": {"classifier": a.classifier.bundle.name,
                           "parser": a.parser.bundle.name if a.parser else None},
                "catalog": app.state.catalog.counts if app.state.catalog else None}

    @app.get("/metrics", tags=["ops"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    def prometheus() -> Response:
        """Prometheus metrics (text exposition format)."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    _add_pages(app)
    _add_docs(app)
    app.add_middleware(ShedLoad, capacity=capacity, paths=("/v1/analyze", "/v1/search"))
    app.add_middleware(BodyLimit, default=settings.max_image_bytes + FORM_SLACK,
                       limits=[("/v1/audit", settings.max_catalog_bytes + FORM_SLACK)],
                       timeout=settings.request_timeout)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    return app


def _audit_analyzer(analyzer: Analyzer):
    from fashionlens.catalog.ingest import CatalogAnalyzer

    return CatalogAnalyzer(analyzer.classifier, parser=analyzer.parser or False,
                           limits=analyzer.limits)


def _add_docs(app: FastAPI) -> None:
    """OpenAPI docs at ``/docs`` with Swagger UI from the installed ``swagger-ui-bundle-v2``
    package (FastAPI's default loads it from a CDN: a blank page on an offline machine)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None})  # no badge fetched from the web


def _add_pages(app: FastAPI) -> None:
    """The web pages: ``/`` (analyse and search) and ``/audit``; assets under ``/static``."""
    if not (WEB / "index.html").exists():
        return
    app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB / "index.html", headers=PAGE_HEADERS)

    @app.get("/audit", include_in_schema=False)
    def audit_page() -> FileResponse:
        return FileResponse(WEB / "audit.html", headers=PAGE_HEADERS)
