"""FastAPI app factory: ``create_app(settings)``.

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.
"""

import asyncio
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from fashionlens import __version__
from fashionlens.analysis import Analyzer
from fashionlens.api.errors import ApiError, install_handlers
from fashionlens.core.settings import Settings, get_settings

CHUNK = 64 * 1024


class Capacity:
    """Bounded concurrency: at most ``limit`` analyses at once; beyond it a fast 503."""

    def __init__(self, limit: int):
        self._sem = asyncio.Semaphore(limit)

    async def __aenter__(self):
        if self._sem.locked():
            raise ApiError(503, "overloaded", "the server is busy; retry shortly",
                           headers={"Retry-After": "1"})
        await self._sem.acquire()

    async def __aexit__(self, *exc):
        self._sem.release()


async def read_capped(upload: UploadFile, max_bytes: int) -> bytes:
    """Read an upload in chunks, refusing it as soon as it passes ``max_bytes`` (413)."""
    parts, size = [], 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "too_large_bytes",
                           f"upload is larger than the {max_bytes / 1024 / 1024:.1f} MiB limit")
        parts.append(chunk)
    return b"".join(parts)


def get_analyzer(request: Request) -> Analyzer:
    return request.app.state.analyzer


def create_app(settings: Settings | None = None, *, analyzer: Analyzer | None = None,
               max_concurrent: int | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="fashionlens", version=__version__,
                  description="Name garments, hedge honestly, outline them and name colours.")
    install_handlers(app)
    app.state.settings = settings
    app.state.analyzer = analyzer or Analyzer.from_settings(settings)
    app.state.capacity = Capacity(max_concurrent or max(2, settings.threads * 2))

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        a = app.state.analyzer
        return {"status": "ok", "version": __version__,
                "models": {"classifier": a.classifier.bundle.name,
                           "parser": a.parser.bundle.name if a.parser else None}}

    @app.post("/v1/analyze", tags=["analysis"])
    async def analyze(
        request: Request,
        analyzer: Annotated[Analyzer, Depends(get_analyzer)],
        image: Annotated[UploadFile, File(description="A JPEG, PNG or WebP photo.")],
        target_accuracy: Annotated[float | None, Form(ge=0.5, le=0.999)] = None,
        top_k: Annotated[int, Form(ge=1, le=17)] = 3,
        embedding: Annotated[bool, Form()] = False,
    ) -> dict:
        """Garment name, confidence, top-k, hedged label, garments with boxes, colours."""
        data = await read_capped(image, settings.max_image_bytes)
        async with request.app.state.capacity:
            return await run_in_threadpool(analyzer.analyze, data,
                                           target_accuracy=target_accuracy, top_k=top_k,
                                           with_embedding=embedding)

    return app
