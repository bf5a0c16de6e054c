"""How the health report's overall status follows from what was measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "degraded", "failing"]


@dataclass(frozen=True, slots=True)
class Findings:
    database_ok: bool
    schema_current: bool
    freshest_worker_age_seconds: float | None  # None when no worker has ever beaten
    silent_after_seconds: float
    dead_events: int


def overall_status(found: Findings) -> Status:
    """``failing`` when the database does not answer; ``degraded`` when no worker has been heard
    from for three beats, the outbox holds dead events, or the schema is behind the code."""
    if not found.database_ok:
        return "failing"
    worker_gone = (
        found.freshest_worker_age_seconds is None
        or found.freshest_worker_age_seconds > found.silent_after_seconds
    )
    if worker_gone or found.dead_events > 0 or not found.schema_current:
        return "degraded"
    return "ok"
