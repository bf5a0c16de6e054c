"""What the simulated shoppers and the shop do, through the real services: stock the catalog, fill
carts, churn the catalog under them, read in-app messages, and come back to check out.

Each function works in the session the simulator (an entrypoint) opened; the simulator commits,
one transaction per batch of customers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.auth import Principal
from aimall_cart.carts import access, promotions
from aimall_cart.carts import rules as cart_rules
from aimall_cart.carts import service as carts
from aimall_cart.carts.schemas import AddItem
from aimall_cart.catalog import service as catalog
from aimall_cart.catalog.demo import demo_products
from aimall_cart.catalog.schemas import VariantPatch
from aimall_cart.checkout import service as checkout
from aimall_cart.crypto import KeyRing
from aimall_cart.errors import AppError
from aimall_cart.inventory import service as inventory
from aimall_cart.privacy.models import Preferences
from aimall_cart.recovery import inbox
from aimall_cart.simulation.market import CartLine, Customer, Message, plan_return
from aimall_cart.sql import CoreSql

ADMIN = Principal(user_id="simulator", role="admin")
# Ample, so shoppers never compete for stock: only churn takes an item out of stock.
STOCK_PER_VARIANT = 1_000_000
_MEMBER = access.GuestCredential(token="", token_hash="")  # members need no guest token

Outcome = Literal["ordered", "nothing_to_buy", "blocked"]


@dataclass(frozen=True, slots=True)
class Shelf:
    """A variant on sale, with the price it was stocked at (what churn puts back)."""

    product_id: str
    variant_id: str
    price: int
    discount: int


@dataclass(frozen=True, slots=True)
class Letter:
    """The newest in-app message, as its reader finds it."""

    message: Message
    discount_code: str | None
    alternatives: tuple[tuple[str, str], ...]  # (product id, variant id) that can be bought now


async def stock_shop(
    session: AsyncSession, *, products: int, variants_per_product: int, now: datetime
) -> list[Shelf]:
    """The demo catalog, each product cut to its first few variants (stocking costs a query per
    variant), with ample stock; answers the variants a cart may take."""
    shelves: list[Shelf] = []
    for product_id, data in demo_products(products):
        variants = [
            v.model_copy(update={"stock": STOCK_PER_VARIANT})
            for v in data.variants[:variants_per_product]
        ]
        stocked = data.model_copy(update={"variants": variants})
        await catalog.upsert_product(
            session, principal=ADMIN, product_id=product_id, data=stocked, now=now
        )
        if stocked.status == "active":
            shelves += [
                Shelf(product_id, v.variant_id, v.price, v.discount)
                for v in variants
                if v.status == "active"
            ]
    return shelves


def deal(
    shelves: Sequence[Shelf], line_counts: Sequence[int], rng: np.random.Generator
) -> list[list[Shelf]]:
    """Each cart's variants, dealt from one shuffle of the catalog, so no two carts share a
    variant (and so a churned item) unless they need more lines than the catalog has variants."""
    order = rng.permutation(len(shelves))
    dealt = [shelves[int(i)] for i in np.resize(order, sum(line_counts))]
    hands, start = [], 0
    for count in line_counts:
        hands.append(dealt[start : start + count])
        start += count
    return hands


async def fill_cart(
    session: AsyncSession,
    customer: Customer,
    shelves: Sequence[Shelf],
    *,
    cart_policy: access.CartPolicy,
    now: datetime,
) -> None:
    """Consent to in-app messages and cart one of each of ``shelves``."""
    session.add(
        Preferences(
            user_id=customer.user_id,
            marketing_consent=True,
            channels=["in_app"],
            consent_updated_at=now,
            updated_at=now,
        )
    )
    principal = Principal(user_id=customer.user_id, role="customer")
    connection = CoreSql(await session.connection())
    for shelf in shelves:
        await carts.add_item(
            connection,
            principal=principal,
            data=AddItem(product_id=shelf.product_id, variant_id=shelf.variant_id, quantity=1),
            expected_version=None,
            guest=_MEMBER,
            policy=cart_policy,
            now=now,
        )


@dataclass
class CatalogChanges:
    """Catalog changes made under the carts of one wave, and how to undo them."""

    changed: dict[str, Shelf] = field(default_factory=dict)

    async def apply(
        self, session: AsyncSession, customer: Customer, carted: Sequence[Shelf], *, now: datetime
    ) -> None:
        """A stock-out hits the first carted item, a price rise the last (with one line, both
        hit it). The rise is on the stocked price, so two rises on one variant do not compound."""
        if customer.stockout:
            await self._patch(session, carted[0], VariantPatch(stock=0), now=now)
        if customer.price_rise > 0:
            shelf = carted[-1]
            risen = max(round(shelf.price * (1 + customer.price_rise)), shelf.discount)
            await self._patch(session, shelf, VariantPatch(price=risen), now=now)

    async def _patch(
        self, session: AsyncSession, shelf: Shelf, patch: VariantPatch, *, now: datetime
    ) -> None:
        self.changed.setdefault(shelf.variant_id, shelf)
        await catalog.patch_variant(
            session, principal=ADMIN, variant_id=shelf.variant_id, data=patch, now=now
        )

    async def undo(self, session: AsyncSession, *, now: datetime) -> None:
        """Put every changed variant back as it was stocked, ready for the next wave."""
        for shelf in self.changed.values():
            patch = VariantPatch(price=shelf.price, stock=STOCK_PER_VARIANT)
            await catalog.patch_variant(
                session, principal=ADMIN, variant_id=shelf.variant_id, data=patch, now=now
            )
        self.changed.clear()


async def read_inbox(
    session: AsyncSession, user_id: str, *, since: datetime, now: datetime
) -> Letter | None:
    """The customer's newest in-app message sent since ``since``, with its alternatives checked
    against the live catalog: only those that can really be bought count."""
    newest = await inbox.in_app(session, user_id=user_id, cursor=None, limit=1)
    if not newest or newest[0].sent_at < since:
        return None
    note = newest[0]
    offered = [(str(a["product_id"]), str(a["variant_id"])) for a in note.alternatives]
    variant_ids = [variant_id for _, variant_id in offered]
    live = await catalog.live_variants(session, variant_ids)
    stock = await inventory.levels(session, variant_ids, now=now)
    buyable = tuple(
        (product_id, variant_id)
        for product_id, variant_id in offered
        if variant_id in live and live[variant_id].sold and stock[variant_id].available > 0
    )
    message = Message(
        discount_percent=note.discount_percent or 0,
        alternatives_offered=len(offered),
        alternatives_in_stock=len(buyable),
    )
    return Letter(message, note.discount_code, buyable)


def _buyable(offer: cart_rules.Offer | None, quantity: int) -> bool:
    return offer is not None and offer.active and offer.available >= quantity


async def come_back(
    session: AsyncSession,
    user_id: str,
    letter: Letter | None,
    *,
    cart_policy: access.CartPolicy,
    reservation_ttl: timedelta,
    keys: KeyRing,
    max_units_per_variant: int,
    now: datetime,
) -> Outcome:
    """A returning customer fixes the cart as ``plan_return`` says, applies the message's code,
    and checks out accepting the live prices. A refusal from any service rolls back only this
    customer's changes (a savepoint) and is answered as ``blocked``."""
    principal = Principal(user_id=user_id, role="customer")
    try:
        async with session.begin_nested():
            if not await _fix_cart(session, principal, letter, cart_policy=cart_policy, now=now):
                return "nothing_to_buy"
            if letter is not None and letter.discount_code is not None:
                # A refused code is answered, not raised; the customer then pays full price.
                await promotions.apply(
                    session,
                    principal=principal,
                    code=letter.discount_code,
                    expected_version=None,
                    now=now,
                )
            await checkout.start(
                session,
                principal=principal,
                accept_price_changes=True,
                expected_version=None,
                ttl=reservation_ttl,
                max_units_per_variant=max_units_per_variant,
                now=now,
            )
            await checkout.complete(
                session, principal=principal, payment_reference=None, keys=keys, now=now
            )
    except AppError:
        return "blocked"
    return "ordered"


async def _fix_cart(
    session: AsyncSession,
    principal: Principal,
    letter: Letter | None,
    *,
    cart_policy: access.CartPolicy,
    now: datetime,
) -> bool:
    """Drop the lines that cannot be bought, taking offered alternatives in their place; whether
    anything is left to buy."""
    connection = CoreSql(await session.connection())
    view = await carts.get_cart(connection, principal=principal, now=now)
    lines = [
        CartLine(str(i.id), i.variant_id, _buyable(view.offers.get(i.variant_id), i.quantity))
        for i in view.cart.items
    ]
    plan = plan_return(lines, letter.alternatives if letter else ())
    for item_id in plan.remove:
        await carts.remove_item(
            connection,
            principal=principal,
            item_id=uuid.UUID(item_id),
            expected_version=None,
            now=now,
        )
    for product_id, variant_id in plan.add:
        await carts.add_item(
            connection,
            principal=principal,
            data=AddItem(product_id=product_id, variant_id=variant_id, quantity=1),
            expected_version=None,
            guest=_MEMBER,
            policy=cart_policy,
            now=now,
        )
    return plan.buys
