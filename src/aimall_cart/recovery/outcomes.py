"""Outcomes: which cases were recovered, and what the policy has learned from them.

A case is recovered when its cart was checked out within the attribution window, which starts at
the first message (or, with none sent, when the case opened); once the window has passed without
an order it is lost. Settling reads orders by cart id, so checkout never needs to know recovery.
Settling a case also settles its messages, into the running tallies the policy learns from.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.carts import journal
from aimall_cart.checkout.models import Order
from aimall_cart.db import Database
from aimall_cart.recovery import bandit, rules, tallies
from aimall_cart.recovery.models import Decision, RecoveryCase
from aimall_cart.recovery.policy import RecoveryPolicy


async def settle(
    database: Database, policy: RecoveryPolicy, *, margin_percent: int, now: datetime
) -> int:
    """Close every open case whose outcome is known, and credit its messages; how many were
    closed. Part of a background job, so it commits itself: all of them in one transaction, as
    one batch."""
    window = timedelta(hours=policy.attribution_window_hours)
    async with database.write_session() as session:
        rows = (
            await session.execute(
                select(
                    RecoveryCase.id,
                    RecoveryCase.cart_id,
                    RecoveryCase.messages_sent,
                    RecoveryCase.window_starts_at,
                    Order.id.label("order_id"),
                    Order.created_at,
                    Order.total,
                    Order.promotion_discount,
                )
                .outerjoin(Order, Order.cart_id == RecoveryCase.cart_id)
                .where(
                    RecoveryCase.status == "open",
                    or_(Order.id.is_not(None), RecoveryCase.window_starts_at <= now - window),
                )
            )
        ).all()
        settled: dict[uuid.UUID, datetime | None] = {}  # case: when it was won back, if it was
        for row in rows:
            recovered = row.order_id is not None and row.created_at <= row.window_starts_at + window
            done = await session.execute(
                update(RecoveryCase)
                .where(RecoveryCase.id == row.id, RecoveryCase.status == "open")
                .values(_settlement(row, recovered, margin_percent=margin_percent, now=now))
            )
            if done.rowcount:  # type: ignore[attr-defined]
                settled[row.id] = row.created_at if recovered else None
                if recovered and row.messages_sent:
                    # Won back by a message: what the analytics count as recovered.
                    stamp = journal.stamp(now)
                    await session.execute(journal.RECOVERED, {**stamp, "cart_id": row.cart_id})
        await _credit(session, settled, now=now)
        await session.commit()
    return len(settled)


def _settlement(
    row: Row[*tuple[Any, ...]], recovered: bool, *, margin_percent: int, now: datetime
) -> dict[str, object]:
    """What a case records when it settles: lost, or recovered with its order's figures."""
    if not recovered:
        return {"status": "lost", "settled_at": now}
    return {
        "status": "recovered",
        "settled_at": now,
        "order_id": row.order_id,
        "revenue": row.total,
        "discount_cost": row.promotion_discount,
        "gross_margin": rules.gross_margin(
            row.total, row.promotion_discount, margin_percent=margin_percent
        ),
    }


async def _credit(
    session: AsyncSession, settled: dict[uuid.UUID, datetime | None], *, now: datetime
) -> None:
    """Close the open messages of cases just settled. Each is credited with an order placed after
    it and before the case's next message (the last touch): a follow-up that wins the cart back
    counts for itself, and the message before it as lost (marked so when the follow-up was
    decided)."""
    if not settled:
        return
    open_messages = await session.execute(
        select(Decision.id, Decision.case_id, Decision.decided_at)
        .where(
            Decision.case_id.in_(sorted(settled)),
            Decision.outcome.is_(None),
            Decision.group != "holdout",
        )
        .order_by(Decision.case_id, Decision.stage)
    )
    latest: dict[uuid.UUID, tuple[uuid.UUID, datetime]] = {}
    every: list[uuid.UUID] = []
    for decision_id, case_id, decided_at in open_messages:
        every.append(decision_id)
        latest[case_id] = (decision_id, decided_at)
    won = {
        decision_id
        for case_id, (decision_id, decided_at) in latest.items()
        if (ordered_at := settled[case_id]) is not None and ordered_at >= decided_at
    }
    await tallies.close(session, won, tallies.RECOVERED, now=now)
    await tallies.close(session, [d for d in every if d not in won], tallies.LOST, now=now)


async def learned(
    session: AsyncSession, *, group: str = "ai", since: date | None = None
) -> dict[str, dict[str, bandit.Outcomes]]:
    """One group's settled messages per context (the primary reason when the message was
    decided) and action, from the running tallies of days since ``since`` (all when None)."""
    return await tallies.learned(session, group=group, since=since)
