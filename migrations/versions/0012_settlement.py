"""settlement: monthly statements between the parties, their figures per issuer, withheld
invoices and approvals

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 12:59:48.963293
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("basis", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("payer_party_id", sa.Integer(), nullable=True),
        sa.Column("payee_party_id", sa.Integer(), nullable=True),
        sa.Column("net_amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("csv", sa.Text(), nullable=False),
        sa.Column("csv_sha256", sa.String(length=64), nullable=False),
        sa.Column("built_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("built_by", sa.String(length=200), nullable=False),
        sa.Column("approved_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settled_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settled_by", sa.String(length=200), nullable=True),
        sa.Column("payment_reference", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(state = 'settled') = (settled_at IS NOT NULL AND payment_reference IS NOT NULL)",
            name=op.f("ck_settlement_statements_settled_has_reference"),
        ),
        sa.CheckConstraint(
            "basis IN ('invoiced', 'collected')", name=op.f("ck_settlement_statements_basis_valid")
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'approved', 'settled')",
            name=op.f("ck_settlement_statements_state_valid"),
        ),
        sa.CheckConstraint(
            "(payer_party_id IS NULL) = (net_amount = 0)",
            name=op.f("ck_settlement_statements_payer_only_when_owed"),
        ),
        sa.CheckConstraint(
            "net_amount >= 0", name=op.f("ck_settlement_statements_net_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["payee_party_id"],
            ["parties.id"],
            name=op.f("fk_settlement_statements_payee_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_party_id"],
            ["parties.id"],
            name=op.f("fk_settlement_statements_payer_party_id_parties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_statements")),
        sa.UniqueConstraint(
            "period_start", "basis", name=op.f("uq_settlement_statements_period_start")
        ),
    )
    op.create_table(
        "statement_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("approved_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_statement_approvals_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_statement_approvals_statement_id_settlement_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_approvals")),
        sa.UniqueConstraint(
            "statement_id", "party_id", name=op.f("uq_statement_approvals_statement_id")
        ),
    )
    with op.batch_alter_table("statement_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_approvals_statement_id"), ["statement_id"], unique=False
        )

    op.create_table(
        "statement_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("issuer_party_id", sa.Integer(), nullable=False),
        sa.Column("other_party_id", sa.Integer(), nullable=False),
        sa.Column("billed", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("issuer_share", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("other_share", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_party_id"],
            ["parties.id"],
            name=op.f("fk_statement_figures_issuer_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["other_party_id"],
            ["parties.id"],
            name=op.f("fk_statement_figures_other_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_statement_figures_statement_id_settlement_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_figures")),
        sa.UniqueConstraint(
            "statement_id", "issuer_party_id", name=op.f("uq_statement_figures_statement_id")
        ),
    )
    with op.batch_alter_table("statement_figures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_figures_statement_id"), ["statement_id"], unique=False
        )

    op.create_table(
        "statement_withheld",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("billed", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_statement_withheld_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_statement_withheld_statement_id_settlement_statements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_withheld")),
        sa.UniqueConstraint(
            "statement_id", "invoice_id", name=op.f("uq_statement_withheld_statement_id")
        ),
    )
    with op.batch_alter_table("statement_withheld", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_withheld_statement_id"), ["statement_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("statement_withheld", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_withheld_statement_id"))

    op.drop_table("statement_withheld")
    with op.batch_alter_table("statement_figures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_figures_statement_id"))

    op.drop_table("statement_figures")
    with op.batch_alter_table("statement_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_approvals_statement_id"))

    op.drop_table("statement_approvals")
    op.drop_table("settlement_statements")
