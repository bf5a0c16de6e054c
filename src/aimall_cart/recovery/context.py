"""What a recovery decision knows about a batch of carts, loaded in a handful of queries.

Everything here is read in the pass's write transaction, so the decision and what it writes see
one consistent state.
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.carts import access
from aimall_cart.carts import rules as cart_rules
from aimall_cart.carts.models import CartItem
from aimall_cart.catalog import service as catalog
from aimall_cart.checkout.models import Order
from aimall_cart.inventory import service as inventory
from aimall_cart.recovery.models import Notification, RecoveryCase
from aimall_cart.recovery.reasons import CartSignals
from aimall_cart.recovery.suggest import MissingLine

CAP_PERIOD = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class CartState:
    """A cart's lines priced against the live catalog."""

    items: list[CartItem]
    offers: dict[str, cart_rules.Offer]
    value: int

    def missing(self) -> list[MissingLine]:
        """Lines a shopper cannot buy as they stand: gone, out of stock, or short."""
        short = {"unavailable", "out_of_stock", "insufficient_stock"}
        return [
            MissingLine(item.product_id, item.variant_id, item.unit_price - item.discount)
            for item in self.items
            if short & set(cart_rules.line_flags(_line(item), self.offers.get(item.variant_id)))
        ]


@dataclass(frozen=True, slots=True)
class History:
    orders: list[int]  # totals of past orders
    recoveries: int
    ignored: int


def _line(item: CartItem) -> cart_rules.Line:
    return cart_rules.Line(item.quantity, item.unit_price, item.discount)


async def cart_states(
    session: AsyncSession, cart_ids: Collection[uuid.UUID], *, now: datetime
) -> dict[uuid.UUID, CartState]:
    items = list(
        await session.scalars(
            select(CartItem)
            .where(CartItem.cart_id.in_(cart_ids))
            .order_by(CartItem.cart_id, CartItem.created_at, CartItem.id)
        )
    )
    variant_ids = {item.variant_id for item in items}
    variants = await catalog.live_variants(session, variant_ids)
    stock = await inventory.levels(session, variant_ids, now=now)
    offers = {vid: access.offer(v, stock.get(vid)) for vid, v in variants.items()}
    by_cart: dict[uuid.UUID, list[CartItem]] = defaultdict(list)
    for item in items:
        by_cart[item.cart_id].append(item)
    return {
        cart_id: CartState(
            lines,
            {i.variant_id: offers[i.variant_id] for i in lines if i.variant_id in offers},
            cart_rules.totals(_line(i) for i in lines).total,
        )
        for cart_id, lines in by_cart.items()
    }


async def histories(
    session: AsyncSession, user_ids: Collection[str], *, excluding: Collection[uuid.UUID]
) -> dict[str, History]:
    """Each customer's past orders and past abandoned carts, other than the ones at hand."""
    orders: dict[str, list[int]] = defaultdict(list)
    for user_id, total in await session.execute(
        select(Order.user_id, Order.total).where(Order.user_id.in_(user_ids))
    ):
        orders[str(user_id)].append(total)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for user_id, status, count in await session.execute(
        select(RecoveryCase.user_id, RecoveryCase.status, func.count())
        .where(
            RecoveryCase.user_id.in_(user_ids),
            RecoveryCase.cart_id.not_in(excluding),
            RecoveryCase.messages_sent > 0,
            RecoveryCase.status != "open",
        )
        .group_by(RecoveryCase.user_id, RecoveryCase.status)
    ):
        outcomes[user_id][status] = count
    return {
        user_id: History(orders[user_id], outcomes[user_id]["recovered"], outcomes[user_id]["lost"])
        for user_id in user_ids
    }


async def messages_this_week(
    session: AsyncSession, user_ids: Collection[str], *, now: datetime
) -> Counter[str]:
    """Messages (decisions that sent something, whatever the channels) per customer lately."""
    rows = await session.execute(
        select(Notification.user_id, func.count(func.distinct(Notification.decision_id)))
        .where(Notification.user_id.in_(user_ids), Notification.sent_at > now - CAP_PERIOD)
        .group_by(Notification.user_id)
    )
    return Counter({user_id: count for user_id, count in rows})  # noqa: C416


def signals(
    state: CartState,
    history: History,
    *,
    discount_attempts: int,
    idle: timedelta,
    stage: int,
) -> CartSignals:
    price_rise = lines_up = unavailable = short = 0
    for item in state.items:
        offer = state.offers.get(item.variant_id)
        flags = cart_rules.line_flags(_line(item), offer)
        if "unavailable" in flags or "out_of_stock" in flags:
            unavailable += 1
        elif "insufficient_stock" in flags:
            short += 1
        if offer is not None:
            rise = (offer.unit_price - offer.discount) - (item.unit_price - item.discount)
            if rise > 0:
                lines_up += 1
                price_rise += rise * item.quantity
    return CartSignals(
        cart_value=state.value,
        line_count=len(state.items),
        price_rise=price_rise,
        lines_price_up=lines_up,
        lines_unavailable=unavailable,
        lines_short=short,
        typical_order_value=_median(history.orders),
        past_orders=len(history.orders),
        past_recoveries=history.recoveries,
        past_ignored=history.ignored,
        discount_attempts=discount_attempts,
        idle_minutes=idle.total_seconds() / 60,
        stage=stage,
    )


def _median(values: Sequence[int]) -> int | None:
    return int(statistics.median(values)) if values else None
