"""Recovery's tables: the policy, experiment assignments, cases, decisions and notifications.

A case is one abandoned cart (``cart_id`` is unique). A decision is one stage of a case
(``(case_id, stage)`` is unique), which is what keeps several workers from messaging a cart twice
for the same stage. Notifications are what a decision sent, one row per channel.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base

GROUPS = ("holdout", "baseline", "ai")


class PolicyRecord(Base):
    """The recovery policy as the admin last set it; absent until the first PUT."""

    __tablename__ = "recovery_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int]
    document: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class Assignment(Base):
    """A customer's experiment group, fixed at first sight and never changed."""

    __tablename__ = "experiment_assignments"
    __table_args__ = (CheckConstraint("\"group\" IN ('holdout', 'baseline', 'ai')", name="group"),)

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    group: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int]
    assigned_at: Mapped[datetime]


class RecoveryCase(Base):
    __tablename__ = "recovery_cases"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'recovered', 'lost')", name="status"),
        CheckConstraint("\"group\" IN ('holdout', 'baseline', 'ai')", name="group"),
        Index("ix_recovery_cases_status_group", "status", "group"),
        Index("ix_recovery_cases_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    cart_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    user_id: Mapped[str] = mapped_column(String(128))
    group: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    # The cart's last activity when it was found idle, and when it was found.
    abandoned_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    # Attribution runs from the first message (or, with none sent, from detection).
    window_starts_at: Mapped[datetime]
    messages_sent: Mapped[int] = mapped_column(default=0)
    first_message_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    # The first decision's context and action, kept on the case so it reads without the decision
    # log. A holdout case's primary reason stays NULL until its one analysis: passes look for that.
    primary_reason: Mapped[str | None] = mapped_column(String(32))
    first_action: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    settled_at: Mapped[datetime | None]
    order_id: Mapped[uuid.UUID | None]
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    gross_margin: Mapped[int] = mapped_column(BigInteger, default=0)


class Decision(Base):
    """Every decision is logged: group, policy version, the reasons seen, the action and the
    probability with which the policy chose it (what an off-policy evaluation needs)."""

    __tablename__ = "recovery_decisions"
    __table_args__ = (
        UniqueConstraint("case_id", "stage", name="uq_recovery_decisions_case_stage"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(index=True)
    stage: Mapped[int]
    group: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    probability: Mapped[float]
    primary_reason: Mapped[str] = mapped_column(String(32))  # the context the policy learns in
    reasons: Mapped[dict[str, Any]]
    evidence: Mapped[list[str]] = mapped_column(JSON)
    decided_at: Mapped[datetime]
    # "recovered" or "lost" once known, under last-touch credit; a message is lost as soon as
    # its case's next stage is decided. NULL while open, and always for the holdout's.
    outcome: Mapped[str | None] = mapped_column(String(16))


class Tally(Base):
    """Settled messages per day of settlement, group, context (primary reason) and action: the
    running counts the policy learns from, read over a window of recent days, so a pass never
    rescans the decision log. Incremented only by whoever marked the decisions' outcomes."""

    __tablename__ = "recovery_tallies"

    day: Mapped[date] = mapped_column(primary_key=True)
    group: Mapped[str] = mapped_column(String(16), primary_key=True)
    context: Mapped[str] = mapped_column(String(32), primary_key=True)
    action: Mapped[str] = mapped_column(String(32), primary_key=True)
    recovered: Mapped[int] = mapped_column(default=0)
    lost: Mapped[int] = mapped_column(default=0)


class Notification(Base):
    __tablename__ = "recovery_notifications"
    __table_args__ = (
        Index("ix_recovery_notifications_user_id_sent_at", "user_id", "sent_at"),
        Index("ix_recovery_notifications_sent_at_id", "sent_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    decision_id: Mapped[uuid.UUID] = mapped_column(index=True)
    cart_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    group: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)  # sealed
    body: Mapped[str] = mapped_column(Text)
    discount_code: Mapped[str | None] = mapped_column(String(32))
    discount_percent: Mapped[int | None]
    alternatives: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sent_at: Mapped[datetime]
