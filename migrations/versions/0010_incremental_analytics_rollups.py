"""incremental analytics roll-ups

The event ids a refresh found missing below its watermark (transactions still open, or rolled
back), and whether the watermark accounts for every event. Existing roll-up state starts out not
incremental: its watermark was kept without gaps, so the next refresh recomputes recent days
whole, as before, and starts folding from there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_rollup_gaps",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_analytics_rollup_gaps")),
    )
    with op.batch_alter_table("analytics_rollup_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("incremental", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("analytics_rollup_state", schema=None) as batch_op:
        batch_op.drop_column("incremental")
    op.drop_table("analytics_rollup_gaps")
