"""Cart use cases. Every change locks the cart row first and bumps its version.

Callers open a write session (``Database.write_session``) for the mutating use cases; the
entrypoint commits once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.auth import Principal
from aimall_cart.carts import access, rules
from aimall_cart.carts.models import Cart, CartItem
from aimall_cart.carts.schemas import AddItem, UpdateItem
from aimall_cart.catalog import service as catalog
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.inventory import service as inventory


async def get_cart(
    session: AsyncSession, *, principal: Principal, now: datetime
) -> access.CartView:
    cart = await access.find_open(session, principal, lock=False)
    if cart is None:
        raise access.CartNotFound("There is no cart")
    return await access.view(session, cart, now=now)


async def open_cart(
    session: AsyncSession,
    *,
    principal: Principal,
    guest: access.GuestCredential,
    policy: access.CartPolicy,
    now: datetime,
) -> access.CartView:
    """The caller's open cart, created if there is none (``created`` tells which)."""
    cart = await access.find_open(session, principal, lock=True)
    if cart is not None:
        return await access.view(session, cart, now=now)
    cart, created = await access.create(session, principal, guest=guest, policy=policy, now=now)
    return await access.view_of_new(
        session, cart, cart_created=created, created=created, guest=guest, now=now
    )


def _choose(product: Product, *, variant_id: str | None, options: dict[str, str] | None) -> Variant:
    choices = [rules.VariantChoice(v.id, v.options, v.status == "active") for v in product.variants]
    chosen = rules.choose_variant(choices, variant_id=variant_id, options=options)
    variant = next(v for v in product.variants if v.id == chosen.variant_id)
    if product.status != "active" or variant.status != "active":
        raise rules.ProductUnavailable(
            "This product is not available", product_id=product.id, variant_id=variant.id
        )
    return variant


async def _available(session: AsyncSession, variant_id: str, *, now: datetime) -> int:
    level = (await inventory.levels(session, [variant_id], now=now)).get(variant_id)
    return level.available if level else 0


def _take_variant(line: CartItem, product: Product, variant: Variant) -> None:
    """Point the line at a variant and snapshot its product reference and price."""
    line.line_key = rules.line_key(product.id, variant.id, variant.options)
    line.product_id, line.variant_id, line.options = product.id, variant.id, dict(variant.options)
    line.name, line.thumbnail_url = product.name, product.thumbnail_url
    line.unit_price, line.discount = variant.price, variant.discount


def _new_line(product: Product, variant: Variant, *, quantity: int, now: datetime) -> CartItem:
    line = CartItem(id=uuid.uuid4(), quantity=quantity, created_at=now, updated_at=now)
    _take_variant(line, product, variant)
    return line


async def add_item(
    session: AsyncSession,
    *,
    principal: Principal,
    data: AddItem,
    expected_version: int | None,
    guest: access.GuestCredential,
    policy: access.CartPolicy,
    now: datetime,
) -> access.CartView:
    """Add to the line of the same product, variant and options, or start one (``created``).

    The price snapshot comes from the catalog when the line starts and is kept as more is added.
    """
    cart = await access.find_open(session, principal, lock=True)
    cart_created = False
    if cart is None:
        if expected_version is not None:
            raise access.VersionMismatch("There is no cart at that version", current_version=None)
        cart, cart_created = await access.create(
            session, principal, guest=guest, policy=policy, now=now
        )
    access.check_changeable(cart, expected_version, now=now)
    product = await catalog.get_product(session, data.product_id)
    variant = _choose(product, variant_id=data.variant_id, options=data.options)
    bounds = {"min_quantity": product.min_quantity, "max_quantity": product.max_quantity}
    if data.quantity < 1:
        rules.check_quantity(data.quantity, **bounds)
    key = rules.line_key(product.id, variant.id, variant.options)
    line = next((item for item in cart.items if item.line_key == key), None)
    quantity = data.quantity + (line.quantity if line else 0)
    rules.check_quantity(quantity, **bounds)
    _check_room(cart, product, new_line=line is None, policy=policy)
    rules.check_stock(quantity, available=await _available(session, variant.id, now=now))
    if line is None:
        cart.items.append(_new_line(product, variant, quantity=quantity, now=now))
    else:
        line.quantity, line.updated_at = quantity, now
    access.touch(cart, now)
    await session.flush()
    return await access.view_of_new(
        session, cart, cart_created=cart_created, created=line is None, guest=guest, now=now
    )


def _check_room(cart: Cart, product: Product, *, new_line: bool, policy: access.CartPolicy) -> None:
    """A new line needs a free place, and every line shares the cart's currency (an empty cart
    takes the product's)."""
    if new_line and len(cart.items) >= policy.max_lines:
        raise rules.CartFull(
            f"A cart holds at most {policy.max_lines} lines", max_lines=policy.max_lines
        )
    if not cart.items:
        cart.currency = product.currency
    elif product.currency != cart.currency:
        raise rules.CurrencyMismatch(
            f"This cart is in {cart.currency}",
            cart_currency=cart.currency,
            currency=product.currency,
        )


async def update_item(
    session: AsyncSession,
    *,
    principal: Principal,
    item_id: uuid.UUID,
    data: UpdateItem,
    expected_version: int | None,
    now: datetime,
) -> access.CartView:
    """Change a line's quantity or variant; a line that becomes identical to another joins it.
    A quantity of 0 removes the line."""
    cart = await access.lock_for_change(
        session, principal, expected_version=expected_version, now=now
    )
    line = _line(cart, item_id)
    quantity = line.quantity if data.quantity is None else data.quantity
    if quantity == 0:
        cart.items.remove(line)
    elif data.variant_id is None and data.options is None:
        await _set_quantity(session, line, quantity, now=now)
    else:
        await _move_line(session, cart, line, data, quantity=quantity, now=now)
    line.updated_at = now
    access.touch(cart, now)
    await session.flush()
    return await access.view(session, cart, now=now)


async def _set_quantity(
    session: AsyncSession, line: CartItem, quantity: int, *, now: datetime
) -> None:
    """Raising a line needs the product sold, in range and in stock. Lowering only has to stay at
    or above the minimum, so a shopper can trim a line that went unavailable or over the max."""
    product = await catalog.find_product(session, line.product_id)
    if quantity > line.quantity:
        if product is None:
            raise rules.ProductUnavailable(
                "This product is no longer sold", product_id=line.product_id
            )
        variant = _choose(product, variant_id=line.variant_id, options=None)
        rules.check_quantity(
            quantity, min_quantity=product.min_quantity, max_quantity=product.max_quantity
        )
        rules.check_stock(quantity, available=await _available(session, variant.id, now=now))
    elif product is not None:
        ceiling = max(product.max_quantity, line.quantity)
        rules.check_quantity(quantity, min_quantity=product.min_quantity, max_quantity=ceiling)
    line.quantity = quantity


async def _move_line(
    session: AsyncSession,
    cart: Cart,
    line: CartItem,
    data: UpdateItem,
    *,
    quantity: int,
    now: datetime,
) -> None:
    """Point the line at another variant (by id, or by options merged over its own), joining
    the line that already holds that variant if there is one."""
    product = await catalog.get_product(session, line.product_id)
    options = (
        {**line.options, **data.options} if data.options and not data.variant_id else data.options
    )
    variant = _choose(product, variant_id=data.variant_id, options=options)
    key = rules.line_key(product.id, variant.id, variant.options)
    twin = next((i for i in cart.items if i.line_key == key and i.id != line.id), None)
    target = quantity + (twin.quantity if twin else 0)
    rules.check_quantity(
        target, min_quantity=product.min_quantity, max_quantity=product.max_quantity
    )
    if variant.id != line.variant_id or target > line.quantity:
        rules.check_stock(target, available=await _available(session, variant.id, now=now))
    if twin is not None:
        twin.quantity, twin.updated_at = target, now
        cart.items.remove(line)
        return
    if variant.id != line.variant_id:
        _take_variant(line, product, variant)
    line.quantity = quantity


def _line(cart: Cart, item_id: uuid.UUID) -> CartItem:
    line = next((item for item in cart.items if item.id == item_id), None)
    if line is None:
        raise access.ItemNotFound("There is no such item in this cart", item_id=str(item_id))
    return line


async def remove_item(
    session: AsyncSession,
    *,
    principal: Principal,
    item_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
) -> access.CartView:
    cart = await access.lock_for_change(
        session, principal, expected_version=expected_version, now=now
    )
    cart.items.remove(_line(cart, item_id))
    access.touch(cart, now)
    await session.flush()
    return await access.view(session, cart, now=now)


async def clear(
    session: AsyncSession, *, principal: Principal, expected_version: int | None, now: datetime
) -> access.CartView:
    cart = await access.lock_for_change(
        session, principal, expected_version=expected_version, now=now
    )
    cart.items.clear()
    access.touch(cart, now)
    await session.flush()
    return await access.view(session, cart, now=now)
