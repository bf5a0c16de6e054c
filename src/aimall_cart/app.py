"""The application factory, and the one map from domain errors to problem+json responses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import Send

from aimall_cart import __version__, conflicts, logs, metrics, pages, worker
from aimall_cart.analytics.routes import router as analytics_router
from aimall_cart.auth import TokenVerifier
from aimall_cart.carts.routes import router as cart_router
from aimall_cart.catalog.routes import router as catalog_router
from aimall_cart.checkout.routes import orders as orders_router
from aimall_cart.checkout.routes import router as checkout_router
from aimall_cart.clock import Clock
from aimall_cart.config import Settings, get_settings
from aimall_cart.db import Database, is_transient
from aimall_cart.errors import (
    AppError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    Unauthenticated,
    Unavailable,
)
from aimall_cart.idempotency import IdempotencyKeys
from aimall_cart.middleware import (
    BodyLimit,
    HeaderLimit,
    Headers,
    InFlightLimit,
    RequestId,
    SecurityHeaders,
    ServerErrors,
    request_id,
)
from aimall_cart.monitoring.routes import router as monitoring_router
from aimall_cart.operations import router as operations_router
from aimall_cart.privacy.routes import router as privacy_router
from aimall_cart.ratelimit import RateLimits
from aimall_cart.recovery import personal as _recovery_personal  # noqa: F401  registers its data
from aimall_cart.recovery.routes import router as recovery_router

log = logging.getLogger("aimall_cart")

STATUS_BY_ERROR: dict[type[AppError], int] = {
    Invalid: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    PayloadTooLarge: 413,
    Unavailable: 503,
}
CODE_BY_HTTP_STATUS = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
PROBLEM_TYPE = "urn:aimall-cart:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details; context of the error rides along as extension members."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


_PROBLEM_STATUSES = {
    400: "The body is not JSON",
    401: "Credentials are missing or not valid",
    403: "The caller's role may not do this",
    404: "Not found, or not the caller's",
    409: "In conflict with the current state",
    412: "If-Match names another version",
    413: "The body is too large",
    429: "Too many requests; retry after Retry-After seconds",
    431: "The request headers are too large",
    422: "The request is not valid",
    503: "Busy; retry after Retry-After seconds",
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
    for status, text in _PROBLEM_STATUSES.items()
}


def _status_of(error: AppError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> bytes:
    metrics.count_problem(code)
    body = {"type": PROBLEM_TYPE + code, "title": title, "status": status, "detail": detail}
    body["code"] = code
    body.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(body, default=str)


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    headers = {"Retry-After": "1"} if status == 503 else None
    return Response(
        problem_body(status, code, title, detail, **extra),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def _send_problem(
    send: Send, status: int, code: str, detail: str, *, headers: Headers = ()
) -> None:
    body = problem_body(status, code, "Request refused", detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> Response:
        return problem(
            _status_of(exc), exc.code, exc.title, exc.detail, errors=exc.errors, **exc.context
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(
            422, "validation_error", "Invalid request", "The request is not valid", errors=errors
        )

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> Response:
        code = CODE_BY_HTTP_STATUS.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> Response:
        log.warning("integrity conflict request_id=%s: %s", request_id.get(), exc.orig)
        return problem(409, "conflict", "Conflict", "A concurrent change got there first; retry")

    @app.exception_handler(DBAPIError)
    async def _database_error(_: Request, exc: DBAPIError) -> Response:
        if is_transient(exc):
            log.warning("database busy request_id=%s: %s", request_id.get(), exc.orig)
            return problem(503, Unavailable.code, Unavailable.title, "The database is busy; retry")
        log.exception("database error request_id=%s", request_id.get(), exc_info=exc)
        return problem(500, "internal", "Internal error", "Something went wrong on our side")

    @app.exception_handler(PoolTimeout)
    async def _no_connection(_: Request, exc: PoolTimeout) -> Response:
        log.warning("no database connection free request_id=%s: %s", request_id.get(), exc)
        return problem(503, Unavailable.code, Unavailable.title, "The service is busy; retry")


def create_app(settings: Settings | None = None, *, configure_logging: bool = False) -> FastAPI:
    settings = settings or get_settings()
    if configure_logging:
        logs.configure(settings.log_level)
    database = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout_seconds=settings.database_pool_timeout_seconds,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        sqlite_reader_threads=settings.sqlite_reader_threads,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        background = None
        if settings.embedded_worker:
            background = asyncio.create_task(
                worker.run_forever(database, settings, clock, stop=stop)
            )
        yield
        stop.set()
        if background is not None:
            await background
        await database.dispose()

    app = FastAPI(
        title="AIMall Cart",
        version=__version__,
        description="Carts for guests and members, live flags, checkout and recovery.",
        lifespan=lifespan,
        docs_url=None,  # served by pages, from the package's own copy of Swagger UI
        redoc_url=None,
    )
    clock = Clock(database if settings.test_clock else None)
    verifier = TokenVerifier(settings)
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.token_verifier = verifier
    conflicts.recent.share_in(settings.metrics_dir)
    _register_error_handlers(app)
    _add_middleware(app, settings, database, verifier, clock)
    for router in ROUTERS:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    pages.add_to(app)
    return app


ROUTERS = (
    cart_router,
    checkout_router,
    orders_router,
    catalog_router,
    privacy_router,
    recovery_router,
    analytics_router,
    operations_router,
    monitoring_router,
)


def _add_middleware(
    app: FastAPI, settings: Settings, database: Database, verifier: TokenVerifier, clock: Clock
) -> None:
    """Outermost last: a request is counted and timed, meets its id, the security headers and the
    catch-all for errors, waits its turn among the requests in flight, then meets the header
    limit, the rate limits, the body limit, then idempotency. Cart operations are the requests to
    the routes tagged ``cart``."""
    app.add_middleware(
        IdempotencyKeys,
        settings=settings,
        database=database,
        verifier=verifier,
        clock=clock,
        send_problem=_send_problem,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, send_problem=_send_problem)
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimits, settings=settings, verifier=verifier, send_problem=_send_problem
        )
    app.add_middleware(HeaderLimit, max_bytes=settings.max_header_bytes, send_problem=_send_problem)
    app.add_middleware(
        InFlightLimit,
        limit=settings.max_requests_in_flight,
        timeout_seconds=settings.request_queue_timeout_seconds,
        send_problem=_send_problem,
    )
    app.add_middleware(ServerErrors, send_problem=_send_problem)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestId)
    every_route = [route for router in ROUTERS for route in router.routes]
    app.add_middleware(metrics.RequestMetrics, routes=every_route, operation_tag="cart")
