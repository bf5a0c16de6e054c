"""When a cart was last active, and how the scans for idle carts find it.

Every change a shopper makes rewrites the cart's ``last_activity_at``. Were that column indexed,
no update of a cart could be heap-only (HOT) on PostgreSQL: each change would write a new entry
into every index of the cart's row, for one scan a minute that looks for idle carts. So the
index is on ``activity_mark``, which follows ``last_activity_at`` only once it has fallen
``MARK_STEP`` behind; most changes leave it, and with it every index, as it was. Always::

    activity_mark <= last_activity_at

so a cart idle since a moment has its mark at or before that moment too: a scan asks for both,
the mark through its index and the exact time on the rows the index gives. On SQLite, where no
update is heap-only, the mark is simply the last activity.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from aimall_cart.carts.models import Cart
from aimall_cart.carts.queries import NOW, carts
from aimall_cart.db import UTCDateTime

MARK_STEP = timedelta(minutes=1)
_STEP_SQL: ColumnElement[Any] = literal_column(
    f"interval '{int(MARK_STEP.total_seconds())} seconds'"
)


class MovedMark(ColumnElement[datetime]):
    """The ``activity_mark`` a change at ``now`` leaves: the cart's own while it is less than
    ``MARK_STEP`` old (and not ahead of ``now``, should clocks disagree), else ``now``."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(MovedMark)
def _moved_mark(element: MovedMark, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(NOW, **kw)


@compiles(MovedMark, "postgresql")
def _moved_mark_postgresql(element: MovedMark, compiler: SQLCompiler, **kw: Any) -> str:
    mark = carts.c.activity_mark
    recent = and_(mark > NOW - _STEP_SQL, mark <= NOW)
    return compiler.process(case((recent, mark), else_=NOW), **kw)


def idle_since(moment: datetime) -> list[ColumnElement[bool]]:
    """Carts last active at or before ``moment``."""
    return [Cart.activity_mark <= moment, Cart.last_activity_at <= moment]


def idle_before(moment: datetime) -> list[ColumnElement[bool]]:
    """Carts last active before ``moment``."""
    return [Cart.activity_mark < moment, Cart.last_activity_at < moment]
