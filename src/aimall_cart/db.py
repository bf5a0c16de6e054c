"""Engine, sessions and the declarative base.

Write transactions are opened with ``write_session()``: on SQLite that issues ``BEGIN IMMEDIATE``
so the writer takes the database lock up front instead of failing to upgrade a read lock later
(``SELECT ... FOR UPDATE`` is a no-op there). On PostgreSQL both kinds are ordinary
READ COMMITTED transactions and services lock rows explicitly.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, Uuid, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from aimall_cart.driver_pool import DriverPool
from aimall_cart.errors import Unavailable
from aimall_cart.guarded_sql import GuardedSql, NeedsTransaction, OneStatement
from aimall_cart.sql import AsyncpgSql, CoreSql, Sql
from aimall_cart.sqlite_reader import SqliteReader
from aimall_cart.sqlite_writer import SqliteWriter, pragmas

T = TypeVar("T")
# PostgreSQL serialization failure, deadlock, too many connections and a server that cannot
# take connections yet; SQLite's lock timeouts.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "53300", "57P03"})
_TRANSIENT_SQLITE_MESSAGES = ("database is locked", "database table is locked")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime,
        uuid.UUID: Uuid(),
        dict[str, Any]: JSON(),
        dict[str, str]: JSON(),
    }


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy so the "begin" hook below decides the mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas(busy_timeout_ms=busy_timeout_ms):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The engine of the ORM's sessions, and the hot path's plain connections (``read``,
    ``write``).

    On PostgreSQL the hot path has an asyncpg pool of its own (``driver_pool.DriverPool``); on
    SQLite it shares the ORM's engine. Each pool is sized for what one process can use at once and
    does not overflow: under load a request waits for a pooled connection (up to
    ``pool_timeout_seconds``, then 503) rather than opening one to throw away. Connections are not
    pinged on checkout (on PostgreSQL that is a BEGIN, a query and a ROLLBACK per request); one
    that died is invalidated when it fails and the transaction runs again on a fresh one
    (``is_transient``).
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 0,
        pool_timeout_seconds: float = 10.0,
        sqlite_busy_timeout_ms: int = 10_000,
        sqlite_reader_threads: int = 4,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"json_deserializer": orjson.loads}
        if not self.is_sqlite:
            options.update(
                pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout_seconds
            )
        self.engine = create_async_engine(url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms=sqlite_busy_timeout_ms)
        writer = self.engine.execution_options(write=True)
        self._read = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write = async_sessionmaker(writer, expire_on_commit=False)
        self._writer = writer
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.driver_pool = None
        self.sqlite_reader, self.sqlite_writer = None, None
        database_file = self.engine.url.database or ":memory:"
        # The threads open the file by its path alone: a URL with options keeps aiosqlite.
        plain_file = database_file != ":memory:" and not self.engine.url.query
        if self.is_sqlite and plain_file:
            busy = {"busy_timeout_ms": sqlite_busy_timeout_ms}
            self.sqlite_reader = SqliteReader(
                database_file, self.engine.dialect, threads=sqlite_reader_threads, **busy
            )
            self.sqlite_writer = SqliteWriter(database_file, self.engine.dialect, **busy)
        if not self.is_sqlite:
            _, connect = self.engine.dialect.create_connect_args(self.engine.url)
            self.driver_pool = DriverPool(
                self.engine.dialect, connect, size=pool_size, timeout_seconds=pool_timeout_seconds
            )

    def read_session(self) -> AsyncSession:
        return self._read()

    def write_session(self) -> AsyncSession:
        return self._write()

    async def read(self, work: Callable[[Sql], Awaitable[T]]) -> T:
        """Run ``work`` outside any transaction: each statement is its own snapshot, so a read of
        one statement costs one round trip, with no BEGIN or ROLLBACK."""

        async def attempt() -> T:
            if self.driver_pool is not None:
                async with self.driver_pool.connection() as driver:
                    return await work(AsyncpgSql(driver, self.engine.dialect))
            if self.sqlite_reader is not None:
                return await work(self.sqlite_reader)
            async with self._autocommit.connect() as connection:
                return await work(CoreSql(connection))

        return await retrying(attempt)

    async def write(self, work: Callable[[Sql], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction and commit it: the entrypoint's one commit, run
        again from the start when the database says it may succeed the next time."""

        async def attempt() -> T:
            if self.driver_pool is not None:
                async with self.driver_pool.connection() as driver, driver.transaction():
                    return await work(AsyncpgSql(driver, self.engine.dialect))
            async with self._writer.begin() as connection:
                return await work(CoreSql(connection))

        return await retrying(attempt)

    async def change(self, work: Callable[[Sql], Awaitable[T]]) -> T:
        """Run a cart change (``work``) and commit it. It goes first with no transaction of its
        own, as a read and then its writes behind a guard (``guarded_sql``); when it cannot go
        that way, or another change won the race for its cart, it runs again as ``write`` runs
        it, in a transaction that claims the cart by lock."""

        async def attempt() -> tuple[T] | None:
            if self.driver_pool is not None:
                async with self.driver_pool.connection() as driver:
                    sql = AsyncpgSql(driver, self.engine.dialect)
                    return await _guarded(work, GuardedSql(sql, OneStatement(sql)))
            if self.sqlite_reader is not None and self.sqlite_writer is not None:
                return await _guarded(work, GuardedSql(self.sqlite_reader, self.sqlite_writer))
            return None

        done = await retrying(attempt)
        return done[0] if done is not None else await self.write(work)

    async def dispose(self) -> None:
        for sqlite in (self.sqlite_reader, self.sqlite_writer):
            if sqlite is not None:
                await sqlite.close()
        if self.driver_pool is not None:
            await self.driver_pool.close()
        await self.engine.dispose()


async def _guarded(work: Callable[[Sql], Awaitable[T]], sql: GuardedSql) -> tuple[T] | None:
    """What ``work`` answered when it went as a read and guarded writes; ``None`` when it must
    run in a transaction instead (nothing was written)."""
    try:
        result = await work(sql)
        if await sql.send():
            return (result,)
    except NeedsTransaction:
        pass
    return None


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _database(request).read_session() as session:
        yield session


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _database(request).write_session() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(_read_session)]
WriteSession = Annotated[AsyncSession, Depends(_write_session)]


def is_transient(error: DBAPIError) -> bool:
    """Whether running the same transaction again may succeed: a lost connection (already
    dropped from the pool), a serialization failure or deadlock, a lock timeout."""
    if error.connection_invalidated:
        return True
    if getattr(error.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    return any(message in str(error.orig) for message in _TRANSIENT_SQLITE_MESSAGES)


async def retrying(
    attempt: Callable[[], Awaitable[T]], *, attempts: int = 4, base_delay_seconds: float = 0.02
) -> T:
    """Run a whole transaction (``attempt``), again from the start when it failed in a way that
    may pass the next time, a bounded number of times with jittered backoff; after that the
    caller is told to come back later (503) rather than shown an internal error."""
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except DBAPIError as error:
            if not is_transient(error):
                raise
            if number == attempts:
                raise Unavailable("The cart is busy; try again", retry_after=1) from error
            await asyncio.sleep(base_delay_seconds * 2**number * random.random())  # noqa: S311
    raise AssertionError("unreachable")


async def commit(
    session: AsyncSession,
    work: Callable[[], Awaitable[T]],
    *,
    attempts: int = 4,
    base_delay_seconds: float = 0.02,
) -> T:
    """Run ``work`` in the session's transaction and commit it, the entrypoint's one commit,
    retried as ``retrying`` says."""

    async def attempt() -> T:
        try:
            result = await work()
            await session.commit()
        except DBAPIError:
            await session.rollback()
            raise
        return result

    return await retrying(attempt, attempts=attempts, base_delay_seconds=base_delay_seconds)
