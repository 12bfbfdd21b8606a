"""payments: payments, their applications to invoices, refunds, Stripe events; portal logins

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 12:48:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(precision=16, scale=2)
STAFF_ROLES = "role IN ('admin', 'sales', 'finance')"
ROLES = "role IN ('admin', 'sales', 'finance', 'customer')"
PORTAL_SCOPED = "(role = 'customer') = (customer_id IS NOT NULL AND party_id IS NULL)"


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("issuer_party_id", sa.Integer(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("stripe_checkout_session_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_event_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("flag_reason", sa.Text(), nullable=True),
        sa.Column("applied_total", AMOUNT, nullable=False),
        sa.Column("refunded_total", AMOUNT, nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "(state = 'flagged') = (flag_reason IS NOT NULL)",
            name=op.f("ck_payments_flagged_has_reason"),
        ),
        sa.CheckConstraint(
            "method = 'stripe' OR stripe_payment_intent_id IS NULL",
            name=op.f("ck_payments_stripe_ids_only_stripe"),
        ),
        sa.CheckConstraint(
            "method IN ('bank_transfer', 'stripe')", name=op.f("ck_payments_method_valid")
        ),
        sa.CheckConstraint(
            "state IN ('recorded', 'flagged')", name=op.f("ck_payments_state_valid")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "applied_total >= 0 AND refunded_total >= 0 AND applied_total + refunded_total <= amount",
            name=op.f("ck_payments_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_party_id"], ["parties.id"], name=op.f("fk_payments_issuer_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "stripe_payment_intent_id", name=op.f("uq_payments_stripe_payment_intent_id")
        ),
    )
    for column in ("customer_id", "invoice_id", "issuer_party_id"):
        op.create_index(op.f(f"ix_payments_{column}"), "payments", [column])

    op.create_table(
        "payment_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_payment_applications_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_payment_applications_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_applications_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_applications")),
    )
    for column in ("invoice_id", "payment_id"):
        op.create_index(op.f(f"ix_payment_applications_{column}"), "payment_applications", [column])

    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_charge_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_event_id", sa.String(length=255), nullable=True),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "state = 'pending' OR payment_id IS NOT NULL",
            name=op.f("ck_refunds_applied_has_payment"),
        ),
        sa.CheckConstraint("state IN ('applied', 'pending')", name=op.f("ck_refunds_state_valid")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint(
            "payment_id IS NOT NULL OR stripe_payment_intent_id IS NOT NULL",
            name=op.f("ck_refunds_linked_to_a_payment"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    for column in ("payment_id", "stripe_payment_intent_id"):
        op.create_index(op.f(f"ix_refunds_{column}"), "refunds", [column])

    op.create_table(
        "stripe_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("received_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_stripe_events_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_stripe_events_event_id")),
    )

    # Portal logins: role 'customer', scoped to one customer and no party.
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.alter_column("party_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f("ix_users_customer_id"), ["customer_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_users_customer_id_customers"), "customers", ["customer_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_users_role_valid"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_users_role_valid"), ROLES)
        batch_op.create_check_constraint(
            batch_op.f("ck_users_customer_login_scoped"), PORTAL_SCOPED
        )


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'customer'")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_customer_login_scoped"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_users_role_valid"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_users_role_valid"), STAFF_ROLES)
        batch_op.drop_constraint(batch_op.f("fk_users_customer_id_customers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_customer_id"))
        batch_op.alter_column("party_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("customer_id")
    op.drop_table("stripe_events")
    op.drop_table("refunds")
    op.drop_table("payment_applications")
    op.drop_table("payments")
