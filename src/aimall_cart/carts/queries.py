"""The few hand-tuned statements of the cart hot path, in SQLAlchemy Core on plain rows.

A cart read or write is what every live session does all day, so these are built once, at
import, and each is shaped to save a round trip (see DESIGN.md, "The hot path"):

- a read is ``CART_BY_*``: the cart, its code, its lines, their live offers and free stock in
  one statement, one snapshot;
- a write claims the cart (``claim_queries``: the lock, the checks and the version bump in one
  ``UPDATE``) and reads it back with ``CART_BY_ID`` (or, when it adds or moves a line, with
  ``CART_WITH_PRODUCT``, the product's variants in the same statement); on PostgreSQL the
  claim and the read are one statement. It then changes one line (``writes``) and logs the
  event (``journal``), on PostgreSQL again in one statement.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    CompoundSelect,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.selectable import FromClause

from aimall_cart.carts.models import OPEN_STATUSES, Cart, CartItem, DiscountCode
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.db import UTCDateTime
from aimall_cart.inventory.models import Inventory, Reservation

carts = cast(Table, Cart.__table__)
items = cast(Table, CartItem.__table__)
codes = cast(Table, DiscountCode.__table__)
products = cast(Table, Product.__table__)
variants = cast(Table, Variant.__table__)
inventory = cast(Table, Inventory.__table__)
reservations = cast(Table, Reservation.__table__)

NOW = bindparam("now", type_=UTCDateTime())


def _held(variant_id: ColumnElement[str], *conditions: ColumnElement[bool]) -> ColumnElement[int]:
    return (
        select(func.coalesce(func.sum(reservations.c.quantity), 0))
        .where(
            reservations.c.variant_id == variant_id, reservations.c.status == "held", *conditions
        )
        .scalar_subquery()
    )


def _free_stock(
    variant_id: ColumnElement[str], *, own_holds_of: ColumnElement[bool] | None
) -> ColumnElement[int]:
    """Units free now: on hand less reserved, plus holds that lapsed but were not swept yet (they
    hold nothing any more). A locked cart's own unexpired holds count as free for it, since they
    are its to take. Correlated subqueries, not joins, so a variant with many reservations still
    gives one row per line. NULL when the variant has no stock row."""
    free = (
        inventory.c.on_hand
        - inventory.c.reserved
        + _held(variant_id, reservations.c.expires_at <= NOW)
    )
    if own_holds_of is None:
        return free
    own = _held(variant_id, reservations.c.holder_id == carts.c.id, reservations.c.expires_at > NOW)
    return free + case((own_holds_of, own), else_=0)


def cart_columns(state: FromClause = carts) -> list[ColumnElement[Any]]:
    """A cart's row per line; ``state`` gives what a claim changes (status, version, lock and
    time of change), when the claim's own ``RETURNING`` must stand in for the cart's row."""
    return [
        carts.c.id,
        carts.c.user_id,
        state.c.status.label("status"),
        carts.c.currency,
        state.c.version.label("version"),
        state.c.locked_until.label("locked_until"),
        carts.c.created_at,
        state.c.updated_at.label("updated_at"),
        carts.c.analytics_key,
        codes.c.code.label("code"),
        codes.c.percent.label("code_percent"),
        codes.c.expires_at.label("code_expires_at"),
        codes.c.redeemed_at.label("code_redeemed_at"),
        items.c.id.label("line_id"),
        items.c.line_key,
        items.c.product_id,
        items.c.variant_id,
        items.c.name,
        items.c.thumbnail_url,
        items.c.options,
        items.c.quantity,
        items.c.unit_price,
        items.c.discount,
        items.c.created_at.label("line_created_at"),
        variants.c.id.label("offer_variant_id"),
        and_(variants.c.status == "active", products.c.status == "active").label("sold"),
        variants.c.price.label("offer_price"),
        variants.c.discount.label("offer_discount"),
        products.c.min_quantity,
        products.c.max_quantity,
        _free_stock(items.c.variant_id, own_holds_of=state.c.status == "locked").label("free"),
    ]


def cart_from(cart: FromClause = carts) -> FromClause:
    """``cart`` (the carts table, or a join that holds it) with the code, lines and offers.

    Outer joins all the way down: a line whose variant left the catalog still comes back, with
    NULL offer columns, and shows as unavailable.
    """
    return (
        cart.outerjoin(codes, codes.c.id == carts.c.discount_code_id)
        .outerjoin(items, items.c.cart_id == carts.c.id)
        .outerjoin(variants, variants.c.id == items.c.variant_id)
        .outerjoin(products, products.c.id == variants.c.product_id)
        .outerjoin(inventory, inventory.c.variant_id == items.c.variant_id)
    )


# One row per line (one row with NULL line columns for an empty cart), in line order.
LINE_ORDER = (items.c.created_at, items.c.id)


def _cart_rows(*where: ColumnElement[bool]) -> Select[tuple[object, ...]]:
    return select(*cart_columns()).select_from(cart_from()).where(*where).order_by(*LINE_ORDER)


# Literal values, not an expanding parameter: SQLAlchemy renders an expanding IN again on every
# execution, which cost a read a tenth of its time.
OPEN_CART = carts.c.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])
CART_BY_USER = _cart_rows(carts.c.user_id == bindparam("owner_user_id"), OPEN_CART)
CART_BY_TOKEN = _cart_rows(carts.c.guest_token_hash == bindparam("owner_token_hash"), OPEN_CART)
CART_BY_ID = _cart_rows(carts.c.id == bindparam("cart_id"))


def new_values(table: Table, *columns: str) -> dict[str, BindParameter[object]]:
    """``new_<column>`` parameters for the columns a write sets: compiled once, the statement
    takes the same parameters on every execution (a column's own name is SQLAlchemy's to use)."""
    return {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns}


# A member's second open cart breaks the partial unique index: the insert then does nothing and
# the writer claims the cart that won. Both dialects spell the upsert alike.
_CART_COLUMNS = ("id", "user_id", "guest_token_hash", "currency", "version", "analytics_key")
_NEW_CART_VALUES = {
    **new_values(carts, *_CART_COLUMNS),
    "status": "active",
    "discount_attempts": 0,
    "created_at": NOW,
    "updated_at": NOW,
    "last_activity_at": NOW,
    "activity_mark": NOW,
}
NEW_CART = {
    "postgresql": postgresql.insert(carts)
    .values(_NEW_CART_VALUES)
    .on_conflict_do_nothing()
    .returning(carts.c.id),
    "sqlite": sqlite.insert(carts)
    .values(_NEW_CART_VALUES)
    .on_conflict_do_nothing()
    .returning(carts.c.id),
}


def _product_columns() -> list[ColumnElement[Any]]:
    """Labelled ``p_*`` so they can stand beside a cart's columns in one row set."""
    return [
        products.c.id.label("p_id"),
        products.c.name.label("p_name"),
        products.c.thumbnail_url.label("p_thumbnail_url"),
        products.c.status.label("p_status"),
        products.c.currency.label("p_currency"),
        products.c.min_quantity.label("p_min_quantity"),
        products.c.max_quantity.label("p_max_quantity"),
        variants.c.id.label("p_variant_id"),
        variants.c.options.label("p_options"),
        variants.c.price.label("p_price"),
        variants.c.discount.label("p_discount"),
        variants.c.status.label("p_variant_status"),
        _free_stock(variants.c.id, own_holds_of=None).label("p_free"),
    ]


PRODUCT_BY_ID = products.c.id == bindparam("product_id")
_PRODUCT_FROM = products.outerjoin(variants, variants.c.product_id == products.c.id).outerjoin(
    inventory, inventory.c.variant_id == variants.c.id
)

# The product a write adds or moves to, every variant of it with its free stock, so the variant
# can be chosen by options and checked in one round trip.
PRODUCT_WITH_VARIANTS = (
    select(*_product_columns())
    .select_from(_PRODUCT_FROM)
    .where(PRODUCT_BY_ID)
    .order_by(variants.c.id)
)


def _blanks(columns: list[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    """NULLs standing in for ``columns`` (typed alike, so results convert the same)."""
    return [type_coerce(null(), column.type).label(column.key) for column in columns]


def cart_with_product(
    cart: tuple[list[ColumnElement[Any]], FromClause, ColumnElement[bool] | None],
    product: ColumnElement[bool],
) -> CompoundSelect[*tuple[Any, ...]]:
    """A claimed cart read back together with a product's variants: the cart's rows (product
    columns NULL) and then the product's (cart columns NULL), one statement where two were.
    ``cart`` is its columns, where they come from and which cart."""
    cart_columns, cart_source, which = cart
    product_columns = _product_columns()
    cart_rows = select(*cart_columns, *_blanks(product_columns)).select_from(cart_source)
    return union_all(
        cart_rows if which is None else cart_rows.where(which),
        select(*_blanks(cart_columns), *product_columns).select_from(_PRODUCT_FROM).where(product),
    ).order_by(
        literal_column("line_created_at"), literal_column("line_id"), literal_column("p_variant_id")
    )


def line_product(cart_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The product of one of the cart's lines (``line_id``): the one a line's move chooses in."""
    return (
        products.c.id
        == select(items.c.product_id)
        .where(items.c.id == bindparam("line_id"), items.c.cart_id == cart_id)
        .scalar_subquery()
    )


# The product by its id (an add), or the product of one of the cart's lines (a line's move).
_CART_BY_ID = (cart_columns(), cart_from(), carts.c.id == bindparam("cart_id"))
CART_WITH_PRODUCT = cart_with_product(_CART_BY_ID, PRODUCT_BY_ID)
CART_WITH_LINE_PRODUCT = cart_with_product(_CART_BY_ID, line_product(bindparam("cart_id")))
