"""The statements that change a cart's lines on the hot path, built once at import.

Their parameters for the values they set are named ``new_<column>`` (``queries.new_values``), so
a statement compiled once takes the same parameters on every execution.
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, update

from aimall_cart.carts import queries
from aimall_cart.carts.queries import carts, items
from aimall_cart.guarded_sql import insert_rows

_LINE = items.c.id == bindparam("line_id")
# What a line takes from the catalog when it starts or moves to another variant.
SNAPSHOT_COLUMNS = (
    "line_key",
    "product_id",
    "variant_id",
    "options",
    "name",
    "thumbnail_url",
    "unit_price",
    "discount",
)
NEW_LINE = insert_rows(
    items,
    {
        **queries.new_values(items, "id", "cart_id", "quantity", *SNAPSHOT_COLUMNS),
        "created_at": queries.NOW,
        "updated_at": queries.NOW,
    },
)
SET_QUANTITY = (
    update(items)
    .where(_LINE)
    .values({**queries.new_values(items, "quantity"), "updated_at": queries.NOW})
)
REPOINT_LINE = (
    update(items)
    .where(_LINE)
    .values({**queries.new_values(items, "quantity", *SNAPSHOT_COLUMNS), "updated_at": queries.NOW})
)
DROP_LINE = delete(items).where(_LINE)
DROP_ALL_LINES = delete(items).where(items.c.cart_id == bindparam("cart_id"))
SET_CURRENCY = (
    update(carts)
    .where(carts.c.id == bindparam("cart_id"))
    .values(queries.new_values(carts, "currency"))
)
