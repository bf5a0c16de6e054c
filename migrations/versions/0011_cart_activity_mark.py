"""cart activity mark

``carts.activity_mark``: the cart's last activity as it stood when it last moved by a minute or
more, indexed in place of ``last_activity_at``. A change to a cart rewrites
``last_activity_at`` every time; with that column indexed no update of a cart could be a
heap-only (HOT) one on PostgreSQL, so every change wrote a new entry into each of the cart's
indexes. The mark moves at most once a minute, so most changes now leave every index as it is,
and the idle-cart scans still find their carts through it (``carts/activity.py``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activity_mark", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE carts SET activity_mark = last_activity_at")
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.alter_column("activity_mark", nullable=False)
        batch_op.drop_index(batch_op.f("ix_carts_last_activity_at"))
        batch_op.create_index(batch_op.f("ix_carts_activity_mark"), ["activity_mark"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carts_activity_mark"))
        batch_op.create_index(
            batch_op.f("ix_carts_last_activity_at"), ["last_activity_at"], unique=False
        )
        batch_op.drop_column("activity_mark")
