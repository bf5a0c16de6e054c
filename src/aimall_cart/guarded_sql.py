"""A cart change without a transaction of its own: a read, then its writes behind a guard.

Optimistic concurrency, as carts with versions allow: the change reads the cart like any read
(its own snapshot, no lock), decides in Python, and sends its writes as one statement whose
first part, the guard, is an ``UPDATE`` of the cart that holds only while the version it read is
the latest. Every write is conditioned on the guard having taken its row (``_HELD``), so a change
that lost a race to another one writes nothing, and the whole change costs two round trips where
a transaction costs four (BEGIN, the statements, COMMIT). The one statement is its own
transaction: the guard's row lock is taken first, the writes follow, and all of it commits or
none does.

What cannot go this way raises ``NeedsTransaction`` before it sends a write, and a change whose
guard found its cart changed sends nothing else; ``Database.change`` then runs it again in a
write transaction, where it claims the cart by lock.

That is PostgreSQL's way (``OneStatement``). SQLite has no writable CTEs, and no round trips to
save; there the guard and the writes go to ``sqlite_writer`` in one transaction, so the change's
read is made before the write lock is taken rather than under it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Delete, Insert, Table, Update, exists, insert, select, table, union_all
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

from aimall_cart.sql import AsyncpgSql, Row, Sql, Write, merged

# The guard's name in the statement; a write behind it checks that it took its row.
_GUARD = "guard"
_HELD: ColumnElement[bool] = exists().select_from(table(_GUARD))


# Each write's guarded form, built once: the hot path's statements are module constants.
_BEHIND: dict[int, tuple[Executable, Executable]] = {}


class NeedsTransaction(Exception):
    """The change cannot go as a read and one guarded statement: run it in a transaction."""


def insert_rows(target: Table, *rows: Mapping[str, ColumnElement[Any]]) -> Insert:
    """``INSERT ... VALUES`` of ``rows``, with a twin for ``GuardedSql``: ``INSERT ... SELECT`` of
    the same rows, only when the guard holds (a ``VALUES`` list cannot be conditioned)."""
    plain = insert(target).values(list(rows) if len(rows) > 1 else rows[0])
    selects = [select(*(value.label(name) for name, value in row.items())) for row in rows]
    held = [one.where(_HELD) for one in selects]
    source = held[0] if len(held) == 1 else union_all(*held)
    _BEHIND[id(plain)] = (plain, insert(target).from_select(list(rows[0]), source))
    return plain


def _behind(write: Executable, guard: Executable) -> Executable:
    """``write`` conditioned on the guard."""
    if write.table is guard.table:  # type: ignore[attr-defined]
        # One statement that changes a row twice keeps only one of the changes.
        raise NeedsTransaction("A write to the guard's own table")
    known = _BEHIND.get(id(write))
    if known is not None and known[0] is write:
        return known[1]
    if isinstance(write, Update | Delete):
        guarded: Executable = write.where(_HELD)
    else:
        # An INSERT is guarded only as ``insert_rows`` made it; others take the transaction.
        raise NeedsTransaction(f"No guarded form of {type(write).__name__}")
    _BEHIND[id(write)] = (write, guarded)
    return guarded


_TOGETHER: dict[tuple[int, ...], tuple[tuple[Executable, ...], Executable]] = {}


def together_behind(guard: Executable, writes: tuple[Executable, ...]) -> Executable:
    """The guard and the writes behind it as writable CTEs, answering the guard's row if it
    took one: built once per combination."""
    key = (id(guard), *map(id, writes))
    cached = _TOGETHER.get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], (guard, *writes), strict=True)):
        return cached[1]
    guarded = guard.cte(_GUARD)  # type: ignore[attr-defined]
    behind = [_behind(write, guard) for write in writes]
    ctes = [write.cte(f"write_{number}") for number, write in enumerate(behind)]  # type: ignore[attr-defined]
    combined = select(guarded).add_cte(guarded, *ctes)
    _TOGETHER[key] = ((guard, *writes), combined)
    return combined


class Sender(Protocol):
    async def send(self, guard: Write, writes: Sequence[Write]) -> bool:
        """Write ``writes`` if ``guard`` takes its row, all or nothing; ``False`` when it took
        nothing."""


class OneStatement:
    """PostgreSQL's sender: the guard and the writes behind it as one statement."""

    def __init__(self, sql: AsyncpgSql) -> None:
        self._sql = sql

    async def send(self, guard: Write, writes: Sequence[Write]) -> bool:
        try:
            params = merged((guard, *writes))
        except ValueError as error:
            raise NeedsTransaction(str(error)) from error
        statement = together_behind(guard[0], tuple(write for write, _ in writes))
        return bool(await self._sql.rows(statement, params))


class GuardedSql:
    """``Sql`` for one change that reads first and then writes behind a guard (see the module).

    Reads run at once on ``reads``; a write statement (``is_dml``) before the guard, or any read
    after it, raises ``NeedsTransaction``. Writes are held until ``send`` hands them to
    ``sender``.
    """

    def __init__(self, reads: Sql, sender: Sender) -> None:
        self._sql, self._sender = reads, sender
        self.dialect = reads.dialect
        self._guard: Write | None = None
        self._writes: list[Write] = []

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        self._check_read(statement)
        return await self._sql.rows(statement, params)

    async def value(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        self._check_read(statement)
        return await self._sql.value(statement, params)

    def _check_read(self, statement: Executable) -> None:
        if self._guard is not None or statement.is_dml:
            raise NeedsTransaction("A read after the guard, or a write before it")

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        await self.run_together((statement, params))

    async def run_together(self, *writes: Write) -> None:
        if self._guard is None:
            raise NeedsTransaction("A write with no guard")
        self._writes.extend(writes)

    def guard(self, statement: Executable, params: Mapping[str, Any]) -> None:
        """The change's guard: an ``UPDATE ... RETURNING`` of one row that takes nothing when
        what the change read is no longer current."""
        if self._guard is not None:
            raise NeedsTransaction("A second guard")
        self._guard = (statement, params)

    async def send(self) -> bool:
        """Send the held writes behind the guard; ``False`` when the guard took nothing (a race
        lost: nothing was written). A change that claimed nothing and wrote nothing is done."""
        if self._guard is None:
            return True
        return await self._sender.send(self._guard, self._writes)
