"""Domain errors. Each class carries a stable ``code``; only ``app.py`` maps them to statuses."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    code = "error"
    title = "Error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.context = context


class Invalid(AppError):
    code = "invalid"
    title = "Invalid request"


class Unauthenticated(AppError):
    code = "unauthenticated"
    title = "Unauthenticated"


class Forbidden(AppError):
    code = "forbidden"
    title = "Forbidden"


class NotFound(AppError):
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    code = "precondition_failed"
    title = "Precondition failed"


class PayloadTooLarge(AppError):
    code = "payload_too_large"
    title = "Payload too large"


class Unavailable(AppError):
    """Temporarily unable to answer; the client should retry after ``retry_after`` seconds."""

    code = "busy"
    title = "Service busy"
