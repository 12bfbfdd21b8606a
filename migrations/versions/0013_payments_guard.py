"""payments guard: one payment per submitted form, refunds kept for review

A bank-transfer form carries a one-time key stored UNIQUE with the payment it recorded, so a
second or concurrent post of the same form records nothing new. A Stripe refund that cannot be
applied as sent (more than its payment, another currency) is kept as `flagged` for review instead
of failing every delivery of its payment.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_payments_idempotency_key"), ["idempotency_key"])
        batch.create_check_constraint(
            op.f("ck_payments_key_only_bank_transfer"),
            "method = 'bank_transfer' OR idempotency_key IS NULL",
        )
    with op.batch_alter_table("refunds") as batch:
        batch.drop_constraint(op.f("ck_refunds_state_valid"), type_="check")
        batch.create_check_constraint(
            op.f("ck_refunds_state_valid"), "state IN ('applied', 'pending', 'flagged')"
        )


def downgrade() -> None:
    op.execute("UPDATE refunds SET state = 'pending' WHERE state = 'flagged'")
    with op.batch_alter_table("refunds") as batch:
        batch.drop_constraint(op.f("ck_refunds_state_valid"), type_="check")
        batch.create_check_constraint(
            op.f("ck_refunds_state_valid"), "state IN ('applied', 'pending')"
        )
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("ck_payments_key_only_bank_transfer"), type_="check")
        batch.drop_constraint(op.f("uq_payments_idempotency_key"), type_="unique")
        batch.drop_column("idempotency_key")
