"""What keeps one client from hurting the others: body caps, timeouts, bounded concurrency.

* :class:`BodyLimit` (ASGI middleware) refuses a request body as it streams in — from its
  ``Content-Length`` before a byte is read, else as soon as the bytes received pass the cap
  (413) — and gives up on a client that stops sending for ``timeout`` seconds (408). The
  multipart parser never sees more than the cap, so nothing large is spooled to disk.
* :class:`Capacity` admits at most ``limit`` analyses at once; beyond that the answer is an
  immediate 503 with ``Retry-After`` rather than a queue that grows without bound.
* :class:`ShedLoad` (ASGI middleware) gives that 503 before the upload is even read when
  capacity is already full, so refusing costs next to nothing under overload.
* :func:`run_bounded` runs blocking work in a thread under a :class:`Capacity` slot and a
  deadline (504). A thread cannot be killed, so the slot stays taken until the work really
  ends: a stuck analysis still counts against capacity.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fashionlens.api.errors import ApiError, RequestRefused, error_body

T = TypeVar("T")


class Capacity:
    """At most ``limit`` units of work at once; :meth:`acquire` refuses (503) beyond it."""

    def __init__(self, limit: int, *, on_reject: Callable[[], None] | None = None):
        if limit < 1:
            raise ValueError("capacity limit must be at least 1")
        self.limit = limit
        self.in_use = 0
        self._on_reject = on_reject

    @property
    def full(self) -> bool:
        return self.in_use >= self.limit

    def refusal(self) -> ApiError:
        """The 503 for a request that finds every slot taken (counted as a refusal)."""
        if self._on_reject:
            self._on_reject()
        return ApiError(503, "overloaded", "the server is busy; retry shortly",
                        headers={"Retry-After": "1"})

    def acquire(self) -> None:
        if self.full:
            raise self.refusal()
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1


async def run_bounded(capacity: Capacity, timeout: float, fn: Callable[..., T], *args: Any,
                      **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, within ``capacity`` and ``timeout`` s."""
    capacity.acquire()  # on the event loop: no await between the check and the increment
    loop = asyncio.get_running_loop()
    try:
        future = loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
    except BaseException:
        capacity.release()
        raise
    future.add_done_callback(lambda _: capacity.release())
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        raise ApiError(504, "timeout",
                       f"the analysis took longer than the {timeout:g} s limit") from None


class BodyLimit:
    """ASGI middleware capping request bodies by path prefix (413) and slow senders (408).

    ``limits`` maps a path prefix to its byte cap; the longest matching prefix wins and
    ``default`` applies elsewhere.
    """

    def __init__(self, app: Any, *, default: int, limits: Iterable[tuple[str, int]] = (),
                 timeout: float = 30.0) -> None:
        self.app = app
        self.default = default
        self.limits = sorted(limits, key=lambda kv: -len(kv[0]))
        self.timeout = timeout

    def cap_for(self, path: str) -> int:
        for prefix, cap in self.limits:
            if path.startswith(prefix):
                return cap
        return self.default

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _refuse(send, 413, "too_large_bytes", _too_large_message(cap))
            return
        received = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal received
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                raise RequestRefused(408, "timeout", f"the request body did not arrive "
                                                     f"within {self.timeout:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise RequestRefused(413, "too_large_bytes", _too_large_message(cap))
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestRefused as exc:  # raised where no exception handler was in the way
            if started:
                raise
            await _refuse(send, exc.status_code, exc.code, str(exc.detail))


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large_message(cap: int) -> str:
    return f"upload is larger than the {cap / 1024 / 1024:.1f} MiB limit"


async def _refuse(send: Callable, status: int, code: str, message: str, *,
                  extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(error_body(code, message)).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": body})


async def read_capped(upload: Any, max_bytes: int, chunk: int = 64 * 1024) -> bytes:
    """An uploaded file's bytes, refused (413) as soon as they pass ``max_bytes``."""
    parts, size = [], 0
    while data := await upload.read(chunk):
        size += len(data)
        if size > max_bytes:
            raise ApiError(413, "too_large_bytes", _too_large_message(max_bytes))
        parts.append(data)
    return b"".join(parts)


class ShedLoad:
    """ASGI middleware: a POST to one of ``paths`` while ``capacity`` is full gets its 503 at
    once, before its upload is read and parsed (the handler checks again after parsing)."""

    def __init__(self, app: Any, *, capacity: Capacity, paths: Iterable[str]) -> None:
        self.app = app
        self.capacity = capacity
        self.paths = frozenset(paths)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if (scope["type"] == "http" and scope.get("method") == "POST"
                and scope.get("path") in self.paths and self.capacity.full):
            exc = self.capacity.refusal()
            await _refuse(send, exc.status, exc.code, exc.message,
                          extra=[(k.lower().encode(), v.encode())
                                 for k, v in (exc.headers or {}).items()])
            return
        await self.app(scope, receive, send)
