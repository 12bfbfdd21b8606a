"""issuing one path: a payment's CHECK compares whole cents

SQLite keeps NUMERIC as binary floating point: 1317.63 + 2.13 there is 1319.7600000000002, so
`applied_total + refunded_total <= amount` refused a refund that takes a payment of 1,319.76
exactly to its end (an IntegrityError, a 500). Compared as whole cents, as the split CHECK is,
both databases agree.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


IN_CENTS = (
    "applied_total >= 0 AND refunded_total >= 0"
    " AND ROUND(applied_total * 100) + ROUND(refunded_total * 100) <= ROUND(amount * 100)"
)
AS_NUMBERS = (
    "applied_total >= 0 AND refunded_total >= 0 AND applied_total + refunded_total <= amount"
)


def _within_amount(condition: str) -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("ck_payments_within_amount"), type_="check")
        batch.create_check_constraint(op.f("ck_payments_within_amount"), condition)


def upgrade() -> None:
    _within_amount(IN_CENTS)


def downgrade() -> None:
    _within_amount(AS_NUMBERS)
