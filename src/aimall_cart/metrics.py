"""Prometheus metrics: what every process counts, and the request middleware that counts them.

Counting is in memory (or, under ``serve``, in a memory-mapped file per process that
``PROMETHEUS_MULTIPROC_DIR`` names), never in the database, so a request pays a few
microseconds for it. ``serve`` points every server process and its worker at one fresh folder;
the exposition sums the files there, so ``/metrics`` gives the same totals whichever process
answers. The folder has to be set before ``prometheus_client`` is first imported.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aimall_cart import conflicts

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "<unmatched>"
# Seconds: the cart's reads answer in about a millisecond, a slow checkout in a second or more.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "aimall_cart_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "aimall_cart_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method, route and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
CART_OPERATIONS = Counter(
    "aimall_cart_cart_operations",
    "Cart operations by name and outcome (ok: 2xx, refused: 4xx, failed: 5xx).",
    ["operation", "outcome"],
)
CHECKOUTS = Counter(
    "aimall_cart_checkouts",
    "Checkouts by outcome: started, completed, cancelled, expired.",
    ["outcome"],
)
PROBLEMS = Counter(
    "aimall_cart_problems",
    "Problem responses by their stable code (conflicts, refusals, validation errors).",
    ["code"],
)


_Series = tuple[Counter, Histogram, Counter | None]


def count_problem(code: str) -> None:
    PROBLEMS.labels(code).inc()
    conflicts.record(code)


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return "refused" if status < 500 else "failed"


class RequestMetrics:
    """Count each HTTP request and time it, labelled by the route's template, never its path, so
    the number of series stays bounded. A request the router never saw (an idempotent replay, a
    refused body) is matched against the routes here; one that matches none is ``<unmatched>``.
    Requests to routes tagged ``operation_tag`` also count as operations named by the route."""

    def __init__(
        self, app: ASGIApp, *, routes: Sequence[BaseRoute], operation_tag: str | None = None
    ) -> None:
        self.app = app
        self.routes = routes
        self.operation_tag = operation_tag
        # Bounded: routes x methods x the statuses the service answers.
        self._series: dict[tuple[str, int, int], _Series] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the application raises before responding

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route") or self._match(scope)
        key = (scope["method"], id(route), status)  # routes live as long as the app
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(scope["method"], route, status)
        count, latency, operation = series
        count.inc()
        latency.observe(seconds)
        if operation is not None:
            operation.inc()

    def _new_series(self, method: str, route: BaseRoute | None, status: int) -> _Series:
        """The labelled children of one (method, route, status), looked up once: labelling
        costs more than counting."""
        template = getattr(route, "path", None) or UNMATCHED_ROUTE
        labels = (method, template, str(status))
        operation = None
        if self.operation_tag is not None and self.operation_tag in getattr(route, "tags", ()):
            operation = CART_OPERATIONS.labels(getattr(route, "name", template), _outcome(status))
        return REQUESTS.labels(*labels), LATENCY.labels(*labels), operation

    def _match(self, scope: Scope) -> BaseRoute | None:
        for route in self.routes:
            found, _ = route.matches(scope)
            if found is Match.FULL:
                return route
        return None


class _ThisProcess(Collector):
    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition(folder: Path | None, extra: Iterable[Collector] = ()) -> bytes:
    """The text format: this process's counts, or with ``folder`` the sum over every process
    that counts into it; plus ``extra`` collectors measured for this scrape."""
    registry = CollectorRegistry()
    if folder is None:
        registry.register(_ThisProcess())
    else:
        MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)
