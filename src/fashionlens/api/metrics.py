"""Prometheus metrics for the API (``GET /metrics``), one registry per app.

Requests are counted by method, route template (never the raw path: ``/v1/items/{item_id}``,
so ids do not explode the label set) and status; latency is a histogram per route. Analyses
in flight, overload refusals and audit jobs by state are exported too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # the *_created series only add noise to a scrape

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("fashionlens_http_requests", "HTTP requests answered",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram("fashionlens_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ("route",),
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("fashionlens_analyses_in_flight",
                               "Analyses running now (photo analysis and search)",
                               registry=self.registry)
        self.overloaded = Counter("fashionlens_overload_refusals",
                                  "Requests refused with 503 because capacity was full",
                                  registry=self.registry)
        self.audit_jobs = Counter("fashionlens_audit_jobs", "Audit jobs by final state",
                                  ("state",), registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """ASGI middleware recording every HTTP request in :class:`ApiMetrics`."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def recording_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
