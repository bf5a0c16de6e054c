"""Re-sealing every sealed value under the ring's primary key, while the service runs.

Each feature describes the columns it seals (``Resealer``): which table, its key, and how a row's
sealed values are opened and sealed again. ``rotate`` walks each table in primary-key order, a
batch at a time, each batch in one short transaction of its own that locks just its rows
(``FOR UPDATE`` on PostgreSQL; the write session's ``BEGIN IMMEDIATE`` on SQLite), so requests
and the worker carry on between batches and never see a half-sealed row. Values already under
the primary are left alone, so a rotation interrupted half way is finished by running it again.
A value no key of the ring opens is counted and left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Row, Table, func, select, tuple_, update

from aimall_cart.crypto import KeyRing, Unreadable
from aimall_cart.db import Base, Database

# The values to write for the row's columns that are not under the primary (none: nothing to do);
# raises crypto.Unreadable when a value opens under no key of the ring.
Reseal = Callable[[KeyRing, Row[Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Resealer:
    model: type[Base]
    columns: tuple[str, ...]
    reseal: Reseal

    @property
    def table(self) -> Table:
        return cast(Table, self.model.__table__)

    @property
    def name(self) -> str:
        return self.table.name


@dataclass
class Tally:
    """What a rotation did, per table."""

    examined: dict[str, int] = field(default_factory=dict)
    resealed: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)


async def rows_to_examine(database: Database, resealer: Resealer) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(resealer.table)) or 0)


async def rotate(
    database: Database,
    keys: KeyRing,
    resealers: Sequence[Resealer],
    *,
    batch_size: int,
    on_batch: Callable[[Resealer, int], None] = lambda _resealer, _rows: None,
) -> Tally:
    """Re-seal every table's values under the primary; ``on_batch`` hears of each batch done."""
    tally = Tally()
    for resealer in resealers:
        for counter in (tally.examined, tally.resealed, tally.unreadable):
            counter[resealer.name] = 0
        after: tuple[Any, ...] | None = None
        while True:
            after, examined = await _batch(database, keys, resealer, tally, after, batch_size)
            tally.examined[resealer.name] += examined
            on_batch(resealer, examined)
            if examined < batch_size:
                break
    return tally


async def _batch(
    database: Database,
    keys: KeyRing,
    resealer: Resealer,
    tally: Tally,
    after: tuple[Any, ...] | None,
    batch_size: int,
) -> tuple[tuple[Any, ...] | None, int]:
    """One batch in one transaction it commits: the next rows after ``after``, locked."""
    table = resealer.table
    key = list(table.primary_key.columns)
    query = select(*key, *(table.c[name] for name in resealer.columns)).order_by(*key)
    if after is not None:
        query = query.where(_after(key, after))
    async with database.write_session() as session:
        rows = (await session.execute(query.limit(batch_size).with_for_update())).all()
        for row in rows:
            try:
                changes = resealer.reseal(keys, row)
            except Unreadable:
                tally.unreadable[resealer.name] += 1
                continue
            if changes:
                where = [column == getattr(row, column.key) for column in key]
                await session.execute(update(table).where(*where).values(changes))
                tally.resealed[resealer.name] += 1
        await session.commit()
    last = tuple(getattr(rows[-1], column.key) for column in key) if rows else after
    return last, len(rows)


def _after(key: list[Any], after: tuple[Any, ...]) -> Any:
    return tuple_(*key) > tuple_(*after)
