"""Outcomes: which cases were recovered, and what the policy has learned from them.

A case is recovered when its cart was checked out within the attribution window, which starts at
the first message (or, with none sent, when the case opened); once the window has passed without
an order it is lost. Settling reads orders by cart id, so checkout never needs to know recovery.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.checkout.models import Order
from aimall_cart.db import Database
from aimall_cart.recovery import bandit, rules
from aimall_cart.recovery.models import RecoveryCase
from aimall_cart.recovery.policy import RecoveryPolicy


async def settle(
    database: Database, policy: RecoveryPolicy, *, margin_percent: int, now: datetime
) -> int:
    """Close every open case whose outcome is known; how many were closed. One transaction."""
    window = timedelta(hours=policy.attribution_window_hours)
    async with database.write_session() as session:
        rows = (
            await session.execute(
                select(
                    RecoveryCase.id,
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
        await session.commit()
    return settled


async def learned(session: AsyncSession) -> dict[str, dict[str, bandit.Outcomes]]:
    """Settled outcomes of the ai group's first decisions, per primary reason and action."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"recovered": 0, "lost": 0})
    rows = await session.execute(
        select(
            RecoveryCase.primary_reason,
            RecoveryCase.first_action,
            RecoveryCase.status,
            func.count(),
        )
        .where(
            RecoveryCase.group == "ai",
            RecoveryCase.status != "open",
            RecoveryCase.first_action.is_not(None),
        )
        .group_by(RecoveryCase.primary_reason, RecoveryCase.first_action, RecoveryCase.status)
    )
    for reason, action, status, count in rows:
        counts[(str(reason), str(action))][status] = count
    result: dict[str, dict[str, bandit.Outcomes]] = defaultdict(dict)
    for (reason, action), tally in counts.items():
        result[reason][action] = bandit.Outcomes(tally["recovered"], tally["lost"])
    return dict(result)
