"""Plain statements on a plain connection: how the hot path talks to the database.

SQLAlchemy builds every statement (``carts.queries``) and compiles it once per database. On
PostgreSQL the compiled text then runs on the asyncpg connection itself, which prepares and caches
it per connection: measured here, a cart read costs a third of the client CPU it costs through
SQLAlchemy's execution layer, and a write in a transaction sends two of these between BEGIN and
COMMIT (writes that go together are one statement there: ``run_together``; ``guarded_sql`` sends
a change with no transaction at all).
On SQLite a change in a transaction runs through SQLAlchemy Core, which does the type conversions
SQLite lacks; reads and guarded changes go straight to sqlite3 on threads of their own
(``sqlite_reader``, ``sqlite_writer``), converted as those same types convert. Either way the hot
path sees rows as mappings (``row["name"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

Row = Mapping[str, Any]
# A statement that returns nothing, with its parameters.
Write = tuple[Executable, Mapping[str, Any]]
# SQLAlchemy's own JSON codec on its asyncpg connections takes text and gives back data; the
# statements' bind processors turn values into what the driver takes (JSON into text).
_Processor = Callable[[Any], Any] | None


class Sql(Protocol):
    """Runs the hot path's statements inside whatever transaction the caller opened."""

    @property
    def dialect(self) -> str: ...

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]: ...

    async def value(self, statement: Executable, params: Mapping[str, Any]) -> Any: ...

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> None: ...

    async def run_together(self, *writes: Write) -> None:
        """Run ``writes`` as if one after the other, in one round trip where the database can.

        They must neither read nor change what another of them changes: on PostgreSQL they go
        as one statement (the last with the others as writable CTEs), and so see one snapshot.
        Two of them may share a parameter only when they give it the same value.
        """


class CoreSql:
    """Through SQLAlchemy Core: SQLite, and any caller that already holds a connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.dialect = connection.dialect.name

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        result = await self._connection.execute(statement, dict(params))
        return cast(Sequence[Row], result.mappings().all())

    async def value(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        return await self._connection.scalar(statement, dict(params))

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        await self._connection.execute(statement, dict(params))

    async def run_together(self, *writes: Write) -> None:
        # In process on SQLite: one statement each costs no round trip.
        for statement, params in writes:
            await self.run(statement, params)


@dataclass(frozen=True, slots=True)
class Compiled:
    text: str
    names: tuple[str, ...]  # parameter names in $1, $2, ... order
    defaults: Mapping[str, Any]  # literal values the statement carries
    processors: tuple[_Processor, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = params[name] if name in params else self.defaults[name]
            values.append(value if process is None or value is None else process(value))
        return values


_COMPILED: dict[tuple[int, str], tuple[Executable, Compiled]] = {}


def compile_once(statement: Executable, dialect: Dialect) -> Compiled:
    """Compiled once per process and database: the hot path's statements are module constants.
    Parameters are converted as the database's own types do (SQLite keeps times as text)."""
    key = (id(statement), dialect.name)
    cached = _COMPILED.get(key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    done = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(done.positiontup or ())
    types = (done.binds[name].type.dialect_impl(dialect) for name in names)
    processors = tuple(kind.bind_processor(dialect) for kind in types)
    result = Compiled(done.string, names, done.params, processors)
    _COMPILED[key] = (statement, result)
    return result


class AsyncpgSql:
    """Straight on the asyncpg connection that SQLAlchemy's pool lent (with its codecs).

    Errors come back as SQLAlchemy's, so the retry rules and the error map treat them alike.
    """

    dialect = "postgresql"

    def __init__(self, connection: asyncpg.Connection, sqlalchemy_dialect: Dialect) -> None:
        self._connection = connection
        self._dialect = sqlalchemy_dialect

    async def rows(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        compiled = compile_once(statement, self._dialect)
        with _as_sqlalchemy_errors(compiled.text):
            rows: Sequence[Row] = await self._connection.fetch(
                compiled.text, *compiled.arguments(params)
            )
        return rows

    async def value(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        compiled = compile_once(statement, self._dialect)
        with _as_sqlalchemy_errors(compiled.text):
            return await self._connection.fetchval(compiled.text, *compiled.arguments(params))

    async def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        compiled = compile_once(statement, self._dialect)
        with _as_sqlalchemy_errors(compiled.text):
            await self._connection.execute(compiled.text, *compiled.arguments(params))

    async def run_together(self, *writes: Write) -> None:
        if len(writes) == 1:
            await self.run(*writes[0])
            return
        params = merged(writes)
        await self.run(together(tuple(statement for statement, _ in writes)), params)


def merged(writes: Sequence[Write]) -> dict[str, Any]:
    """The parameters of ``writes`` sent as one statement; ``ValueError`` when two of them give
    one parameter two values."""
    params: dict[str, Any] = {}
    for _, own in writes:
        for name, value in own.items():
            if params.setdefault(name, value) != value:
                raise ValueError(f"Statements run together give {name} two values")
    return params


_TOGETHER: dict[tuple[int, ...], tuple[tuple[Executable, ...], Executable]] = {}


def together(statements: tuple[Executable, ...]) -> Executable:
    """The last statement with the others in front of it as writable CTEs, built once per
    combination (the hot path's statements are module constants)."""
    key = tuple(map(id, statements))
    cached = _TOGETHER.get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], statements, strict=True)):
        return cached[1]
    *firsts, last = statements
    ctes = [first.cte(f"write_{number}") for number, first in enumerate(firsts)]  # type: ignore[attr-defined]
    combined: Executable = last.add_cte(*ctes)  # type: ignore[attr-defined]
    _TOGETHER[key] = (statements, combined)
    return combined


@contextmanager
def as_sqlalchemy_errors(
    text: str, *, integrity: type[Exception], other: type[Exception]
) -> Iterator[None]:
    """A driver's errors (``integrity`` violations, ``other`` errors) raised as SQLAlchemy's, so
    the retry rules and the error map treat every way to the database alike."""
    try:
        yield
    except integrity as error:
        raise IntegrityError(text, None, error) from error
    except other as error:
        raise DBAPIError(text, None, error) from error


def _as_sqlalchemy_errors(text: str) -> AbstractContextManager[None]:
    return as_sqlalchemy_errors(
        text, integrity=asyncpg.IntegrityConstraintViolationError, other=asyncpg.PostgresError
    )
