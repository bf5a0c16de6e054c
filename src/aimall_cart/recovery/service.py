"""One recovery pass: settle outcomes, open cases for newly idle carts, then decide and send for
every case that is due.

Safe with several workers at once. A case is opened by one INSERT that quietly loses on the unique
``cart_id``; a stage is claimed by a conditional UPDATE of the case (``messages_sent = n``), and
``(case_id, stage)`` is unique in the decision log: a cart gets each stage once, whoever runs the
pass. Each batch is one transaction, committed here (the pass is an entrypoint's use case).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.carts import activity
from aimall_cart.carts.models import Cart, CartItem
from aimall_cart.config import Settings
from aimall_cart.db import Base, Database
from aimall_cart.privacy.models import Preferences
from aimall_cart.recovery import act, outcomes, rules
from aimall_cart.recovery import policy as recovery_policy
from aimall_cart.recovery.engine import Engine
from aimall_cart.recovery.models import Assignment, RecoveryCase
from aimall_cart.recovery.plan import REMINDER
from aimall_cart.recovery.policy import RecoveryPolicy


@dataclass
class PassResult:
    examined: int = 0
    detected: int = 0
    sent: int = 0
    settled: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


async def run_pass(
    database: Database, settings: Settings, engine: Engine, *, now: datetime
) -> PassResult:
    """A background job's use case, so it commits itself, per batch: the settlement in one
    transaction, then each batch of newly opened cases, then each batch of due cases decided and
    sent (``recovery_batch_size`` carts each). A failure loses its batch only."""
    async with database.read_session() as session:
        policy, version = await recovery_policy.current(session)
    result = PassResult()
    if not policy.enabled:
        return result
    result.settled = await outcomes.settle(
        database, policy, margin_percent=settings.recovery_gross_margin_percent, now=now
    )
    idle_since = now - timedelta(minutes=policy.inactivity_minutes)
    while True:
        async with database.write_session() as session:
            opened = await _open_cases(
                session,
                policy,
                version,
                idle_since=idle_since,
                batch=settings.recovery_batch_size,
                now=now,
            )
            await session.commit()
        result.detected += opened
        if opened < settings.recovery_batch_size:
            break
    async with database.read_session() as session:
        result.skipped["no_consent"] = await _idle_without_consent(session, idle_since)
    result.examined = result.skipped["no_consent"]
    await _act_on_due(database, settings, engine, policy, version, result, now=now)
    return result


def _idle(idle_since: datetime) -> list[ColumnElement[bool]]:
    """An active member cart with lines, left alone since ``idle_since``."""
    return [
        Cart.status == "active",
        Cart.user_id.is_not(None),
        *activity.idle_since(idle_since),
        exists().where(CartItem.cart_id == Cart.id),
    ]


async def _idle_without_consent(session: AsyncSession, idle_since: datetime) -> int:
    consenting = exists().where(
        Preferences.user_id == Cart.user_id, Preferences.marketing_consent.is_(True)
    )
    has_case = exists().where(RecoveryCase.cart_id == Cart.id)  # its case counts it instead
    stmt = select(func.count()).select_from(Cart).where(*_idle(idle_since), ~consenting, ~has_case)
    return int(await session.scalar(stmt) or 0)


async def _open_cases(
    session: AsyncSession,
    policy: RecoveryPolicy,
    version: int,
    *,
    idle_since: datetime,
    batch: int,
    now: datetime,
) -> int:
    """Open a case for each newly idle cart of a consenting member; how many were opened. The
    carts are share-locked, skipping any a change or an erasure holds (``_due`` too), so a case is
    never opened, nor a message written, for a cart an erasure is removing."""
    rows = (
        await session.execute(
            select(Cart.id, Cart.user_id, Cart.currency, Cart.last_activity_at)
            .join(
                Preferences,
                and_(Preferences.user_id == Cart.user_id, Preferences.marketing_consent.is_(True)),
            )
            .where(*_idle(idle_since), ~exists().where(RecoveryCase.cart_id == Cart.id))
            .order_by(Cart.id)
            .limit(batch)
            .with_for_update(read=True, skip_locked=True, of=Cart)
        )
    ).all()
    if not rows:
        return 0
    groups = await _groups(session, policy, version, {row.user_id for row in rows}, now=now)
    values = [
        {
            "id": uuid.uuid4(),
            "cart_id": row.id,
            "user_id": row.user_id,
            "group": groups[row.user_id],
            "currency": row.currency,
            "abandoned_at": row.last_activity_at,
            "detected_at": now,
            "window_starts_at": now,
            "messages_sent": 0,
            "status": "open",
            "revenue": 0,
            "discount_cost": 0,
            "gross_margin": 0,
        }
        for row in rows
    ]
    opened = await session.execute(
        _insert_new(session, RecoveryCase, values).returning(RecoveryCase.id)
    )
    return len(opened.all())


async def _groups(
    session: AsyncSession,
    policy: RecoveryPolicy,
    version: int,
    user_ids: set[str],
    *,
    now: datetime,
) -> dict[str, str]:
    """Each customer's group: the one recorded at first sight, else a new assignment."""
    of_users = select(Assignment.user_id, Assignment.group).where(Assignment.user_id.in_(user_ids))
    found = {user: group for user, group in await session.execute(of_users)}  # noqa: C416
    new = [
        {
            "user_id": user_id,
            "group": rules.assign_group(
                user_id,
                salt=policy.experiment_salt,
                holdout_percent=policy.holdout_percent,
                baseline_percent=policy.baseline_percent,
            ),
            "policy_version": version,
            "assigned_at": now,
        }
        for user_id in sorted(user_ids - found.keys())
    ]
    if new:
        await session.execute(_insert_new(session, Assignment, new))
        found = {user: group for user, group in await session.execute(of_users)}  # noqa: C416
    return found


def _insert_new(
    session: AsyncSession, table: type[Base], values: list[dict[str, Any]]
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that skips rows whose key a concurrent pass already wrote."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    return sqlite.insert(table).values(values).on_conflict_do_nothing()


async def _act_on_due(
    database: Database,
    settings: Settings,
    engine: Engine,
    policy: RecoveryPolicy,
    version: int,
    result: PassResult,
    *,
    now: datetime,
) -> None:
    """Walk the due cases in cart order, one batch per transaction."""
    since = (now - timedelta(days=settings.recovery_learning_window_days)).date()
    async with database.read_session() as session:
        learned = await outcomes.learned(session, since=since)
        baseline = await outcomes.learned(session, group="baseline", since=since)
    anchors = {
        context: by_action[REMINDER.name]
        for context, by_action in baseline.items()
        if REMINDER.name in by_action
    }
    after: uuid.UUID | None = None
    while True:
        async with database.write_session() as session:
            due = await _due(
                session, policy, after=after, batch=settings.recovery_batch_size, now=now
            )
            if not due:
                break
            batch = act.Batch(settings, engine, policy, version, learned, anchors, now)
            await batch.handle(session, due, result.skipped)
            await session.commit()
        result.examined += len(due)
        result.sent += batch.sent
        after = due[-1][0].cart_id


async def _due(
    session: AsyncSession,
    policy: RecoveryPolicy,
    *,
    after: uuid.UUID | None,
    batch: int,
    now: datetime,
) -> list[tuple[RecoveryCase, Cart]]:
    """Open cases, with their carts, still idle and due a next step: the holdout's one analysis,
    or the next message once the spacing has passed."""
    spaced = now - timedelta(minutes=policy.min_minutes_between_messages)
    stmt = (
        select(RecoveryCase, Cart)
        .join(Cart, Cart.id == RecoveryCase.cart_id)
        .where(
            RecoveryCase.status == "open",
            *_idle(now - timedelta(minutes=policy.inactivity_minutes)),
            or_(
                and_(RecoveryCase.group == "holdout", RecoveryCase.primary_reason.is_(None)),
                and_(
                    RecoveryCase.group != "holdout",
                    RecoveryCase.messages_sent < policy.max_messages_per_cart,
                    or_(
                        RecoveryCase.last_message_at.is_(None),
                        RecoveryCase.last_message_at <= spaced,
                    ),
                ),
            ),
        )
        .order_by(RecoveryCase.cart_id)
        .limit(batch)
        .with_for_update(read=True, skip_locked=True, of=Cart)
    )
    if after is not None:
        stmt = stmt.where(RecoveryCase.cart_id > after)
    return [(case, cart) for case, cart in await session.execute(stmt)]
