"""Cart use cases on the hot path: read, open, add, change, remove and empty.

Each works on one connection in plain SQL (``queries``, ``writes``) and plain records, never ORM
objects: a change claims the cart (``claims``), reads it back (with the product it adds or moves
to), changes one line and logs the event (``journal``), and the view it answers is built from what
it read and what it changed, not read again. Callers run the changes with ``Database.change``:
in a write transaction, which commits once, or on PostgreSQL first as a read and one guarded
statement (``guarded_sql``), with no transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from aimall_cart.auth import Principal
from aimall_cart.carts import access, claims, journal, lines, rules, writes
from aimall_cart.carts.records import CartRecord, LineRecord, ProductRecord, VariantRecord
from aimall_cart.carts.schemas import AddItem, UpdateItem
from aimall_cart.errors import Unavailable
from aimall_cart.sql import Sql, Write


async def get_cart(sql: Sql, *, principal: Principal, now: datetime) -> access.CartView:
    view = await claims.find_open(sql, principal, now=now)
    if view is None:
        raise access.CartNotFound("There is no cart")
    return view


async def open_cart(
    sql: Sql,
    *,
    principal: Principal,
    guest: access.GuestCredential,
    policy: access.CartPolicy,
    now: datetime,
) -> access.CartView:
    """The caller's open cart, created if there is none (``created`` tells which)."""
    for _ in range(claims.CLAIM_ATTEMPTS):
        if (view := await claims.find_open(sql, principal, now=now)) is not None:
            return view
        cart = await claims.create(
            sql, principal, guest=guest, currency=policy.default_currency, version=1, now=now
        )
        if cart is not None:
            await journal.log(sql, cart, journal.cart_created(cart.currency), now=now)
            return claims.fresh_view(cart, guest=guest)
    raise Unavailable("The cart is busy; try again", retry_after=1)


async def add_item(
    sql: Sql,
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
    view, found = await claims.claim_or_create(
        sql,
        principal,
        expected_version=expected_version,
        guest=guest,
        currency=policy.default_currency,
        product_id=data.product_id,
        now=now,
    )
    cart = view.cart
    assert isinstance(cart, CartRecord)
    new_cart = view.created
    product = lines.found(found, data.product_id)
    variant = lines.choose(product, variant_id=data.variant_id, options=data.options)
    bounds = {"min_quantity": product.min_quantity, "max_quantity": product.max_quantity}
    if data.quantity < 1:
        rules.check_quantity(data.quantity, **bounds)
    key = rules.line_key(product.id, variant.id, variant.options)
    line = next((item for item in cart.items if item.line_key == key), None)
    quantity = data.quantity + (line.quantity if line else 0)
    rules.check_quantity(quantity, **bounds)
    currency = lines.check_room(cart, product, new_line=line is None, policy=policy)
    rules.check_stock(quantity, available=variant.available)
    if line is None:
        line, change = _start_line(view, cart, product, variant, quantity, now=now)
    else:
        change = _quantity_write(line, quantity, now=now)
        line.quantity = quantity
    changes = [change]
    if currency != cart.currency:
        changes.append((writes.SET_CURRENCY, {"cart_id": cart.id, "new_currency": currency}))
        cart.currency = currency
    added = journal.of_line("item_added", line, cart, data.quantity)
    logged = (journal.cart_created(cart.currency), added) if new_cart else (added,)
    await journal.log(sql, cart, *logged, now=now, along=changes)
    return view


def _start_line(
    view: access.CartView,
    cart: CartRecord,
    product: ProductRecord,
    variant: VariantRecord,
    quantity: int,
    *,
    now: datetime,
) -> tuple[LineRecord, Write]:
    """A new line in the cart and the view, and the write that stores it."""
    line = LineRecord(uuid.uuid4(), "", "", "", "", None, {}, quantity, 0, 0, now)
    lines.snapshot(line, product, variant)
    cart.items.append(line)
    view.offers[variant.id] = product.offer(variant)
    view.created = True
    values = {"new_id": line.id, "new_cart_id": cart.id, "now": now}
    return line, (writes.NEW_LINE, {**lines.line_values(line), **values})


def _quantity_write(line: LineRecord, quantity: int, *, now: datetime) -> Write:
    return writes.SET_QUANTITY, {"line_id": line.id, "new_quantity": quantity, "now": now}


async def _set_quantity(
    sql: Sql, cart: CartRecord, line: LineRecord, quantity: int, *, now: datetime
) -> None:
    """Write the line's new quantity, logged as ``quantity_changed`` when it changed."""
    change = _quantity_write(line, quantity, now=now)
    if quantity == line.quantity:
        await sql.run(*change)
    else:
        changed = journal.of_line("quantity_changed", line, cart, quantity - line.quantity)
        await journal.log(sql, cart, changed, now=now, along=[change])
    line.quantity = quantity


def _line(cart: CartRecord, item_id: uuid.UUID) -> LineRecord:
    line = next((item for item in cart.items if item.id == item_id), None)
    if line is None:
        raise access.ItemNotFound("There is no such item in this cart", item_id=str(item_id))
    return line


async def update_item(
    sql: Sql,
    *,
    principal: Principal,
    item_id: uuid.UUID,
    data: UpdateItem,
    expected_version: int | None,
    now: datetime,
) -> access.CartView:
    """Change a line's quantity or variant; a line that becomes identical to another joins it.
    A quantity of 0 removes the line."""
    moves = data.variant_id is not None or data.options is not None
    view, cart, product = await claims.claimed(
        sql,
        principal,
        expected_version=expected_version,
        line_product=item_id if moves else None,
        now=now,
    )
    line = _line(cart, item_id)
    quantity = line.quantity if data.quantity is None else data.quantity
    if quantity == 0:
        await _remove_line(sql, cart, line, now=now)
    elif not moves:
        lines.check_new_quantity(line, quantity, view.offers.get(line.variant_id))
        await _set_quantity(sql, cart, line, quantity, now=now)
    else:
        product = lines.found(product, line.product_id)
        await _move_line(sql, view, cart, line, product, data, quantity=quantity, now=now)
    return view


async def _move_line(
    sql: Sql,
    view: access.CartView,
    cart: CartRecord,
    line: LineRecord,
    product: ProductRecord,
    data: UpdateItem,
    *,
    quantity: int,
    now: datetime,
) -> None:
    """Point the line at another variant (by id, or by options merged over its own), joining
    the line that already holds that variant if there is one."""
    options = (
        {**line.options, **data.options} if data.options and not data.variant_id else data.options
    )
    variant = lines.choose(product, variant_id=data.variant_id, options=options)
    key = rules.line_key(product.id, variant.id, variant.options)
    twin = next((i for i in cart.items if i.line_key == key and i.id != line.id), None)
    target = quantity + (twin.quantity if twin else 0)
    rules.check_quantity(
        target, min_quantity=product.min_quantity, max_quantity=product.max_quantity
    )
    if variant.id != line.variant_id or target > line.quantity:
        rules.check_stock(target, available=variant.available)
    view.offers.setdefault(variant.id, product.offer(variant))
    if twin is not None:
        await _join_twin(sql, cart, line, twin, target, now=now)
        return
    if variant.id == line.variant_id:
        await _set_quantity(sql, cart, line, quantity, now=now)
        return
    removed = journal.of_line("item_removed", line, cart, -line.quantity)
    line.quantity = quantity
    lines.snapshot(line, product, variant)
    repoint = {**lines.line_values(line), "line_id": line.id, "now": now}
    added = journal.of_line("item_added", line, cart, quantity)
    await journal.log(sql, cart, removed, added, now=now, along=[(writes.REPOINT_LINE, repoint)])


async def _join_twin(
    sql: Sql, cart: CartRecord, line: LineRecord, twin: LineRecord, target: int, *, now: datetime
) -> None:
    """The moved line becomes its twin's: the twin takes the quantity and the line goes."""
    # Both statements name their line ``line_id``, so they cannot go together.
    await sql.run(*_quantity_write(twin, target, now=now))
    removed = journal.of_line("item_removed", line, cart, -line.quantity)
    joined = journal.of_line("quantity_changed", twin, cart, target - twin.quantity)
    twin.quantity = target
    cart.items.remove(line)
    drop = (writes.DROP_LINE, {"line_id": line.id})
    await journal.log(sql, cart, removed, joined, now=now, along=[drop])


async def remove_item(
    sql: Sql,
    *,
    principal: Principal,
    item_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
) -> access.CartView:
    view, cart, _ = await claims.claimed(sql, principal, expected_version=expected_version, now=now)
    await _remove_line(sql, cart, _line(cart, item_id), now=now)
    return view


async def _remove_line(sql: Sql, cart: CartRecord, line: LineRecord, *, now: datetime) -> None:
    cart.items.remove(line)
    removed = journal.of_line("item_removed", line, cart, -line.quantity)
    await journal.log(sql, cart, removed, now=now, along=[(writes.DROP_LINE, {"line_id": line.id})])


async def clear(
    sql: Sql, *, principal: Principal, expected_version: int | None, now: datetime
) -> access.CartView:
    view, cart, _ = await claims.claimed(sql, principal, expected_version=expected_version, now=now)
    if cart.items:
        removed = journal.each_line("item_removed", cart.id, direction=-1)
        await sql.run(journal.EACH_LINE, {**journal.stamp(now), **removed})
    await sql.run(writes.DROP_ALL_LINES, {"cart_id": cart.id})
    cart.items.clear()
    return view
