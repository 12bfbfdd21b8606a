"""settlement close: provisional and stale statements, settlement terms, who pays whom by when

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agreement_versions") as batch:
        batch.add_column(
            sa.Column("settlement_terms_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_agreement_versions_settlement_terms_range"),
            "settlement_terms_days >= 0 AND settlement_terms_days <= 365",
        )
    with op.batch_alter_table("settlement_statements") as batch:
        batch.add_column(
            sa.Column("provisional", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("documents_fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("settlement_terms_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("pay_to", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("settlement_statements") as batch:
        batch.drop_column("pay_to")
        batch.drop_column("due_date")
        batch.drop_column("settlement_terms_days")
        batch.drop_column("documents_fingerprint")
        batch.drop_column("provisional")
    with op.batch_alter_table("agreement_versions") as batch:
        batch.drop_constraint(op.f("ck_agreement_versions_settlement_terms_range"), type_="check")
        batch.drop_column("settlement_terms_days")
