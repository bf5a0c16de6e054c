"""cart events and analytics rollups

The append-only cart event log, its daily roll-ups, and two cart columns: the random pseudonym
that names the cart in the log, and when it was last found abandoned.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:08:11.788853
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seller_id", sa.String(length=128), nullable=False),
        sa.Column("product_id", sa.String(length=128), nullable=False),
        sa.Column("carts_created", sa.Integer(), nullable=False),
        sa.Column("carts", sa.Integer(), nullable=False),
        sa.Column("units_added", sa.Integer(), nullable=False),
        sa.Column("value_added", sa.BigInteger(), nullable=False),
        sa.Column("checkouts_started", sa.Integer(), nullable=False),
        sa.Column("converted_carts", sa.Integer(), nullable=False),
        sa.Column("converted_value", sa.BigInteger(), nullable=False),
        sa.Column("abandoned_carts", sa.Integer(), nullable=False),
        sa.Column("abandoned_value", sa.BigInteger(), nullable=False),
        sa.Column("recovered_carts", sa.Integer(), nullable=False),
        sa.Column("reason_price", sa.Integer(), nullable=False),
        sa.Column("reason_availability", sa.Integer(), nullable=False),
        sa.Column("reason_other", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "seller_id", "product_id", name=op.f("pk_analytics_daily")),
    )
    op.create_table(
        "analytics_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rollup_state")),
    )
    op.create_table(
        "cart_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("cart_key", sa.String(length=32), nullable=False),
        sa.Column("seller_id", sa.String(length=128), nullable=True),
        sa.Column("product_id", sa.String(length=128), nullable=True),
        sa.Column("variant_id", sa.String(length=128), nullable=True),
        sa.Column("quantity_delta", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "kind IN ('cart_created', 'item_added', 'item_removed', 'quantity_changed', 'checkout_started', 'checkout_completed', 'checkout_expired', 'cart_abandoned', 'cart_recovered', 'cart_merged')",
            name=op.f("ck_cart_events_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_events")),
    )
    with op.batch_alter_table("cart_events", schema=None) as batch_op:
        batch_op.create_index("ix_cart_events_cart_key_kind", ["cart_key", "kind"], unique=False)
        batch_op.create_index("ix_cart_events_day", ["day"], unique=False)

    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("analytics_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True))
    # Carts made before this revision take a random pseudonym each, as new ones do.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE carts SET analytics_key = lower(hex(randomblob(16)))")
    else:
        op.execute("UPDATE carts SET analytics_key = md5(random()::text || id::text)")
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.alter_column("analytics_key", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_column("abandoned_at")
        batch_op.drop_column("analytics_key")

    with op.batch_alter_table("cart_events", schema=None) as batch_op:
        batch_op.drop_index("ix_cart_events_day")
        batch_op.drop_index("ix_cart_events_cart_key_kind")

    op.drop_table("cart_events")
    op.drop_table("analytics_rollup_state")
    op.drop_table("analytics_daily")
