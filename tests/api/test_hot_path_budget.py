"""The hot path's round-trip budget, counted on the engine as the database sees it.

A cart read is one statement outside any transaction; a change is one transaction of at most four
statements (claim, read back, the product it adds, the line it changes). BEGIN and COMMIT are
counted as the transaction, not as statements.
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
from aimall_cart.db import Database
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
    """What the database is sent while the block runs: on SQLite, what SQLAlchemy hands the
    driver; on PostgreSQL, what asyncpg sends, BEGIN and COMMIT included."""
    database: Database = app.state.database
    engine = (database.engine if database.is_sqlite else database.hot_engine).sync_engine
    traffic = Traffic()

    def record(statement: str) -> None:
        verb = statement.split(None, 1)[0].upper().rstrip(";")
        if verb == "BEGIN":
            traffic.transactions += 1
        elif verb not in {"COMMIT", "ROLLBACK"}:
            traffic.statements.append(statement.split("\n", 1)[0])

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        record(statement)

    def on_query(logged: Any) -> None:
        record(logged.query)

    drivers: list[Any] = []

    def on_checkout(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if driver not in drivers:
            driver.add_query_logger(on_query)
            drivers.append(driver)

    listener = ("before_cursor_execute", on_statement)
    if not database.is_sqlite:
        listener = ("checkout", on_checkout)
    event.listen(engine, *listener)
    try:
        yield traffic
    finally:
        event.remove(engine, *listener)
        for driver in drivers:
            driver.remove_query_logger(on_query)


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
    assert 0 < len(traffic.statements) <= WRITE_STATEMENTS, traffic.statements
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
        assert 0 < len(traffic.statements) <= WRITE_STATEMENTS, traffic.statements
        assert traffic.transactions == 1
