"""Writing the cart event log (``CartEvent``) inside the transaction of the change it records.

Each write is one statement, and on the hot path it goes with the line's own write
(``log(..., along=...)``: one round trip on PostgreSQL). The seller is looked up inside the
statement, never by a read of its own. Events name the cart only by its random
``analytics_key``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Date,
    Insert,
    Integer,
    String,
    Table,
    bindparam,
    insert,
    literal_column,
    null,
    select,
)
from sqlalchemy.sql.elements import BindParameter

from aimall_cart.carts.models import CartEvent
from aimall_cart.carts.queries import NOW as _NOW
from aimall_cart.carts.queries import carts as _carts
from aimall_cart.carts.queries import items as _items
from aimall_cart.carts.queries import products as _products
from aimall_cart.carts.records import CartRecord, LineRecord
from aimall_cart.guarded_sql import insert_rows
from aimall_cart.sql import Sql, Write

events = cast(Table, CartEvent.__table__)

# Parameter names differ from the columns' (``event_*``): SQLAlchemy keeps a column's own name
# for itself in an INSERT.
_DAY = bindparam("event_day", type_=Date())
_CART_KEY = bindparam("event_cart_key", type_=events.c.cart_key.type)


def _param(name: str, suffix: str) -> BindParameter[Any]:
    return bindparam(f"event_{name}{suffix}", type_=events.c[name].type)


def _line_row(suffix: str) -> dict[str, Any]:
    product_id = _param("product_id", suffix)
    seller = select(_products.c.seller_id).where(_products.c.id == product_id).scalar_subquery()
    return {
        "occurred_at": _NOW,
        "day": _DAY,
        "kind": _param("kind", suffix),
        "cart_key": _CART_KEY,
        "seller_id": seller,
        "product_id": product_id,
        "variant_id": _param("variant_id", suffix),
        "quantity_delta": _param("quantity_delta", suffix),
        "value": _param("value", suffix),
        "currency": _param("currency", suffix),
    }


# One or two line events in one statement (moving a line to another variant is two).
LINE_EVENTS: dict[int, Insert] = {
    1: insert_rows(events, _line_row("")),
    2: insert_rows(events, _line_row("_0"), _line_row("_1")),
}

# Every column an event row fills, in the order the bulk writers give them.
EVENT_COLUMNS = (
    "occurred_at",
    "day",
    "kind",
    "cart_key",
    "seller_id",
    "product_id",
    "variant_id",
    "quantity_delta",
    "value",
    "currency",
    "reason",
)

# One event per line of the cart, as it stands: a checkout, an abandonment, emptying the cart.
# ``direction`` is 1 (the lines as they are) or -1 (the lines leave the cart).
_DIRECTION = bindparam("direction", type_=Integer())
EACH_LINE = insert(events).from_select(
    list(EVENT_COLUMNS),
    select(
        _NOW,
        _DAY,
        bindparam("event_kind", type_=events.c.kind.type),
        _carts.c.analytics_key,
        _products.c.seller_id,
        _items.c.product_id,
        _items.c.variant_id,
        _DIRECTION * _items.c.quantity,
        _DIRECTION * _items.c.quantity * (_items.c.unit_price - _items.c.discount),
        _carts.c.currency,
        null(),
    )
    .select_from(
        _items.join(_carts, _carts.c.id == _items.c.cart_id).outerjoin(
            _products, _products.c.id == _items.c.product_id
        )
    )
    .where(_items.c.cart_id == bindparam("cart_id"))
    .order_by(_items.c.created_at, _items.c.id),
)


def stamp(now: datetime, cart_key: str | None = None) -> dict[str, Any]:
    """When it happened, and to which cart (``EACH_LINE`` reads the cart's key itself)."""
    found: dict[str, Any] = {"now": now, "event_day": now.date()}
    if cart_key is not None:
        found["event_cart_key"] = cart_key
    return found


def line_event(
    kind: str,
    *,
    product_id: str,
    variant_id: str,
    quantity_delta: int,
    unit_net_price: int,
    currency: str,
) -> dict[str, Any]:
    """One line event's own parameters (``lines`` takes one or two)."""
    return {
        "event_kind": kind,
        "event_product_id": product_id,
        "event_variant_id": variant_id,
        "event_quantity_delta": quantity_delta,
        "event_value": quantity_delta * unit_net_price,
        "event_currency": currency,
    }


def cart_created(currency: str) -> dict[str, Any]:
    """``cart_created`` as a row of ``LINE_EVENTS`` (no line: no product, hence no seller), so a
    cart made by an add logs both events in one statement."""
    return {
        "event_kind": "cart_created",
        "event_product_id": None,
        "event_variant_id": None,
        "event_quantity_delta": 0,
        "event_value": 0,
        "event_currency": currency,
    }


def lines(*found: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``LINE_EVENTS[len(found)]``."""
    if len(found) == 1:
        return dict(found[0])
    return {f"{name}_{i}": value for i, one in enumerate(found) for name, value in one.items()}


def each_line(kind: str, cart_id: object, *, direction: int = 1) -> dict[str, Any]:
    """``EACH_LINE``'s own parameters, ``stamp`` aside."""
    return {"event_kind": kind, "cart_id": cart_id, "direction": direction}


def of_line(kind: str, line: LineRecord, cart: CartRecord, delta: int) -> dict[str, Any]:
    """A hot-path line event: ``delta`` units at the line's net price."""
    return line_event(
        kind,
        product_id=line.product_id,
        variant_id=line.variant_id,
        quantity_delta=delta,
        unit_net_price=line.unit_price - line.discount,
        currency=cart.currency,
    )


async def log(
    sql: Sql,
    cart: CartRecord,
    *found: dict[str, Any],
    now: datetime,
    along: Sequence[Write] = (),
) -> None:
    """A hot-path change's events (one or two) in one statement, sent together with the writes
    of the change they record (``along``), which never touch the event log."""
    params = {**stamp(now, cart.analytics_key), **lines(*found)}
    await sql.run_together(*along, (LINE_EVENTS[len(found)], params))


def _recovered() -> Insert:
    """``cart_recovered`` for a cart, one per line of its ``checkout_completed`` events."""
    done = events.alias("done")
    key = select(_carts.c.analytics_key).where(_carts.c.id == bindparam("cart_id"))
    return insert(events).from_select(
        [*_COPIED, "occurred_at", "day", "kind"],
        select(
            *(done.c[name] for name in _COPIED),
            _NOW,
            _DAY,
            literal_column("'cart_recovered'", String),
        ).where(done.c.cart_key == key.scalar_subquery(), done.c.kind == "checkout_completed"),
    )


_COPIED = (
    "cart_key",
    "seller_id",
    "product_id",
    "variant_id",
    "quantity_delta",
    "value",
    "currency",
)
RECOVERED = _recovered()
