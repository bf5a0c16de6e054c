"""Operational endpoints: liveness, readiness, and the test clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from aimall_cart import migrate
from aimall_cart.auth import CurrentPrincipal
from aimall_cart.clock import Clock
from aimall_cart.db import Database
from aimall_cart.errors import NotFound, Unavailable

router = APIRouter(tags=["operations"])


class ClockOut(BaseModel):
    now: datetime
    offset_seconds: float


class AdvanceClock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: Annotated[float, Field(gt=0, le=10 * 365 * 24 * 3600)]


def _test_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    if not clock.adjustable:
        raise NotFound("Not found")
    return clock


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str]:
    """Ready when the database answers and its schema is the one this code expects."""
    database: Database = request.app.state.database
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        current = await connection.run_sync(migrate.current_revision)
    if current != migrate.head_revision():
        raise Unavailable("The database schema is not current", revision=current)
    return {"status": "ready", "revision": str(current)}


@router.get("/v1/admin/clock", response_model=ClockOut)
async def read_clock(request: Request, principal: CurrentPrincipal) -> ClockOut:
    clock = _test_clock(request)
    principal.require("admin")
    return ClockOut(now=await clock.now(), offset_seconds=await clock.offset_seconds())


@router.post("/v1/admin/clock/advance", response_model=ClockOut)
async def advance_clock(
    request: Request, body: AdvanceClock, principal: CurrentPrincipal
) -> ClockOut:
    """Move the clock forward for the API and every worker sharing the database."""
    clock = _test_clock(request)
    principal.require("admin")
    now = await clock.advance(body.seconds)
    return ClockOut(now=now, offset_seconds=await clock.offset_seconds())
