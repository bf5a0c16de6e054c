"""The hot path's reads on SQLite, each in one hop to a thread with a connection of its own.

Through SQLAlchemy and aiosqlite a read costs several hops to a connection's thread and back (the
autocommit switch on checkout and return, the statement, the fetch, the rollback on return), each
waiting for the event loop's next turn. Here the statement is compiled once
(``sql.compile_once``), run and fetched in one call on a reader thread, and its values converted
as SQLAlchemy's own types convert them. WAL lets the readers run beside the writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

from aimall_cart.sql import Row, Write, compile_once
from aimall_cart.sqlite_writer import driver_errors, pragmas

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Columns:
    names: tuple[str, ...]
    processors: tuple[_Processor, ...]


_COLUMNS: dict[int, tuple[Executable, _Columns]] = {}


def _columns(statement: Executable, dialect: Dialect) -> _Columns:
    """What a read's rows are called and how their values convert, once per statement."""
    cached = _COLUMNS.get(id(statement))
    if cached is not None and cached[0] is statement:
        return cached[1]
    if not isinstance(statement, Select | CompoundSelect):
        raise TypeError(f"Not a read: {type(statement).__name__}")
    selected = list(statement.selected_columns)
    names = tuple(str(column.key) for column in selected)
    processors = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in selected
    )
    result = _Columns(names, processors)
    _COLUMNS[id(statement)] = (statement, result)
    return result


class SqliteReader:
    """``Sql`` for reads only, on the database file at ``path``; a change reads through it
    before its writes go to ``sqlite_writer``."""

    dialect = "sqlite"

    def __init__(self, path: str, dialect: Dialect, *, threads: int, busy_timeout_ms: int) -> None:
        self._path, self._dialect, self._busy_timeout_ms = path, dialect, busy_timeout_ms
        self._size = threads
        self._threads: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opening = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        """Diagnostics: ``listener`` hears every statement read from now on."""
        self._listeners.append(listener)

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        compiled = compile_once(statement, self._dialect)
        columns = _columns(statement, self._dialect)
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self._size, thread_name_prefix="sqlite-reader")
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(
            self._threads, self._fetch, compiled.text, compiled.arguments(params)
        )
        pairs = tuple(zip(columns.names, columns.processors, strict=True))
        return [
            {
                name: value if process is None or value is None else process(value)
                for (name, process), value in zip(pairs, row, strict=True)
            }
            for row in found
        ]

    async def value(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        found = await self.rows(statement, params)
        return next(iter(found[0].values())) if found else None

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        raise TypeError("The reader only reads")

    async def run_together(self, *writes: Write) -> None:
        raise TypeError("The reader only reads")

    def _fetch(self, text: str, arguments: Sequence[Any]) -> list[tuple[Any, ...]]:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
        for listener in self._listeners:
            listener(text)
        with driver_errors(text):
            return connection.execute(text, arguments).fetchall()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit in the driver: each read is its own snapshot, as on PostgreSQL.
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        for pragma in pragmas(busy_timeout_ms=self._busy_timeout_ms):
            connection.execute(pragma)
        self._local.connection = connection
        with self._opening:
            self._opened.append(connection)
        return connection

    async def close(self) -> None:
        """Close the connections and their threads; the next read opens them again, as an
        engine does after ``dispose``."""
        threads, self._threads = self._threads, None
        if threads is not None:
            await asyncio.to_thread(threads.shutdown)
        with self._opening:
            for connection in self._opened:
                connection.close()
            self._opened.clear()
        self._local = threading.local()
