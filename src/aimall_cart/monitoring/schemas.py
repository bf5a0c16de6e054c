"""The health report's shape (API.md, "Analytics and operations")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from aimall_cart.monitoring.rules import Status


class DatabaseHealth(BaseModel):
    ok: bool
    latency_ms: float | None
    revision: str | None
    schema_current: bool


class WorkerHealth(BaseModel):
    id: str
    started_at: datetime
    last_seen: datetime
    age_seconds: float
    jobs: dict[str, datetime]  # job name -> when this worker last finished it


class OutboxHealth(BaseModel):
    pending: int
    dead: int
    oldest_pending_age_seconds: float | None


class ReservationHealth(BaseModel):
    open: int
    units: int


class RecoveryHealth(BaseModel):
    enabled: bool
    last_pass_at: datetime | None


class HealthOut(BaseModel):
    status: Status
    checked_at: datetime
    database: DatabaseHealth
    workers: list[WorkerHealth]
    outbox: OutboxHealth | None
    reservations: ReservationHealth | None
    recovery: RecoveryHealth | None
    conflicts_last_5_min: dict[str, int]
