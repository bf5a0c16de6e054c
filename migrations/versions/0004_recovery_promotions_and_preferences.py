"""recovery promotions and preferences

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 06:18:07.314061
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_preferences",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        sa.Column("email_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("consent_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_customer_preferences")),
    )
    op.create_table(
        "discount_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("issued_for_cart_id", sa.Uuid(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "percent > 0 AND percent <= 100", name=op.f("ck_discount_codes_percent")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_discount_codes_code")),
    )
    with op.batch_alter_table("discount_codes", schema=None) as batch_op:
        batch_op.create_index("ix_discount_codes_user_id", ["user_id"], unique=False)

    op.create_table(
        "experiment_assignments",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("group", sa.String(length=16), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "\"group\" IN ('holdout', 'baseline', 'ai')",
            name=op.f("ck_experiment_assignments_group"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_experiment_assignments")),
    )
    op.create_table(
        "recovery_cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("group", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("messages_sent", sa.Integer(), nullable=False),
        sa.Column("first_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("primary_reason", sa.String(length=32), nullable=True),
        sa.Column("first_action", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("discount_cost", sa.BigInteger(), nullable=False),
        sa.Column("gross_margin", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'recovered', 'lost')", name=op.f("ck_recovery_cases_status")
        ),
        sa.CheckConstraint(
            "\"group\" IN ('holdout', 'baseline', 'ai')", name=op.f("ck_recovery_cases_group")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_cases")),
        sa.UniqueConstraint("cart_id", name=op.f("uq_recovery_cases_cart_id")),
    )
    with op.batch_alter_table("recovery_cases", schema=None) as batch_op:
        batch_op.create_index("ix_recovery_cases_status_group", ["status", "group"], unique=False)
        batch_op.create_index("ix_recovery_cases_user_id", ["user_id"], unique=False)

    op.create_table(
        "recovery_decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=16), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_decisions")),
        sa.UniqueConstraint("case_id", "stage", name="uq_recovery_decisions_case_stage"),
    )
    with op.batch_alter_table("recovery_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recovery_decisions_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "recovery_notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("group", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("discount_code", sa.String(length=32), nullable=True),
        sa.Column("discount_percent", sa.Integer(), nullable=True),
        sa.Column("alternatives", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_notifications")),
    )
    with op.batch_alter_table("recovery_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recovery_notifications_cart_id"), ["cart_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recovery_notifications_decision_id"), ["decision_id"], unique=False
        )
        batch_op.create_index(
            "ix_recovery_notifications_sent_at_id", ["sent_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_recovery_notifications_user_id_sent_at", ["user_id", "sent_at"], unique=False
        )

    op.create_table(
        "recovery_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_policy")),
    )
    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discount_code_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("discount_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_carts_discount_code_id_discount_codes"),
            "discount_codes",
            ["discount_code_id"],
            ["id"],
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promotion_code", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("promotion_discount", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("promotion_discount")
        batch_op.drop_column("promotion_code")

    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_carts_discount_code_id_discount_codes"), type_="foreignkey"
        )
        batch_op.drop_column("discount_attempts")
        batch_op.drop_column("discount_code_id")

    op.drop_table("recovery_policy")
    with op.batch_alter_table("recovery_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_recovery_notifications_user_id_sent_at")
        batch_op.drop_index("ix_recovery_notifications_sent_at_id")
        batch_op.drop_index(batch_op.f("ix_recovery_notifications_decision_id"))
        batch_op.drop_index(batch_op.f("ix_recovery_notifications_cart_id"))

    op.drop_table("recovery_notifications")
    with op.batch_alter_table("recovery_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_decisions_case_id"))

    op.drop_table("recovery_decisions")
    with op.batch_alter_table("recovery_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_recovery_cases_user_id")
        batch_op.drop_index("ix_recovery_cases_status_group")

    op.drop_table("recovery_cases")
    op.drop_table("experiment_assignments")
    with op.batch_alter_table("discount_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_discount_codes_user_id")

    op.drop_table("discount_codes")
    op.drop_table("customer_preferences")
