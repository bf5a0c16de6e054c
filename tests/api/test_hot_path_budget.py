"""The hot path's round-trip budget, counted on the engine as the database sees it.

A cart read is one statement outside any transaction; a change is one transaction of at most four
statements (claim, read back, the product it adds, the line it changes). Statements are counted as
they go to the driver; transactions as the driver opens them: a connection in autocommit opens
none (the asyncpg dialect sends no BEGIN then), and SQLite's ``BEGIN IMMEDIATE`` is the
transaction, not a statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from aimall_cart.config import Settings
from tests.answers import add_line, cart_of
from tests.builders import shirt

READ_STATEMENTS = 1
WRITE_STATEMENTS = 4


@dataclass
class Traffic:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def counted(app: FastAPI) -> Iterator[Traffic]:
    engine = app.state.database.engine.sync_engine
    traffic = Traffic()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            traffic.transactions += 1
        else:
            traffic.statements.append(statement.split("\n", 1)[0])

    def on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if conn.dialect.name != "sqlite" and options.get("isolation_level") != "AUTOCOMMIT":
            traffic.transactions += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    try:
        yield traffic
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)


@pytest.fixture
async def guest(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    """A guest whose cart holds a line, with the pool warmed up."""
    await shirt(client, settings, stock=50)
    response = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1},
    )
    cart_of(response, 201)
    return {"X-Cart-Token": response.headers["X-Cart-Token"]}


async def test_a_cart_read_is_one_statement_outside_a_transaction(
    app: FastAPI, client: httpx.AsyncClient, guest: dict[str, str]
) -> None:
    with counted(app) as traffic:
        cart_of(await client.get("/v1/cart", headers=guest))
    assert len(traffic.statements) == READ_STATEMENTS, traffic.statements
    assert traffic.transactions == 0


@pytest.mark.parametrize("variant_id", ["shirt-red-m", "shirt-blue-l"], ids=["same", "new"])
async def test_an_add_is_one_transaction_within_the_budget(
    app: FastAPI, client: httpx.AsyncClient, guest: dict[str, str], variant_id: str
) -> None:
    with counted(app) as traffic:
        await add_line(client, guest, variant_id)
    assert len(traffic.statements) <= WRITE_STATEMENTS, traffic.statements
    assert traffic.transactions == 1


async def test_a_quantity_change_and_a_removal_stay_within_the_budget(
    app: FastAPI, client: httpx.AsyncClient, guest: dict[str, str]
) -> None:
    line = await add_line(client, guest, "shirt-blue-m")
    for change in (
        client.patch(f"/v1/cart/items/{line['id']}", json={"quantity": 3}, headers=guest),
        client.delete(f"/v1/cart/items/{line['id']}", headers=guest),
    ):
        with counted(app) as traffic:
            cart_of(await change)
        assert len(traffic.statements) <= WRITE_STATEMENTS, traffic.statements
        assert traffic.transactions == 1

