"""invoices: tax rules, billing runs, invoices and credit notes, lines, taxes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 12:25:28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contract_instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("months_after_rfs", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(due_date IS NULL) <> (months_after_rfs IS NULL)",
            name=op.f("ck_contract_instalments_due_one_way"),
        ),
        sa.CheckConstraint(
            "months_after_rfs IS NULL OR months_after_rfs >= 0",
            name=op.f("ck_contract_instalments_months_after"),
        ),
        sa.CheckConstraint(
            "percent > 0 AND percent <= 100", name=op.f("ck_contract_instalments_percent_range")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_contract_instalments_contract_id_contracts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_instalments")),
        sa.UniqueConstraint(
            "contract_id", "position", name=op.f("uq_contract_instalments_contract_id")
        ),
    )
    with op.batch_alter_table("contract_instalments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contract_instalments_contract_id"), ["contract_id"], unique=False
        )
    op.create_table(
        "billing_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("issuer_party_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("issue", sa.Boolean(), nullable=False),
        sa.Column("started_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("services_seen", sa.Integer(), nullable=False),
        sa.Column("charges_billed", sa.Integer(), nullable=False),
        sa.Column("invoices_touched", sa.Integer(), nullable=False),
        sa.Column("invoices_issued", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "state IN ('running', 'finished', 'failed')", name=op.f("ck_billing_runs_state_valid")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_party_id"],
            ["parties.id"],
            name=op.f("fk_billing_runs_issuer_party_id_parties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_runs")),
    )
    with op.batch_alter_table("billing_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_runs_period_start"), ["period_start"], unique=False
        )

    op.create_table(
        "tax_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_party_id", sa.Integer(), nullable=False),
        sa.Column("customer_country", sa.String(length=9), nullable=False),
        sa.Column("rate_percent", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("legal_note", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name=op.f("ck_tax_rules_dates_ordered"),
        ),
        sa.CheckConstraint(
            "rate_percent >= 0 AND rate_percent <= 100", name=op.f("ck_tax_rules_rate_range")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_party_id"], ["parties.id"], name=op.f("fk_tax_rules_issuer_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rules")),
    )
    with op.batch_alter_table("tax_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tax_rules_issuer_party_id"), ["issuer_party_id"], unique=False
        )

    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issuer_party_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("billing_run_id", sa.Integer(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("subtotal", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("tax_total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("credited_total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("paid_total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("fx_base", sa.String(length=3), nullable=True),
        sa.Column("fx_rate", sa.Numeric(precision=24, scale=12), nullable=True),
        sa.Column("fx_rate_date", sa.Date(), nullable=True),
        sa.Column("fx_source", sa.String(length=16), nullable=True),
        sa.Column("tax_local", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("tax_local_currency", sa.String(length=3), nullable=True),
        sa.Column("tax_local_rate", sa.Numeric(precision=24, scale=12), nullable=True),
        sa.Column("tax_local_rate_date", sa.Date(), nullable=True),
        sa.Column("tax_local_source", sa.String(length=16), nullable=True),
        sa.Column("purchase_orders", sa.Text(), nullable=False),
        sa.Column("issuer_details", sa.Text(), nullable=False),
        sa.Column("customer_details", sa.Text(), nullable=False),
        sa.Column("credited_invoice_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(kind = 'credit_note') = (credited_invoice_id IS NOT NULL)",
            name=op.f("ck_invoices_credit_note_has_invoice"),
        ),
        sa.CheckConstraint(
            "(status = 'draft') = (number IS NULL)", name=op.f("ck_invoices_number_iff_issued")
        ),
        sa.CheckConstraint(
            "kind IN ('invoice', 'credit_note')", name=op.f("ck_invoices_kind_valid")
        ),
        sa.CheckConstraint(
            "status = 'draft' OR (issue_date IS NOT NULL AND pdf_sha256 IS NOT NULL)",
            name=op.f("ck_invoices_issued_complete"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'issued', 'partially_paid', 'paid', 'credited')",
            name=op.f("ck_invoices_status_valid"),
        ),
        sa.CheckConstraint(
            "fx_rate IS NULL OR fx_rate > 0", name=op.f("ck_invoices_fx_rate_positive")
        ),
        sa.ForeignKeyConstraint(
            ["billing_run_id"],
            ["billing_runs.id"],
            name=op.f("fk_invoices_billing_run_id_billing_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["credited_invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoices_credited_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_party_id"], ["parties.id"], name=op.f("fk_invoices_issuer_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoices_credited_invoice_id"), ["credited_invoice_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invoices_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_due_date"), ["due_date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_invoices_issuer_party_id"), ["issuer_party_id"], unique=False
        )
        batch_op.create_index(
            "ix_invoices_open_draft",
            ["customer_id", "issuer_party_id", "currency"],
            unique=True,
            postgresql_where=sa.text("status = 'draft'"),
            sqlite_where=sa.text("status = 'draft'"),
        )
        batch_op.create_index(
            batch_op.f("ix_invoices_period_start"), ["period_start"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invoices_status"), ["status"], unique=False)

    op.create_table(
        "invoice_taxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("rate_percent", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("base", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("tax", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("legal_notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_taxes_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_taxes")),
        sa.UniqueConstraint("invoice_id", "rate_percent", name=op.f("uq_invoice_taxes_invoice_id")),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("circuit_id", sa.String(length=32), nullable=False),
        sa.Column("charge_kind", sa.String(length=20), nullable=True),
        sa.Column("charge_period_start", sa.Date(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("price_amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("price_currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("tax_rate_percent", sa.Numeric(precision=6, scale=3), nullable=True),
        sa.Column("tax_rule_id", sa.Integer(), nullable=True),
        sa.Column("credited_line_id", sa.Integer(), nullable=True),
        sa.Column("edited_note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "(charge_kind IS NULL) = (charge_period_start IS NULL)",
            name=op.f("ck_invoice_lines_charge_key_whole"),
        ),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_invoice_lines_period_ordered")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_invoice_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["credited_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_invoice_lines_credited_line_id_invoice_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_invoice_lines_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["tax_rule_id"], ["tax_rules.id"], name=op.f("fk_invoice_lines_tax_rule_id_tax_rules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        sa.UniqueConstraint(
            "service_id", "charge_kind", "charge_period_start", name="uq_invoice_lines_charge_key"
        ),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_lines_credited_line_id"), ["credited_line_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_invoice_lines_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_invoice_lines_service_id"), ["service_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_service_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_lines_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_lines_credited_line_id"))

    op.drop_table("invoice_lines")
    op.drop_table("invoice_taxes")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_status"))
        batch_op.drop_index(batch_op.f("ix_invoices_period_start"))
        batch_op.drop_index(
            "ix_invoices_open_draft",
            postgresql_where=sa.text("status = 'draft'"),
            sqlite_where=sa.text("status = 'draft'"),
        )
        batch_op.drop_index(batch_op.f("ix_invoices_issuer_party_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_due_date"))
        batch_op.drop_index(batch_op.f("ix_invoices_customer_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_credited_invoice_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("tax_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tax_rules_issuer_party_id"))

    op.drop_table("tax_rules")
    with op.batch_alter_table("billing_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_runs_period_start"))

    op.drop_table("billing_runs")
    with op.batch_alter_table("contract_instalments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_instalments_contract_id"))

    op.drop_table("contract_instalments")
