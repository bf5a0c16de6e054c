"""The statements that claim a cart for a change: the lock, the checks and the version bump.

A claim is one ``UPDATE`` of the cart's row. On SQLite the cart is then read back by its id
(``queries.CART_BY_ID`` and kin); on PostgreSQL the read goes in the claim's own statement
(``ReadBack.with_claim``), which saves a round trip on every change. A change with no transaction
(``guarded_sql``) reads first (``ReadBack.by_owner``) and claims by ``GUARD``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Update, and_, bindparam, case, or_, select, update
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from aimall_cart.carts import queries
from aimall_cart.carts.activity import MovedMark
from aimall_cart.carts.queries import NOW, OPEN_CART, carts

# A claim is known by whose cart it takes (a member's, else a guest's) and whether it checks a
# version (If-Match).
ClaimKind = tuple[bool, bool]
_KINDS: tuple[ClaimKind, ...] = ((True, True), (True, False), (False, True), (False, False))


# Whose cart: a member's (by user id), else a guest's (by the token's hash).
_OWNER = {
    True: carts.c.user_id == bindparam("owner_user_id"),
    False: carts.c.guest_token_hash == bindparam("owner_token_hash"),
}


def _claim(*, by_user: bool, expected_version: bool) -> Update:
    """Lock the caller's open cart, check it may change, and bump its version, in one ``UPDATE``.

    The row lock an ``UPDATE`` takes is the cart lock; on PostgreSQL a waiting writer re-checks
    the ``WHERE`` against the row the lock holder committed, so ``If-Match`` and the checkout
    lock are judged on the latest version. A cart whose checkout lapsed is unlocked by the same
    statement. No row back means no open cart, another version, or a live checkout:
    ``CART_STATE_BY_*`` then says which.
    """
    changeable = or_(carts.c.status == "active", carts.c.locked_until <= NOW)
    stmt = update(carts).where(_OWNER[by_user], OPEN_CART, changeable)
    if expected_version:
        stmt = stmt.where(carts.c.version == bindparam("expected_version"))
    return stmt.values(
        version=carts.c.version + 1,
        updated_at=NOW,
        last_activity_at=NOW,
        activity_mark=MovedMark(),
        status="active",
        locked_until=case((carts.c.status == "locked", None), else_=carts.c.locked_until),
    )


_CLAIMS = {kind: _claim(by_user=kind[0], expected_version=kind[1]) for kind in _KINDS}
CLAIMS = {kind: claim.returning(carts.c.id) for kind, claim in _CLAIMS.items()}


def _cart_state(owner: ColumnElement[bool]) -> Select[tuple[object, ...]]:
    return select(carts.c.version, carts.c.status, carts.c.locked_until).where(owner, OPEN_CART)


# Only when a claim found nothing: why not.
CART_STATE_BY_USER = _cart_state(_OWNER[True])
CART_STATE_BY_TOKEN = _cart_state(_OWNER[False])

# A change without a transaction (``guarded_sql``) claims the active cart it read, at the version
# it read, in the statement that carries its writes: no row back means another change came first.
GUARD = (
    update(carts)
    .where(
        carts.c.id == bindparam("cart_id"),
        carts.c.version == bindparam("read_version"),
        carts.c.status == "active",
    )
    .values(
        version=carts.c.version + 1,
        updated_at=NOW,
        last_activity_at=NOW,
        activity_mark=MovedMark(),
    )
    .returning(carts.c.id)
)


@dataclass(frozen=True)
class ReadBack:
    """What a change reads of its cart, in three spellings.

    ``after_claim`` runs as a statement of its own, by ``cart_id``: everything it reads was
    committed before the lock was taken (READ COMMITTED takes a snapshot per statement), so no
    line is read stale. ``with_claim`` is the claim and the read in one statement (PostgreSQL's
    writable CTE). Its read sees the statement's snapshot, taken before the claim waited for the
    lock, so it also returns the version it read (``read_version``): when that is not the one
    the claim bumped, another change committed in between and ``after_claim`` reads again.
    Every change to a cart's lines or code bumps its version, so an equal one means a fresh read.
    ``by_owner`` (member or guest) is the read before a guarded change (``GUARD``), with no lock.
    """

    after_claim: Executable
    with_claim: Mapping[ClaimKind, Executable]
    by_owner: Mapping[bool, Executable]


def _with_claim(
    read: Callable[[list[ColumnElement[Any]], FromClause, ColumnElement[Any]], Executable],
) -> dict[ClaimKind, Executable]:
    """``read`` built on each kind of claim: it is given the cart's columns (the claim's own
    ``RETURNING`` for what the claim changed, plus ``read_version``), where they come from, and
    the claimed cart's id."""
    statements = {}
    for kind, claim in _CLAIMS.items():
        claimed = claim.returning(
            carts.c.id, carts.c.status, carts.c.version, carts.c.locked_until, carts.c.updated_at
        ).cte("claimed")
        columns = [*queries.cart_columns(claimed), carts.c.version.label("read_version")]
        source = queries.cart_from(claimed.join(carts, carts.c.id == claimed.c.id))
        statements[kind] = read(columns, source, select(claimed.c.id).scalar_subquery())
    return statements


def _by_owner(product: Callable[[ColumnElement[Any]], ColumnElement[bool]]) -> dict[bool, Any]:
    """The read before a guarded change: each owner's open cart with a product, which
    ``product`` finds given the cart's id."""
    statements = {}
    for by_user, owner in _OWNER.items():
        cart_id = select(carts.c.id).where(owner, OPEN_CART).scalar_subquery()
        which = (queries.cart_columns(), queries.cart_from(), and_(owner, OPEN_CART))
        statements[by_user] = queries.cart_with_product(which, product(cart_id))
    return statements


CART = ReadBack(
    queries.CART_BY_ID,
    _with_claim(
        lambda columns, source, _: (
            select(*columns).select_from(source).order_by(*queries.LINE_ORDER)
        )
    ),
    {True: queries.CART_BY_USER, False: queries.CART_BY_TOKEN},
)
CART_WITH_PRODUCT = ReadBack(
    queries.CART_WITH_PRODUCT,
    _with_claim(
        lambda columns, source, _: queries.cart_with_product(
            (columns, source, None), queries.PRODUCT_BY_ID
        )
    ),
    _by_owner(lambda _: queries.PRODUCT_BY_ID),
)
CART_WITH_LINE_PRODUCT = ReadBack(
    queries.CART_WITH_LINE_PRODUCT,
    _with_claim(
        lambda columns, source, cart_id: queries.cart_with_product(
            (columns, source, None), queries.line_product(cart_id)
        )
    ),
    _by_owner(queries.line_product),
)
