"""sealed message text and payment references, and whom an outbox event is about

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Sealed text (``ak1.<kid>.<base64>``) is longer than the text it seals: the columns that hold it
# become unbounded. Values written before stay readable as they are; ``aimall-cart keys rotate``
# seals them.
def upgrade() -> None:
    with op.batch_alter_table("recovery_notifications", schema=None) as batch_op:
        batch_op.alter_column(
            "subject", existing_type=sa.String(length=300), type_=sa.Text(), existing_nullable=False
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "payment_reference",
            existing_type=sa.String(length=255),
            type_=sa.Text(),
            existing_nullable=True,
        )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_outbox_events_person", ["person"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_person")
        batch_op.drop_column("person")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "payment_reference",
            existing_type=sa.Text(),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
    with op.batch_alter_table("recovery_notifications", schema=None) as batch_op:
        batch_op.alter_column(
            "subject", existing_type=sa.Text(), type_=sa.String(length=300), existing_nullable=False
        )
