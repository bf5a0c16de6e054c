"""recovery decisions primary reason

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 08:52:58.382451
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recovery_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("primary_reason", sa.String(length=32), nullable=True))
    # Decisions logged before this revision take their case's primary reason: exact for the first
    # message, the nearest record there is for later ones.
    op.execute(
        "UPDATE recovery_decisions SET primary_reason = (SELECT c.primary_reason"
        " FROM recovery_cases c WHERE c.id = recovery_decisions.case_id)"
    )
    with op.batch_alter_table("recovery_decisions", schema=None) as batch_op:
        batch_op.alter_column("primary_reason", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("recovery_decisions", schema=None) as batch_op:
        batch_op.drop_column("primary_reason")
