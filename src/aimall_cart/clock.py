"""The one source of the current time; entrypoints read it and pass ``now`` down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


Now = Annotated[datetime, Depends(_now)]
