"""Whose data: the subject of an export or an erasure, and the features above privacy that hold
data about a subject.

A feature that privacy may not import (recovery) registers a ``Holder`` here when the entrypoint
imports it, as outbox channels are registered; privacy exports and erases its own layers'
tables itself. Erasure locks the subject's carts first, then lets registered holders erase, then
clears the outbox (see ``erasure``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart import events
from aimall_cart.crypto import KeyRing


@dataclass(frozen=True, slots=True)
class Subject:
    """A member by user id, or a guest by the keyed hash of their cart token."""

    user_id: str | None
    token_hash: str | None

    @property
    def person(self) -> str:
        """How the outbox and the idempotency store name the subject."""
        if self.user_id is not None:
            return events.member(self.user_id)
        assert self.token_hash is not None
        return events.guest(self.token_hash)

    @property
    def caller(self) -> str:
        """How the idempotency store names the subject's requests."""
        if self.user_id is not None:
            return f"member:{self.user_id}"
        return f"guest:{self.token_hash}"


Export = Callable[[AsyncSession, Subject, KeyRing], Awaitable[dict[str, Any]]]
Erase = Callable[[AsyncSession, Subject, datetime], Awaitable[dict[str, int]]]


@dataclass(frozen=True, slots=True)
class Holder:
    """A feature's part of a subject's data: what it exports (keys of the export document) and
    how it erases (counts by kind)."""

    name: str
    export: Export
    erase: Erase


_HOLDERS: dict[str, Holder] = {}


def register(holder: Holder) -> None:
    _HOLDERS[holder.name] = holder


def holders() -> list[Holder]:
    return list(_HOLDERS.values())
