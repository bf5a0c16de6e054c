"""SQLite's guarded cart changes, written in one hop by a thread of their own.

An aiosqlite transaction holds SQLite's write lock (``BEGIN IMMEDIATE``) across every statement's
hop to its thread and back, and each hop back waits for the event loop's next turn: under load the
lock is held mostly by waiting, and writes queue behind it. A guarded change (``guarded_sql``)
has read all it needs before it writes, so here it goes to the writer's thread whole: BEGIN
IMMEDIATE, the guard, the writes, COMMIT, with the lock held only while they run. One thread and
one connection are enough: SQLite writes one transaction at a time anyway.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Dialect

from aimall_cart.sql import Write, as_sqlalchemy_errors, compile_once

# A statement's text and its arguments, as the driver takes them.
_Statement = tuple[str, Sequence[Any]]


def pragmas(*, busy_timeout_ms: int) -> list[str]:
    """What every connection to the database file sets first: WAL (readers never wait for the
    writer), a busy timeout, foreign keys, and fsync at checkpoints only."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ]


class SqliteWriter:
    """Sends guarded changes to the database file at ``path`` (``guarded_sql.Sender``)."""

    def __init__(self, path: str, dialect: Dialect, *, busy_timeout_ms: int) -> None:
        self._path, self._dialect, self._busy_timeout_ms = path, dialect, busy_timeout_ms
        self._thread: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        """Diagnostics: ``listener`` hears every statement sent from now on, BEGIN and COMMIT
        included."""
        self._listeners.append(listener)

    async def send(self, guard: Write, writes: Sequence[Write]) -> bool:
        """Run the guard and, if it took its row, the writes, in one transaction; ``False`` (and
        nothing written) when the guard took nothing."""
        statements: list[_Statement] = []
        for statement, params in (guard, *writes):
            compiled = compile_once(statement, self._dialect)
            statements.append((compiled.text, compiled.arguments(params)))
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._write, statements)

    def _write(self, statements: list[_Statement]) -> bool:
        connection = self._connection or self._connect()
        (guard, guard_arguments), *writes = statements
        self._run(connection, "BEGIN IMMEDIATE", ())
        try:
            if not self._run(connection, guard, guard_arguments).fetchall():
                self._run(connection, "ROLLBACK", ())
                return False
            for text, arguments in writes:
                self._run(connection, text, arguments)
            self._run(connection, "COMMIT", ())
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return True

    def _run(
        self, connection: sqlite3.Connection, text: str, arguments: Sequence[Any]
    ) -> sqlite3.Cursor:
        for listener in self._listeners:
            listener(text)
        with driver_errors(text):
            return connection.execute(text, arguments)

    def _connect(self) -> sqlite3.Connection:
        # Autocommit in the driver: the transaction is the BEGIN IMMEDIATE above.
        connection = sqlite3.connect(self._path, isolation_level=None)
        for pragma in pragmas(busy_timeout_ms=self._busy_timeout_ms):
            connection.execute(pragma)
        self._connection = connection
        return connection

    async def close(self) -> None:
        """Close the connection and its thread; the next change opens them again, as an engine
        does after ``dispose``."""
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._close)
            thread.shutdown(wait=False)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def driver_errors(text: str) -> AbstractContextManager[None]:
    """sqlite3's errors as SQLAlchemy's: "database is locked" stays one to retry."""
    return as_sqlalchemy_errors(text, integrity=sqlite3.IntegrityError, other=sqlite3.Error)
