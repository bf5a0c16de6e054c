"""recovery tallies and decision outcomes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:20:00.000000
"""

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every message decision with what its case knows: the order, when the case settled, and when
# the case's next stage was decided (the moment a message is known lost under last touch).
_DECISIONS = sa.text(
    'SELECT d.id, d."group", d.primary_reason, d.action, d.decided_at, c.status, c.settled_at,'
    " o.created_at AS ordered_at, n.decided_at AS next_at"
    " FROM recovery_decisions d JOIN recovery_cases c ON c.id = d.case_id"
    " LEFT JOIN orders o ON o.id = c.order_id"
    " LEFT JOIN recovery_decisions n ON n.case_id = d.case_id AND n.stage = d.stage + 1"
    " WHERE d.\"group\" <> 'holdout' AND (c.status <> 'open' OR n.id IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("recovery_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
    tallies = op.create_table(
        "recovery_tallies",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("group", sa.String(length=16), nullable=False),
        sa.Column("context", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("recovered", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "group", "context", "action", name=op.f("pk_recovery_tallies")
        ),
    )
    _backfill(tallies)


def _backfill(tallies: sa.Table) -> None:
    """Settle the decisions logged before this revision as the passes now would, and count them
    on the day their outcome became known."""
    bind = op.get_bind()
    outcomes: dict[str, list[object]] = {"recovered": [], "lost": []}
    counts: Counter[tuple[date, str, str, str, str]] = Counter()
    for row in bind.execute(_DECISIONS):
        won = (
            row.next_at is None
            and row.status == "recovered"
            and row.ordered_at is not None
            and _at(row.ordered_at) >= _at(row.decided_at)
        )
        outcome = "recovered" if won else "lost"
        known = _at(row.next_at if row.next_at is not None else row.settled_at)
        outcomes[outcome].append(row.id)
        counts[(known.date(), row.group, row.primary_reason, row.action, outcome)] += 1
    decisions = sa.table("recovery_decisions", sa.column("id"), sa.column("outcome"))
    for outcome, ids in outcomes.items():
        for start in range(0, len(ids), 500):
            op.execute(
                decisions.update()
                .where(decisions.c.id.in_(ids[start : start + 500]))
                .values(outcome=outcome)
            )
    merged: dict[tuple[date, str, str, str], dict[str, int]] = {}
    for (day, group, context, action, outcome), count in counts.items():
        row = merged.setdefault((day, group, context, action), {"recovered": 0, "lost": 0})
        row[outcome] += count
    if merged:
        op.bulk_insert(
            tallies,
            [
                {"day": day, "group": group, "context": context, "action": action, **values}
                for (day, group, context, action), values in merged.items()
            ],
        )


def _at(value: datetime | str) -> datetime:
    """A timestamp as the driver gives it: SQLite hands back text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def downgrade() -> None:
    op.drop_table("recovery_tallies")
    with op.batch_alter_table("recovery_decisions", schema=None) as batch_op:
        batch_op.drop_column("outcome")
