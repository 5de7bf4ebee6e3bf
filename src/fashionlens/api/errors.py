"""One JSON error shape everywhere: ``{"error": {"code": "...", "message": "..."}}``."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from fashionlens.imaging import InvalidImage

# InvalidImage.code → HTTP status.
IMAGE_STATUS = {
    "empty": 400,
    "corrupt": 422,
    "unreadable": 400,
    "unsupported_format": 415,
    "too_large_bytes": 413,
    "too_many_pixels": 413,
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorDetail


_MEANING = {
    400: "Empty or unreadable upload", 404: "No such resource", 408: "The body came too slowly",
    409: "Not ready yet", 413: "Upload too large (bytes or pixels)",
    415: "Not a JPEG, PNG or WebP photo", 422: "Invalid request or corrupt photo",
    503: "Busy: retry after Retry-After seconds", 504: "The work took too long",
}


def error_responses(*statuses: int) -> dict:
    """OpenAPI ``responses=`` entries declaring :class:`ErrorBody` for ``statuses``."""
    return {s: {"model": ErrorBody, "description": _MEANING.get(s, "Error")} for s in statuses}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class RequestRefused(StarletteHTTPException):
    """Raised while the request body streams in (too large, too slow).

    A Starlette ``HTTPException`` so that FastAPI's body parsing re-raises it untouched
    instead of turning it into a generic 400.
    """

    def __init__(self, status: int, code: str, message: str):
        super().__init__(status_code=status, detail=message)
        self.code = code


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def install_handlers(app) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(InvalidImage)
    async def _invalid_image(_: Request, exc: InvalidImage):
        return JSONResponse(error_body(exc.code, exc.reason),
                            status_code=IMAGE_STATUS.get(exc.code, 400))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(error_body("invalid_request", f"{where}: {first.get('msg', '')}"),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code = getattr(exc, "code", None) or {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
