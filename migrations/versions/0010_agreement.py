"""agreement: versions and shares, the stored split of every invoice line, disputes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPLIT_ADDS_UP = (
    "split_version_id IS NULL OR (amount IS NOT NULL"
    " AND first_party_id IS NOT NULL AND first_party_amount IS NOT NULL"
    " AND second_party_id IS NOT NULL AND second_party_amount IS NOT NULL"
    " AND ROUND(first_party_amount * 100) + ROUND(second_party_amount * 100)"
    " = ROUND(amount * 100))"
)


def upgrade() -> None:
    op.create_table(
        "agreement_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("commission_percent", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("commission_kinds", sa.Text(), nullable=False),
        sa.Column("whole_kinds", sa.Text(), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "commission_percent >= 0 AND commission_percent <= 100",
            name=op.f("ck_agreement_versions_commission_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_versions")),
        sa.UniqueConstraint("effective_from", name=op.f("uq_agreement_versions_effective_from")),
    )
    op.create_table(
        "agreement_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("share_percent", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.CheckConstraint(
            "share_percent >= 0 AND share_percent <= 100",
            name=op.f("ck_agreement_shares_share_range"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_agreement_shares_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_agreement_shares_segment_id_segments")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["agreement_versions.id"],
            name=op.f("fk_agreement_shares_version_id_agreement_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_shares")),
        sa.UniqueConstraint(
            "version_id", "segment_id", "party_id", name=op.f("uq_agreement_shares_version_id")
        ),
    )
    with op.batch_alter_table("agreement_shares", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_shares_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "invoice_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("resolved_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(resolved_at IS NULL) = (resolution IS NULL)",
            name=op.f("ck_invoice_disputes_resolved_with_resolution"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_disputes_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_disputes")),
    )
    with op.batch_alter_table("invoice_disputes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_disputes_invoice_id"), ["invoice_id"], unique=False
        )

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("split_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_party_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("first_party_amount", sa.Numeric(precision=16, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("second_party_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("second_party_amount", sa.Numeric(precision=16, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("split_weights", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_invoice_lines_split_version_id_agreement_versions"),
            "agreement_versions",
            ["split_version_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_invoice_lines_first_party_id_parties"),
            "parties",
            ["first_party_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_invoice_lines_second_party_id_parties"),
            "parties",
            ["second_party_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_invoice_lines_split_adds_up"), sa.text(SPLIT_ADDS_UP)
        )

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disputed_at", billing.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("dispute_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("dispute_reason")
        batch_op.drop_column("disputed_at")

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_invoice_lines_split_adds_up"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_invoice_lines_second_party_id_parties"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_invoice_lines_first_party_id_parties"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_invoice_lines_split_version_id_agreement_versions"),
            type_="foreignkey",
        )
        batch_op.drop_column("split_weights")
        batch_op.drop_column("second_party_amount")
        batch_op.drop_column("second_party_id")
        batch_op.drop_column("first_party_amount")
        batch_op.drop_column("first_party_id")
        batch_op.drop_column("split_version_id")

    with op.batch_alter_table("invoice_disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_disputes_invoice_id"))
    op.drop_table("invoice_disputes")
    with op.batch_alter_table("agreement_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_shares_version_id"))
    op.drop_table("agreement_shares")
    op.drop_table("agreement_versions")
