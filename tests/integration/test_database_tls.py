"""``ssl=require`` in a PostgreSQL URL reaches both ways the service connects: SQLAlchemy's engine
and the driver pool of the hot path. The test server speaks no TLS, so a required TLS connection
must fail there, which proves the option was passed on rather than dropped."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aimall_cart.db import Database


def _with_ssl(database_url: str, mode: str) -> str:
    return f"{database_url}{'&' if '?' in database_url else '?'}ssl={mode}"


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite is a file: there is no transport to secure")
    return database_url


async def test_ssl_require_reaches_the_engine_and_the_driver_pool(postgres_url: str) -> None:
    database = Database(_with_ssl(postgres_url, "require"))
    try:
        assert database.driver_pool is not None
        with pytest.raises((DBAPIError, ConnectionError, OSError), match=r"(?i)ssl"):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        with pytest.raises((DBAPIError, ConnectionError, OSError), match=r"(?i)ssl"):
            async with database.driver_pool.connection() as driver:
                await driver.fetchval("SELECT 1")
    finally:
        await database.dispose()


async def test_ssl_prefer_falls_back_where_the_server_has_no_tls(postgres_url: str) -> None:
    database = Database(_with_ssl(postgres_url, "prefer"))
    try:
        assert database.driver_pool is not None
        async with database.driver_pool.connection() as driver:
            assert await driver.fetchval("SELECT 1") == 1
        async with database.engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await database.dispose()
