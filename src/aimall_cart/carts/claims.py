"""Whose cart, locked: finding the caller's open cart, claiming it for a change, creating one.

A change starts with ``claim``: one ``UPDATE`` that locks the cart row (the lock for every change
to the cart; on SQLite the write transaction's ``BEGIN IMMEDIATE`` already holds the database),
checks ``If-Match`` and the checkout lock, and bumps the version. The cart is read back whole,
never stale, together with the product a change adds or moves to when there is one: on SQLite by
a statement after the claim, on PostgreSQL in the claim's own (``claim_queries.ReadBack`` says
when that read is fresh). The caller's transaction commits.

Given a ``GuardedSql`` (a change with no transaction, PostgreSQL) the claim locks nothing: it
reads the caller's open cart like any read, checks it, and puts ``claim_queries.GUARD`` in front
of the change's writes, which land only while the version read is still the cart's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.sql import Executable

from aimall_cart.auth import Principal
from aimall_cart.carts import access, claim_queries, queries, records
from aimall_cart.carts.models import new_analytics_key
from aimall_cart.carts.records import CartRecord, ProductRecord
from aimall_cart.errors import Unavailable
from aimall_cart.guarded_sql import GuardedSql, NeedsTransaction
from aimall_cart.sql import Row, Sql

# A claim that finds the cart changeable on a second look lost a race; this many tries and the
# caller is told to come back.
CLAIM_ATTEMPTS = 3


class _State(NamedTuple):
    version: int
    status: str
    locked_until: datetime | None


def _owner(principal: Principal) -> tuple[bool, dict[str, object]] | None:
    """Whether the caller is known by user id (else by token), with the statement parameters."""
    if principal.user_id is not None:
        return True, {"owner_user_id": principal.user_id}
    if principal.cart_token_hash is not None:
        return False, {"owner_token_hash": principal.cart_token_hash}
    return None


async def find_open(sql: Sql, principal: Principal, *, now: datetime) -> access.CartView | None:
    owner = _owner(principal)
    if owner is None:
        return None
    by_user, params = owner
    stmt = queries.CART_BY_USER if by_user else queries.CART_BY_TOKEN
    found = records.cart_from_rows(await sql.rows(stmt, {**params, "now": now}))
    return None if found is None else access.view_of_rows(found, now=now)


def _claimed_view(rows: Sequence[Row], *, now: datetime) -> access.CartView:
    found = records.cart_from_rows(rows)
    assert found is not None, "a claimed cart is there until the transaction ends"
    return access.view_of_rows(found, now=now)


async def claim(
    sql: Sql,
    principal: Principal,
    *,
    expected_version: int | None,
    read: claim_queries.ReadBack,
    params: Mapping[str, object],
    now: datetime,
) -> Sequence[Row] | None:
    """Lock the caller's open cart for a change, bump its version and read it back with what
    ``read`` adds (``params`` are its own); ``None`` when there is no open cart. Raises
    ``VersionMismatch`` or ``CartLocked`` when the cart may not change."""
    owner = _owner(principal)
    if owner is None:
        return None
    by_user, owner_params = owner
    claim_params = {**owner_params, **params, "now": now}
    if isinstance(sql, GuardedSql):
        statement = read.by_owner[by_user]
        return await _claim_as_read(sql, statement, claim_params, expected_version, now=now)
    if expected_version is not None:
        claim_params["expected_version"] = expected_version
    kind = (by_user, expected_version is not None)
    for _ in range(CLAIM_ATTEMPTS):
        rows = await _claim_once(sql, kind, read, claim_params)
        if rows is not None:
            return rows
        state_of = (
            claim_queries.CART_STATE_BY_USER if by_user else claim_queries.CART_STATE_BY_TOKEN
        )
        states = await sql.rows(state_of, owner_params)
        if not states:
            return None
        access.refuse_change(_State(**states[0]), expected_version, now=now)
    raise Unavailable("The cart is busy; try again", retry_after=1)


async def _claim_as_read(
    sql: GuardedSql,
    statement: Executable,
    params: Mapping[str, object],
    expected_version: int | None,
    *,
    now: datetime,
) -> Sequence[Row] | None:
    """The cart as a plain read finds it, claimed by the guard its writes will go behind: what a
    claim by lock answers, with the version the guard will write."""
    rows = await sql.rows(statement, params)
    cart = next((row for row in rows if row["id"] is not None), None)
    if cart is None:
        return None
    state = _State(cart["version"], cart["status"], cart["locked_until"])
    access.refuse_change(state, expected_version, now=now)
    if state.status != "active":
        # Lifting a lapsed lock does not always bump the version (access.check_changeable), so
        # a read of a locked cart is never built on without the lock.
        raise NeedsTransaction("A lapsed checkout's lock is lifted under the cart's lock")
    sql.guard(
        claim_queries.GUARD, {"cart_id": cart["id"], "read_version": state.version, "now": now}
    )
    claimed = {"version": state.version + 1, "updated_at": now}
    return [{**row, **claimed} if row["id"] is not None else row for row in rows]


async def _claim_once(
    sql: Sql,
    kind: claim_queries.ClaimKind,
    read: claim_queries.ReadBack,
    params: Mapping[str, object],
) -> Sequence[Row] | None:
    """The claimed cart's rows, ``None`` when the claim took nothing."""
    if sql.dialect == "postgresql":
        rows = await sql.rows(read.with_claim[kind], params)
        cart = next((row for row in rows if row["id"] is not None), None)
        if cart is None:
            return None
        if cart["read_version"] + 1 == cart["version"]:
            return rows
        cart_id = cart["id"]
    else:
        cart_id = await sql.value(claim_queries.CLAIMS[kind], params)
        if cart_id is None:
            return None
    return await sql.rows(read.after_claim, {**params, "cart_id": cart_id})


async def create(
    sql: Sql,
    principal: Principal,
    *,
    guest: access.GuestCredential,
    currency: str,
    version: int,
    now: datetime,
) -> CartRecord | None:
    """A new open cart for the caller, or ``None`` when a concurrent request just made this
    member's (claim that one). The caller logs ``cart_created`` with its own change's events."""
    key = new_analytics_key()
    cart = CartRecord(
        uuid.uuid4(), principal.user_id, "active", currency, version, None, now, now, key
    )
    created = await sql.value(
        queries.NEW_CART[sql.dialect],
        {
            "new_id": cart.id,
            "new_user_id": cart.user_id,
            "new_guest_token_hash": guest.token_hash if cart.user_id is None else None,
            "new_currency": currency,
            "new_version": version,
            "new_analytics_key": key,
            "now": now,
        },
    )
    return None if created is None else cart


def fresh_view(cart: CartRecord, *, guest: access.GuestCredential) -> access.CartView:
    """The view of a cart this request made: a guest sees their token here, and only here."""
    token = guest.token if cart.user_id is None else None
    return access.CartView(cart, {}, cart.status, guest_token=token, created=True)


async def claim_or_create(
    sql: Sql,
    principal: Principal,
    *,
    expected_version: int | None,
    guest: access.GuestCredential,
    currency: str,
    product_id: str,
    now: datetime,
) -> tuple[access.CartView, ProductRecord | None]:
    """The caller's cart claimed for a change, or a new one (at version 2: made, then changed),
    and the product it is about to take (``None`` when the catalog has no such product)."""
    for _ in range(CLAIM_ATTEMPTS):
        rows = await claim(
            sql,
            principal,
            expected_version=expected_version,
            read=claim_queries.CART_WITH_PRODUCT,
            params={"product_id": product_id},
            now=now,
        )
        if rows is not None:
            return _claimed_view(rows, now=now), records.product_from_rows(rows)
        if expected_version is not None:
            raise access.VersionMismatch("There is no cart at that version", current_version=None)
        cart = await create(sql, principal, guest=guest, currency=currency, version=2, now=now)
        if cart is not None:
            params = {"product_id": product_id, "now": now}
            rows = await sql.rows(queries.PRODUCT_WITH_VARIANTS, params)
            return fresh_view(cart, guest=guest), records.product_from_rows(rows)
    raise Unavailable("The cart is busy; try again", retry_after=1)


async def claimed(
    sql: Sql,
    principal: Principal,
    *,
    expected_version: int | None,
    line_product: uuid.UUID | None = None,
    now: datetime,
) -> tuple[access.CartView, CartRecord, ProductRecord | None]:
    """The caller's cart claimed for a change, with the product of its line ``line_product``
    when the change moves that line to another variant."""
    moves = line_product is not None
    rows = await claim(
        sql,
        principal,
        expected_version=expected_version,
        read=claim_queries.CART_WITH_LINE_PRODUCT if moves else claim_queries.CART,
        params={"line_id": line_product} if moves else {},
        now=now,
    )
    if rows is None:
        raise access.CartNotFound("There is no cart")
    view = _claimed_view(rows, now=now)
    assert isinstance(view.cart, CartRecord)
    return view, view.cart, records.product_from_rows(rows) if moves else None
