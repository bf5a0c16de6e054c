"""Fixtures shared by the integration and API tests: one database per test, on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aimall_cart.app import create_app
from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.databases import IN_CI, PostgresTemplate, SqliteTemplate, postgres_available

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(Path(tmp_path_factory.mktemp("sqlite")))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    if (reason := postgres_available()) is not None:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    template = PostgresTemplate()
    yield template
    template.close()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A freshly migrated database of its own for one test."""
    if request.param == "sqlite":
        sqlite: SqliteTemplate = request.getfixturevalue("sqlite_template")
        url = sqlite.new()
        yield url
        sqlite.drop(url)
    else:
        postgres: PostgresTemplate = request.getfixturevalue("postgres_template")
        url = await postgres.new()
        yield url
        await postgres.drop(url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Rate limits are on by default; the tests of them, and of what they protect, turn them on.
    return Settings(  # type: ignore[call-arg]
        database_url=database_url, env="test", rate_limit_enabled=False, _env_file=None
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    yield app
    database: Database = app.state.database
    await database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
        yield client
