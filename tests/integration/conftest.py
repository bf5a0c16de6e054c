"""Fixtures the integration tests share: a database handle and an HTTP client of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from aimall_cart.db import Database


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http
