"""The hot path's own asyncpg connections on PostgreSQL: lent first come, first served."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from aimall_cart.turns import Turns


class DriverPool:
    """The hot path's own asyncpg pool on PostgreSQL, beside SQLAlchemy's pool of the ORM.

    Lending a connection is then a plain asyncio hand-over, not SQLAlchemy's greenlet round,
    which measured a tenth of a cart read's client CPU. Connections stay in autocommit; the
    caller's ``transaction()`` is the driver's own BEGIN and COMMIT. Nothing on the hot path sets
    session state (no SET, LISTEN or advisory lock), so a returned connection needs no
    ``RESET ALL`` round trip; an open transaction is still rolled back.
    """

    def __init__(
        self, dialect: Dialect, connect: Mapping[str, Any], *, size: int, timeout_seconds: float
    ) -> None:
        self.dialect = dialect
        self._connect = {k: v for k, v in connect.items() if k in _ASYNCPG_CONNECT_OPTIONS}
        self._size, self._timeout = size, timeout_seconds
        # asyncpg's pool never waits behind this: it holds as many connections as there are turns.
        self._turns = Turns(size)
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        """Diagnostics: ``listener`` hears every statement that connections opened from now on
        send, BEGIN and COMMIT included."""
        self._listeners.append(listener)

    async def _prepare(self, connection: asyncpg.Connection) -> None:
        await connection.set_type_codec(
            "json", encoder=str, decoder=orjson.loads, schema="pg_catalog"
        )
        if self._listeners:
            connection.add_query_logger(
                lambda query: [hear(query.query) for hear in self._listeners]
            )

    async def _opened(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    min_size=0,
                    max_size=self._size,
                    init=self._prepare,
                    reset=_keep_session,
                    **self._connect,
                )
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, lent in the order they were asked for; a wait past the timeout is
        SQLAlchemy's pool timeout (503), and a connection that broke under the driver may be
        tried again (``db.is_transient``)."""
        pool = self._pool or await self._opened()
        try:
            async with (
                self._turns.turn(timeout_seconds=self._timeout),
                pool.acquire() as connection,
            ):
                yield connection
        except TimeoutError as error:
            raise PoolTimeout("No database connection came free in time") from error
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError) as error:
            raise DBAPIError("", None, error, connection_invalidated=True) from error

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


_ASYNCPG_CONNECT_OPTIONS = frozenset(inspect.signature(asyncpg.connect).parameters)


async def _keep_session(_connection: asyncpg.Connection) -> None:
    return None
