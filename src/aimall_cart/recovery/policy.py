"""The recovery policy an admin sets: thresholds, caps, experiment split and channels.

Kept as one versioned JSON document; every decision records the version it was made under.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.errors import PreconditionFailed
from aimall_cart.recovery.models import PolicyRecord

Channel = Literal["in_app", "email", "webhook"]
DEFAULT_CHANNELS: tuple[Channel, ...] = ("in_app", "email")


class QuietHours(BaseModel):
    """Local hours in which nothing is sent: from ``start_hour`` up to ``end_hour`` (it may wrap
    past midnight). The customer's time zone, or UTC when they gave none."""

    model_config = ConfigDict(extra="forbid")

    start_hour: Annotated[int, Field(ge=0, le=23, strict=True)]
    end_hour: Annotated[int, Field(ge=0, le=23, strict=True)]

    def covers(self, hour: int) -> bool:
        if self.start_hour <= self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour


def _int(low: int, high: int) -> object:
    return Field(ge=low, le=high, strict=True)


class RecoveryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    inactivity_minutes: Annotated[int, _int(1, 60 * 24 * 30)] = 60
    max_messages_per_cart: Annotated[int, _int(0, 10)] = 2
    max_messages_per_customer_per_week: Annotated[int, _int(0, 50)] = 3
    min_minutes_between_messages: Annotated[int, _int(0, 60 * 24 * 30)] = 24 * 60
    max_discount_percent: Annotated[int, _int(0, 50)] = 15
    discount_valid_hours: Annotated[int, _int(1, 24 * 30)] = 48
    holdout_percent: Annotated[int, _int(0, 100)] = 10
    baseline_percent: Annotated[int, _int(0, 100)] = 10
    exploration_percent: Annotated[int, _int(0, 100)] = 10
    attribution_window_hours: Annotated[int, _int(1, 24 * 30)] = 72
    channels: list[Channel] = Field(default_factory=lambda: list(DEFAULT_CHANNELS), min_length=1)
    quiet_hours: QuietHours | None = Field(
        default_factory=lambda: QuietHours(start_hour=21, end_hour=8)
    )
    experiment_salt: Annotated[str, Field(min_length=1, max_length=64)] = "recovery-1"

    @field_validator("channels")
    @classmethod
    def _distinct(cls, channels: list[Channel]) -> list[Channel]:
        return list(dict.fromkeys(channels))

    @model_validator(mode="after")
    def _groups_fit(self) -> RecoveryPolicy:
        if self.holdout_percent + self.baseline_percent > 100:
            raise ValueError("holdout_percent + baseline_percent must not exceed 100")
        return self


class PolicyOut(RecoveryPolicy):
    version: int
    updated_at: datetime | None


class PolicyIn(RecoveryPolicy):
    """A PUT's body: the policy, and what a GET answered beside it, so a GET can be sent back.
    ``version``, when given, must be the version in force; ``updated_at`` is the server's to set
    and is ignored."""

    version: Annotated[int, _int(0, 2**31 - 1)] | None = None
    updated_at: datetime | None = None

    def policy(self) -> RecoveryPolicy:
        return RecoveryPolicy.model_validate(self.model_dump(exclude={"version", "updated_at"}))


class VersionMismatch(PreconditionFailed):
    code = "version_mismatch"


async def current(session: AsyncSession) -> tuple[RecoveryPolicy, int]:
    """The policy in force and its version; version 0 is the defaults, before any PUT."""
    record = await session.get(PolicyRecord, 1)
    if record is None:
        return RecoveryPolicy(), 0
    return RecoveryPolicy.model_validate(record.document), record.version


async def read(session: AsyncSession) -> PolicyOut:
    record = await session.get(PolicyRecord, 1)
    if record is None:
        return PolicyOut(**RecoveryPolicy().model_dump(), version=0, updated_at=None)
    policy = RecoveryPolicy.model_validate(record.document)
    return PolicyOut(**policy.model_dump(), version=record.version, updated_at=record.updated_at)


async def replace(
    session: AsyncSession,
    policy: RecoveryPolicy,
    *,
    expected_version: int | None = None,
    now: datetime,
) -> PolicyOut:
    """Replace the policy under its row lock; ``expected_version`` guards against overwriting a
    change made since the caller read it."""
    record = await session.get(PolicyRecord, 1, with_for_update=True)
    current = record.version if record is not None else 0
    if expected_version is not None and expected_version != current:
        raise VersionMismatch(
            f"The policy is at version {current}, not {expected_version}; read it again",
            current_version=current,
        )
    document = policy.model_dump(mode="json")
    if record is None:
        record = PolicyRecord(id=1, version=1, document=document, updated_at=now)
        session.add(record)
    else:
        record.version, record.document, record.updated_at = record.version + 1, document, now
    await session.flush()
    return PolicyOut(**policy.model_dump(), version=record.version, updated_at=now)
