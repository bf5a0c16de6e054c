"""Running tallies of settled messages: what the policy learns from, without rescanning the log.

A message's outcome is known once: when its case's next stage is decided (under last-touch credit
it is then lost, whatever happens later), or when its case settles. Whoever marks a decision's
outcome (a conditional UPDATE on ``outcome IS NULL``, so only one pass can) adds it to the day's
tally in the same transaction. The policy reads the tallies of recent days only, so what it knows
keeps up with the shop and a pass costs the same on the first day as after a year.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from datetime import date, datetime

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.recovery import bandit
from aimall_cart.recovery.models import Decision, Tally

RECOVERED, LOST = "recovered", "lost"
_DECISIONS: Table = Decision.__table__  # type: ignore[assignment]
_TALLIES: Table = Tally.__table__  # type: ignore[assignment]


async def close(
    session: AsyncSession, decision_ids: Collection[uuid.UUID], outcome: str, *, now: datetime
) -> int:
    """Mark still-open message decisions with ``outcome`` and count them in today's tally; how
    many this call marked (a decision another pass marked first is left alone)."""
    if not decision_ids:
        return 0
    marked = (
        await session.execute(
            update(_DECISIONS)
            .where(
                _DECISIONS.c.id.in_(sorted(decision_ids)),
                _DECISIONS.c.outcome.is_(None),
                _DECISIONS.c.group != "holdout",
            )
            .values(outcome=outcome)
            .returning(_DECISIONS.c.group, _DECISIONS.c.primary_reason, _DECISIONS.c.action)
        )
    ).all()
    await _add(session, Counter((row[0], row[1], row[2]) for row in marked), outcome, now.date())
    return len(marked)


async def _add(
    session: AsyncSession, counts: Counter[tuple[str, str, str]], outcome: str, day: date
) -> None:
    """Add to the day's tallies, one upsert for all keys, in key order (rows locked alike by
    concurrent passes)."""
    if not counts:
        return
    rows = [
        {"day": day, "group": group, "context": context, "action": action, RECOVERED: 0, LOST: 0}
        | {outcome: count}
        for (group, context, action), count in sorted(counts.items())
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_TALLIES).values(rows)
    column = _TALLIES.c[outcome]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "group", "context", "action"],
            set_={outcome: column + statement.excluded[outcome]},
        )
    )


async def learned(
    session: AsyncSession, *, group: str = "ai", since: date | None = None
) -> dict[str, dict[str, bandit.Outcomes]]:
    """One group's settled messages per context and action, counted on days from ``since`` (all
    days when None)."""
    stmt = (
        select(Tally.context, Tally.action, func.sum(Tally.recovered), func.sum(Tally.lost))
        .where(Tally.group == group)
        .group_by(Tally.context, Tally.action)
    )
    if since is not None:
        stmt = stmt.where(Tally.day >= since)
    return _nested(await session.execute(stmt))


def _nested(
    rows: Iterable[tuple[str, str, int, int]],
) -> dict[str, dict[str, bandit.Outcomes]]:
    result: dict[str, dict[str, bandit.Outcomes]] = defaultdict(dict)
    for context, action, recovered, lost in rows:
        result[context][action] = bandit.Outcomes(int(recovered), int(lost))
    return dict(result)
