"""Outcomes: which cases were recovered, and what the policy has learned from them.

A case is recovered when its cart was checked out within the attribution window, which starts at
the first message (or, with none sent, when the case opened); once the window has passed without
an order it is lost. Settling reads orders by cart id, so checkout never needs to know recovery.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from aimall_cart.carts import journal
from aimall_cart.checkout.models import Order
from aimall_cart.db import Database
from aimall_cart.recovery import bandit, rules
from aimall_cart.recovery.models import Decision, RecoveryCase
from aimall_cart.recovery.policy import RecoveryPolicy


async def settle(
    database: Database, policy: RecoveryPolicy, *, margin_percent: int, now: datetime
) -> int:
    """Close every open case whose outcome is known; how many were closed. Part of a background
    job, so it commits itself: all of them in one transaction, as one batch."""
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
        settled = 0
        for row in rows:
            recovered = row.order_id is not None and row.created_at <= row.window_starts_at + window
            values: dict[str, object] = {"status": "lost", "settled_at": now}
            if recovered:
                values |= {
                    "status": "recovered",
                    "order_id": row.order_id,
                    "revenue": row.total,
                    "discount_cost": row.promotion_discount,
                    "gross_margin": rules.gross_margin(
                        row.total, row.promotion_discount, margin_percent=margin_percent
                    ),
                }
            done = await session.execute(
                update(RecoveryCase)
                .where(RecoveryCase.id == row.id, RecoveryCase.status == "open")
                .values(**values)
            )
            settled += done.rowcount  # type: ignore[attr-defined]
            if recovered and row.messages_sent and done.rowcount:  # type: ignore[attr-defined]
                # Won back by a message: what the analytics count as recovered.
                stamp = journal.stamp(now)
                await session.execute(journal.RECOVERED, {**stamp, "cart_id": row.cart_id})
        await session.commit()
    return settled


async def learned(session: AsyncSession) -> dict[str, dict[str, bandit.Outcomes]]:
    """Settled outcomes of the ai group's messages, per context (the primary reason when the
    message was decided) and action. A message is credited with an order placed after it and
    before the case's next message (the last touch): a follow-up that wins the cart back counts for
    itself, and the message before it counts as lost."""
    following = aliased(Decision)
    credited = and_(
        RecoveryCase.status == "recovered",
        Order.created_at >= Decision.decided_at,
        or_(following.id.is_(None), Order.created_at < following.decided_at),
    )
    rows = await session.execute(
        select(
            Decision.primary_reason,
            Decision.action,
            func.sum(case((credited, 1), else_=0)),
            func.count(),
        )
        .join(RecoveryCase, RecoveryCase.id == Decision.case_id)
        .outerjoin(Order, Order.id == RecoveryCase.order_id)
        .outerjoin(
            following,
            and_(following.case_id == Decision.case_id, following.stage == Decision.stage + 1),
        )
        .where(Decision.group == "ai", RecoveryCase.status != "open")
        .group_by(Decision.primary_reason, Decision.action)
    )
    result: dict[str, dict[str, bandit.Outcomes]] = defaultdict(dict)
    for reason, action, recovered, decided in rows:
        result[reason][action] = bandit.Outcomes(int(recovered), int(decided) - int(recovered))
    return dict(result)
