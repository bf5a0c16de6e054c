"""The hot path's round-trip budget, counted as the database is sent it.

A cart read is one statement outside any transaction. A change reads the cart (with the product
it adds) and then writes behind a guard that claims the cart at the version read. On SQLite, in
process, that is four statements, the last three in one transaction (guard, the line it changes,
its event). On PostgreSQL, where each is a round trip, it is two statements and no transaction:
the read, then the guard with the line's write and its event. BEGIN and COMMIT are counted as a
transaction, not as statements.
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
WRITE_STATEMENTS = {"sqlite": 4, "postgresql": 2}
WRITE_TRANSACTIONS = {"sqlite": 1, "postgresql": 0}


@dataclass
class Traffic:
    """What the database is sent while ``recording``: on SQLite, what SQLAlchemy hands the
    driver; on PostgreSQL, what the hot path's asyncpg connections send, BEGIN and COMMIT
    included."""

    dialect: str
    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    on: bool = False

    @property
    def write_budget(self) -> int:
        return WRITE_STATEMENTS[self.dialect]

    @property
    def write_transactions(self) -> int:
        return WRITE_TRANSACTIONS[self.dialect]

    def hear(self, statement: str) -> None:
        if not self.on:
            return
        verb = statement.split(None, 1)[0].upper().rstrip(";")
        if verb == "BEGIN":
            self.transactions += 1
        elif verb not in {"COMMIT", "ROLLBACK"}:
            self.statements.append(statement.split("\n", 1)[0])

    @contextmanager
    def recording(self) -> Iterator[Traffic]:
        self.statements, self.transactions, self.on = [], 0, True
        try:
            yield self
        finally:
            self.on = False


@pytest.fixture
def traffic(app: FastAPI) -> Iterator[Traffic]:
    """Listening from before the first request, so every connection the test opens is heard."""
    database: Database = app.state.database
    heard = Traffic(database.engine.dialect.name)
    if database.driver_pool is not None:
        database.driver_pool.listen(heard.hear)
        yield heard
        return

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        heard.hear(statement)

    for sqlite in (database.sqlite_reader, database.sqlite_writer):
        if sqlite is not None:
            sqlite.listen(heard.hear)
    event.listen(database.engine.sync_engine, "before_cursor_execute", on_statement)
    yield heard
    event.remove(database.engine.sync_engine, "before_cursor_execute", on_statement)


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
    traffic: Traffic, client: httpx.AsyncClient, guest: dict[str, str]
) -> None:
    with traffic.recording():
        cart_of(await client.get("/v1/cart", headers=guest))
    assert len(traffic.statements) == READ_STATEMENTS, traffic.statements
    assert traffic.transactions == 0


@pytest.mark.parametrize("variant_id", ["shirt-red-m", "shirt-blue-l"], ids=["same", "new"])
async def test_an_add_stays_within_the_budget(
    traffic: Traffic, client: httpx.AsyncClient, guest: dict[str, str], variant_id: str
) -> None:
    with traffic.recording():
        await add_line(client, guest, variant_id)
    assert 0 < len(traffic.statements) <= traffic.write_budget, traffic.statements
    assert traffic.transactions == traffic.write_transactions


async def test_a_quantity_change_and_a_removal_stay_within_the_budget(
    traffic: Traffic, client: httpx.AsyncClient, guest: dict[str, str]
) -> None:
    line = await add_line(client, guest, "shirt-blue-m")
    for change in (
        client.patch(f"/v1/cart/items/{line['id']}", json={"quantity": 3}, headers=guest),
        client.delete(f"/v1/cart/items/{line['id']}", headers=guest),
    ):
        with traffic.recording():
            cart_of(await change)
        assert 0 < len(traffic.statements) <= traffic.write_budget, traffic.statements
        assert traffic.transactions == traffic.write_transactions
