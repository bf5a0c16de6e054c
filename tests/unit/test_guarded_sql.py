"""A change without a transaction: what may go behind a guard, and what needs a transaction.

Every refusal here happens before anything is sent, so no connection is needed; what the guarded
statement does against a real PostgreSQL is shown in tests/integration/test_races.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from aimall_cart.carts import claim_queries, journal, queries, writes
from aimall_cart.guarded_sql import GuardedSql, NeedsTransaction, OneStatement, together_behind
from aimall_cart.sql import AsyncpgSql

DIALECT = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
NOW = datetime(2026, 11, 30, tzinfo=UTC)
CART_ID = uuid.uuid4()


def _guarded() -> GuardedSql:
    no_connection: Any = None
    sql = AsyncpgSql(no_connection, DIALECT)
    return GuardedSql(sql, OneStatement(sql))


def _guard(sql: GuardedSql) -> None:
    sql.guard(claim_queries.GUARD, {"cart_id": CART_ID, "read_version": 4, "now": NOW})


async def test_a_write_with_no_guard_in_front_needs_a_transaction() -> None:
    with pytest.raises(NeedsTransaction):
        await _guarded().run(writes.DROP_LINE, {"line_id": uuid.uuid4()})


async def test_a_write_sent_as_a_read_needs_a_transaction() -> None:
    with pytest.raises(NeedsTransaction):
        await _guarded().value(queries.NEW_CART["postgresql"], {"new_id": uuid.uuid4()})


async def test_a_read_after_the_guard_needs_a_transaction() -> None:
    sql = _guarded()
    _guard(sql)
    with pytest.raises(NeedsTransaction):
        await sql.rows(queries.CART_BY_ID, {"cart_id": CART_ID, "now": NOW})


async def test_a_second_guard_needs_a_transaction() -> None:
    sql = _guarded()
    _guard(sql)
    with pytest.raises(NeedsTransaction):
        _guard(sql)


@pytest.mark.parametrize(
    "write",
    [
        (writes.SET_CURRENCY, {"cart_id": CART_ID, "new_currency": "EUR"}),
        (journal.EACH_LINE, {**journal.stamp(NOW), **journal.each_line("x", CART_ID)}),
        (writes.SET_QUANTITY, {"line_id": uuid.uuid4(), "new_quantity": 2, "now": NOW}),
    ],
    ids=["the guard's own row", "an insert with no guarded twin", "a parameter given twice"],
)
async def test_writes_that_cannot_go_behind_the_guard_need_a_transaction(
    write: tuple[Any, dict[str, Any]],
) -> None:
    sql = _guarded()
    _guard(sql)
    await sql.run_together((writes.DROP_LINE, {"line_id": uuid.uuid4()}), write)
    with pytest.raises(NeedsTransaction):
        await sql.send()


async def test_a_change_that_neither_claimed_nor_wrote_sends_nothing() -> None:
    assert await _guarded().send() is True


def test_every_write_behind_the_guard_is_conditioned_on_it() -> None:
    writes_behind = (writes.NEW_LINE, writes.SET_QUANTITY, writes.DROP_LINE, journal.LINE_EVENTS[2])
    combined = together_behind(claim_queries.GUARD, writes_behind)
    text = str(combined.compile(dialect=DIALECT))  # type: ignore[attr-defined]
    assert text.startswith("WITH guard AS \n(UPDATE carts")
    # One condition per write, two for the two rows of the events' INSERT ... SELECT.
    assert text.count("EXISTS (SELECT * \nFROM guard)") == len(writes_behind) + 1
    assert text.endswith("SELECT guard.id \nFROM guard")
    assert together_behind(claim_queries.GUARD, writes_behind) is combined
