"""The served catalog over HTTP: search by photo, listings and their photos.

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.

SQLite connections belong to the thread that opened them, so every worker thread gets its own
:class:`~fashionlens.catalog.search.CatalogSearcher`; they share one FAISS index (read-only
searches are thread-safe) and one classifier. Item ids are only ever looked up in the
database, never joined to a path, so no id can reach outside the data folder.
"""

import io
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from PIL import Image

from fashionlens.api.errors import ApiError, error_responses
from fashionlens.api.limits import read_capped, run_bounded
from fashionlens.catalog.ingest import CatalogAnalyzer
from fashionlens.catalog.search import CatalogSearcher, parse_region
from fashionlens.imaging import ImageLimits, InvalidImage, open_image

FULL_IMAGE_SIDE = 1024

router = APIRouter(tags=["catalog"],
                   responses=error_responses(400, 404, 408, 413, 415, 422, 503, 504))


def item_urls(item_id: str, prefix: str = "/v1/items") -> dict[str, str]:
    from urllib.parse import quote

    base = f"{prefix}/{quote(item_id, safe='')}/image"
    return {"image_url": base, "thumb_url": base + "?size=thumb"}


class CatalogService:
    """Search and look-ups on the catalog at ``db_dir``, safe to use from many threads."""

    def __init__(self, db_dir: str | Path, classifier: Any, limits: ImageLimits) -> None:
        from fashionlens.catalog.index import open_index
        from fashionlens.catalog.store import CatalogStore

        self.db_dir = Path(db_dir)
        store = CatalogStore(self.db_dir, create=False)
        try:
            self.index, _ = open_index(store)
            self.counts = {"items": store.count_items("item"), "looks": store.count_items("look")}
        finally:
            store.close()
        self.analyzer = CatalogAnalyzer(classifier, parser=False, colours=False, limits=limits)
        self.limits = limits
        self._local = threading.local()
        self._shared: dict[str, Any] = {}  # tables every thread's searcher builds only once

    def searcher(self) -> CatalogSearcher:
        s = getattr(self._local, "searcher", None)
        if s is None:
            s = CatalogSearcher(self.db_dir, analyzer=self.analyzer, index=self.index,
                                cache=self._shared)
            self._local.searcher = s
        return s

    def search(self, data: bytes, *, k: int, category: str | None, colour: str | None,
               region: tuple[float, float, float, float] | None) -> list[dict[str, Any]]:
        open_image(data, limits=self.limits)  # the door first: a bad photo is a 4xx
        s = self.searcher()
        try:
            out = next(iter(s.search([data], k=k, category=category, colour=colour,
                                     region=region)))
        except ValueError as exc:  # unknown category/colour names, a region off the photo
            raise ApiError(422, "invalid_request", str(exc)) from None
        if "error" in out:
            raise ApiError(422, "unreadable", out["error"])
        return [_public_hit(h) for h in out["results"]]

    def item(self, item_id: str) -> dict[str, Any]:
        store = self.searcher().store
        item = store.get(item_id)
        if item is None:
            raise ApiError(404, "not_found", f"no listing with id {item_id!r}")
        out = item.summary()
        out.pop("image", None)  # a path on the server: not the client's business
        out.update(item_urls(item.id))
        out["pattern"] = item.pattern
        out["width"], out["height"] = item.width, item.height
        out["garments"] = [{"label": v.label, "box": v.box,
                            "colours": [c["name"] for c in v.colours]}
                           for v in store.vectors_of(item.pk) if v.region >= 0]
        return out

    def image(self, item_id: str, size: str) -> bytes:
        store = self.searcher().store
        item = store.get(item_id)
        if item is None:
            raise ApiError(404, "not_found", f"no listing with id {item_id!r}")
        thumb = store.thumb(item_id)
        if size == "thumb" or item.image.startswith(("http://", "https://")):
            if not thumb:
                raise ApiError(404, "not_found", f"listing {item_id!r} has no stored photo")
            return thumb
        try:  # re-encoded through the door: no EXIF or other metadata leaves the server
            photo = open_image(item.image, limits=self.limits)
        except InvalidImage:
            if not thumb:
                raise ApiError(404, "not_found", f"the photo of {item_id!r} is gone") from None
            return thumb
        return jpeg(photo, FULL_IMAGE_SIDE)


def jpeg(photo: Image.Image, side: int, quality: int = 85) -> bytes:
    photo = photo.copy()
    photo.thumbnail((side, side))
    buf = io.BytesIO()
    photo.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def _public_hit(hit: dict[str, Any]) -> dict[str, Any]:
    hit = dict(hit)
    hit.pop("image", None)
    hit.update(item_urls(hit["id"]))
    return hit


def _service(request: Request) -> CatalogService:
    service = request.app.state.catalog
    if service is None:
        raise ApiError(404, "no_catalog", "this server has no catalog (start it with --db)")
    return service


@router.post("/v1/search")
async def search(
    request: Request,
    image: Annotated[UploadFile, File(description="A JPEG, PNG or WebP photo of a garment.")],
    k: Annotated[int, Form(ge=1, le=100, description="How many listings to return.")] = 8,
    category: Annotated[str | None, Form(
        max_length=100, description="Keep garments of this kind: a class, a taxonomy node "
                                    "or a word in any supported language (tops, falda).")] = None,
    colour: Annotated[str | None, Form(
        max_length=100, description="Keep garments of this colour (navy, bleumarin).")] = None,
    region: Annotated[str | None, Form(
        max_length=100, description="x1,y1,x2,y2 of the garment in the photo (pixels, or "
                                    "fractions when all are at most 1).")] = None,
) -> dict:
    """Similar catalog items and looks that hold a similar garment ("complete the look")."""
    service = _service(request)
    state = request.app.state
    data = await read_capped(image, state.settings.max_image_bytes)
    try:
        box = parse_region(region)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    results = await run_bounded(state.capacity, state.settings.request_timeout, service.search,
                                data, k=k, category=category or None, colour=colour or None,
                                region=box)
    return {"results": results}


@router.get("/v1/items/{item_id}")
def get_item(request: Request, item_id: str) -> dict:
    """What a listing states and what its photo shows, with its garments."""
    return _service(request).item(item_id)


@router.get("/v1/items/{item_id}/image", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_item_image(request: Request, item_id: str,
                   size: Annotated[str, Query(pattern="^(thumb|full)$")] = "full") -> Response:
    """The listing's photo as JPEG (``size=thumb``: 128 px; ``full``: at most 1024 px)."""
    data = _service(request).image(item_id, size)
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "public, max-age=3600"})
