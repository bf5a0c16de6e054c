"""A write that keeps meeting a locked or conflicting database is retried, then answered 503."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aimall_cart.app import create_app
from aimall_cart.config import Settings
from aimall_cart.db import Database, commit, is_transient
from aimall_cart.errors import Unavailable
from tests.databases import SqliteTemplate


class SerializationFailure(Exception):
    sqlstate = "40001"


class TooManyConnections(Exception):
    sqlstate = "53300"


class UniqueViolation(Exception):
    sqlstate = "23505"


def _error(orig: Exception) -> DBAPIError:
    return DBAPIError("UPDATE carts ...", {}, orig)


async def test_a_transient_failure_is_retried_and_then_commits(database_url: str) -> None:
    database = Database(database_url)
    attempts = 0

    async def work() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise _error(SerializationFailure())
        return "done"

    try:
        async with database.write_session() as session:
            assert await commit(session, work, base_delay_seconds=0) == "done"
        assert attempts == 3
    finally:
        await database.dispose()


async def test_a_failure_that_persists_becomes_unavailable_after_bounded_attempts(
    database_url: str,
) -> None:
    database = Database(database_url)
    attempts = 0

    async def work() -> None:
        nonlocal attempts
        attempts += 1
        raise _error(SerializationFailure())

    try:
        async with database.write_session() as session:
            with pytest.raises(Unavailable) as refused:
                await commit(session, work, attempts=4, base_delay_seconds=0)
        assert attempts == 4
        assert refused.value.context["retry_after"] == 1
    finally:
        await database.dispose()


def test_an_overloaded_server_counts_as_busy_not_as_a_bug() -> None:
    assert is_transient(_error(TooManyConnections()))
    assert not is_transient(_error(UniqueViolation()))


async def test_a_failure_that_retrying_cannot_mend_is_not_retried(database_url: str) -> None:
    database = Database(database_url)
    attempts = 0

    async def work() -> None:
        nonlocal attempts
        attempts += 1
        raise _error(UniqueViolation())

    try:
        async with database.write_session() as session:
            with pytest.raises(DBAPIError):
                await commit(session, work, base_delay_seconds=0)
        assert attempts == 1
    finally:
        await database.dispose()


async def test_a_write_blocked_by_a_held_sqlite_lock_answers_503_with_retry_after(
    sqlite_template: SqliteTemplate,
) -> None:
    url = sqlite_template.new()
    settings = Settings(database_url=url, env="test", sqlite_busy_timeout_ms=20, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    holder = Database(url)
    try:
        async with holder.write_session() as session:
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is ours
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await client.post("/v1/cart")
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["code"] == "busy"
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/v1/cart")).status_code == 201  # lock released: fine again
    finally:
        await holder.dispose()
        await app.state.database.dispose()
        sqlite_template.drop(url)
