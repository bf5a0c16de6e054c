"""Merging a guest cart into the member's cart on sign-in.

Both carts are locked in id order in one transaction. The guest cart ends ``merged`` and points at
the member cart, so a repeated or racing merge finds it done and adds nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from aimall_cart.auth import Principal
from aimall_cart.carts import access, journal, rules
from aimall_cart.carts.models import Cart, CartItem
from aimall_cart.errors import Invalid, Unauthenticated


class GuestCartRequired(Invalid):
    code = "guest_cart_required"


@dataclass(slots=True)
class MergeResult:
    view: access.CartView
    strategy: rules.MergeStrategy
    decisions: list[rules.MergeDecision] = field(default_factory=list)
    lines: dict[str, CartItem] = field(default_factory=dict)  # by key, for the report


async def _lock_in_id_order(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Cart]:
    carts = await session.scalars(
        select(Cart)
        .options(selectinload(Cart.items))
        .where(Cart.id.in_(ids))
        .order_by(Cart.id)
        .with_for_update(of=Cart)
        .execution_options(populate_existing=True)
    )
    return {cart.id: cart for cart in carts}


async def _guest_cart(session: AsyncSession, principal: Principal) -> Cart:
    if principal.user_id is None:
        raise Unauthenticated("Sign in to merge a guest cart")
    if principal.cart_token_hash is None:
        raise GuestCartRequired("Send the guest cart's X-Cart-Token to merge it")
    guest = await session.scalar(
        select(Cart).where(Cart.guest_token_hash == principal.cart_token_hash)
    )
    if guest is None or guest.status in ("checked_out", "expired"):
        raise access.CartNotFound("There is no such guest cart")
    return guest


async def merge(
    session: AsyncSession,
    *,
    principal: Principal,
    strategy: rules.MergeStrategy,
    preview: bool,
    expected_version: int | None,
    guest: access.GuestCredential,
    policy: access.CartPolicy,
    now: datetime,
) -> MergeResult:
    """Merge the caller's guest cart into their member cart; with ``preview`` the caller rolls
    back, and versions are left as they are so the ETag still names the cart as it stands."""
    guest_cart = await _guest_cart(session, principal)
    member_cart = await access.find_open(session, principal, lock=False)
    if member_cart is None:
        if expected_version is not None:
            raise access.VersionMismatch("There is no cart at that version", current_version=None)
        member_cart, _ = await access.create(
            session, principal, guest=guest, policy=policy, now=now, lock=False
        )
    locked = await _lock_in_id_order(session, sorted([guest_cart.id, member_cart.id]))
    guest_cart, member_cart = locked[guest_cart.id], locked[member_cart.id]
    access.check_changeable(member_cart, expected_version, now=now)
    if guest_cart.status == "merged":
        if guest_cart.merged_into_id != member_cart.id:
            raise access.CartNotFound("There is no such guest cart")
        return MergeResult(await access.view(session, member_cart, now=now), strategy)
    access.check_changeable(guest_cart, None, now=now)

    guest_view = await access.view(session, guest_cart, now=now)
    member_currency_fixed = bool(member_cart.items) and strategy != "replace"
    decisions = rules.plan_merge(
        {line.line_key: line.quantity for line in member_cart.items},
        [
            _guest_line(line, guest_view.offers.get(line.variant_id), guest_cart.currency)
            for line in guest_cart.items
        ],
        strategy=strategy,
        currency=member_cart.currency if member_currency_fixed else None,
        max_lines=policy.max_lines,
    )
    lines = _apply(member_cart, guest_cart, decisions, now=now)
    if not member_currency_fixed and any(d.outcome != "dropped" for d in decisions):
        member_cart.currency = guest_cart.currency
    if not preview:
        guest_cart.status, guest_cart.merged_into_id = "merged", member_cart.id
        access.touch(guest_cart, now)
        access.touch(member_cart, now)
        await _log(session, member_cart, decisions, lines, now=now)
    await session.flush()
    return MergeResult(await access.view(session, member_cart, now=now), strategy, decisions, lines)


def _guest_line(line: CartItem, offer: rules.Offer | None, currency: str) -> rules.GuestLine:
    return rules.GuestLine(
        key=line.line_key,
        quantity=line.quantity,
        max_quantity=offer.max_quantity if offer else line.quantity,
        available=offer is not None and offer.active,
        currency=currency,
    )


def _apply(
    member: Cart, guest: Cart, decisions: list[rules.MergeDecision], *, now: datetime
) -> dict[str, CartItem]:
    """Carry the plan out on the member cart; guest lines keep the price snapshot they were
    added with, so the shopper sees a price change flagged rather than silently applied."""
    mine = {line.line_key: line for line in member.items}
    theirs = {line.line_key: line for line in guest.items}
    for decision in decisions:
        if decision.outcome == "dropped":
            if decision.source == "member":
                member.items.remove(mine[decision.key])
            continue
        line = mine.get(decision.key)
        if line is None:
            source = theirs[decision.key]
            line = CartItem(
                id=uuid.uuid4(),
                line_key=source.line_key,
                product_id=source.product_id,
                variant_id=source.variant_id,
                name=source.name,
                thumbnail_url=source.thumbnail_url,
                options=dict(source.options),
                unit_price=source.unit_price,
                discount=source.discount,
                quantity=decision.quantity,
                created_at=source.created_at,  # keeps the guest's line order
                updated_at=now,
            )
            member.items.append(line)
            mine[decision.key] = line
        elif line.quantity != decision.quantity:
            line.quantity, line.updated_at = decision.quantity, now
    return {**theirs, **mine}


async def _log(
    session: AsyncSession,
    member: Cart,
    decisions: list[rules.MergeDecision],
    lines: dict[str, CartItem],
    *,
    now: datetime,
) -> None:
    """A ``cart_merged`` event, on the member cart, for each line the merge changed."""
    found = [
        journal.line_event(
            "cart_merged",
            product_id=lines[d.key].product_id,
            variant_id=lines[d.key].variant_id,
            quantity_delta=d.quantity - d.member_quantity,
            unit_net_price=lines[d.key].unit_price - lines[d.key].discount,
            currency=member.currency,
        )
        for d in decisions
        if d.quantity != d.member_quantity
    ]
    if found:
        stamp = journal.stamp(now, member.analytics_key)
        await session.execute(journal.LINE_EVENTS[1], [{**stamp, **one} for one in found])
