"""Writes sent together on PostgreSQL: one statement, and never two values for one parameter."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from aimall_cart.carts import journal, writes
from aimall_cart.sql import AsyncpgSql, together

DIALECT = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]


def _sql() -> AsyncpgSql:
    # Never reached: the parameters are checked before anything is sent.
    no_connection: Any = None
    return AsyncpgSql(no_connection, DIALECT)


async def test_two_writes_that_give_one_parameter_two_values_are_refused() -> None:
    first = (writes.SET_QUANTITY, {"line_id": "a", "new_quantity": 1, "now": 0})
    second = (writes.DROP_LINE, {"line_id": "b"})
    with pytest.raises(ValueError, match="line_id"):
        await _sql().run_together(first, second)


def test_the_writes_before_the_last_become_its_writable_ctes() -> None:
    combined = together((writes.SET_QUANTITY, journal.LINE_EVENTS[1]))
    text = str(combined.compile(dialect=DIALECT))  # type: ignore[attr-defined]
    assert text.startswith("WITH write_0 AS \n(UPDATE cart_items")
    assert "INSERT INTO cart_events" in text
    assert together((writes.SET_QUANTITY, journal.LINE_EVENTS[1])) is combined
