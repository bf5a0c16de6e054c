"""The recovery report: per experiment group, with 95% intervals and the lift of ai over
baseline, computed from the cases table in one aggregate query."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.recovery import rules
from aimall_cart.recovery.models import GROUPS, RecoveryCase


class GroupReport(BaseModel):
    carts: int
    messaged: int
    recovered: int
    open: int  # still inside their attribution window
    recovery_rate: float | None
    recovery_rate_interval: tuple[float, float] | None
    recovered_revenue: int
    discount_cost: int
    net_margin: int
    net_margin_per_cart: float | None


class Lift(BaseModel):
    """Relative lift of one group's recovery rate over another's (0.2 is +20%)."""

    over: str
    value: float | None
    interval: tuple[float, float] | None


class ReportOut(BaseModel):
    currency: str
    detected_from: datetime | None
    detected_to: datetime | None
    groups: dict[str, GroupReport]
    lift: Lift
    lift_over_holdout: Lift


def _group(
    carts: int, messaged: int, recovered: int, open_: int, revenue: int, cost: int, gross: int
) -> GroupReport:
    interval = rules.wilson(recovered, carts)
    net = gross - cost
    return GroupReport(
        carts=carts,
        messaged=messaged,
        recovered=recovered,
        open=open_,
        recovery_rate=recovered / carts if carts else None,
        recovery_rate_interval=(interval.low, interval.high) if interval else None,
        recovered_revenue=revenue,
        discount_cost=cost,
        net_margin=net,
        net_margin_per_cart=net / carts if carts else None,
    )


def _lift(group: GroupReport, base: GroupReport, over: str) -> Lift:
    found = rules.relative_lift(group.recovered, group.carts, base.recovered, base.carts)
    if found is None:
        return Lift(over=over, value=None, interval=None)
    value, interval = found
    return Lift(over=over, value=value, interval=(interval.low, interval.high))


async def build(
    session: AsyncSession,
    *,
    currency: str,
    detected_from: datetime | None = None,
    detected_to: datetime | None = None,
) -> ReportOut:
    recovered = RecoveryCase.status == "recovered"
    stmt = (
        select(
            RecoveryCase.group,
            func.count(),
            func.sum(case((RecoveryCase.messages_sent > 0, 1), else_=0)),
            func.sum(case((recovered, 1), else_=0)),
            func.sum(case((RecoveryCase.status == "open", 1), else_=0)),
            func.sum(RecoveryCase.revenue),
            func.sum(RecoveryCase.discount_cost),
            func.sum(RecoveryCase.gross_margin),
        )
        .where(RecoveryCase.currency == currency)
        .group_by(RecoveryCase.group)
    )
    if detected_from is not None:
        stmt = stmt.where(RecoveryCase.detected_at >= detected_from)
    if detected_to is not None:
        stmt = stmt.where(RecoveryCase.detected_at < detected_to)
    found = {row[0]: _group(*(int(v or 0) for v in row[1:])) for row in await session.execute(stmt)}
    groups = {group: found.get(group) or _group(0, 0, 0, 0, 0, 0, 0) for group in GROUPS}
    return ReportOut(
        currency=currency,
        detected_from=detected_from,
        detected_to=detected_to,
        groups=groups,
        lift=_lift(groups["ai"], groups["baseline"], "baseline"),
        lift_over_holdout=_lift(groups["ai"], groups["holdout"], "holdout"),
    )
