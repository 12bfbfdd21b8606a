"""own use and early termination: what a reservation is for, and what ending a lease early owes

Spectrum is allocated only by a contract, or as the operators' own use with a reason and no
customer (SPEC 2). A lease ended before its term owes its price-book entry's early-termination
percent of the remaining months' MRC (SPEC 3): the rate is copied onto quote lines and services,
and the charge is recorded for billing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Columns with their CHECKs in one ALTER TABLE, the same SQL on both databases: SQLite would
# otherwise rebuild the table to add a constraint, which fails while other tables' rows point at
# it (foreign keys are on, and cannot be switched off inside the migration's transaction).
_CHECKED_COLUMNS = (
    (
        "spectrum_reservations",
        "kind",
        "VARCHAR(16) DEFAULT 'sale' NOT NULL",
        "ck_spectrum_reservations_kind_valid",
        "kind IN ('sale', 'own_use')",
    ),
    (
        "spectrum_reservations",
        "reason",
        "TEXT",
        "ck_spectrum_reservations_own_use_reason_no_customer",
        "kind <> 'own_use' OR (reason IS NOT NULL AND reason <> '' AND customer_id IS NULL)",
    ),
    (
        "price_book_entries",
        "early_termination_percent",
        "NUMERIC(6, 3) DEFAULT 100 NOT NULL",
        "ck_price_book_entries_early_termination_range",
        "early_termination_percent >= 0 AND early_termination_percent <= 100",
    ),
)


def upgrade() -> None:
    for table, column, type_, check, condition in _CHECKED_COLUMNS:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} {type_} "
            f"CONSTRAINT {check} CHECK ({condition})"
        )
    # Lines and services sold before this revision take the rate their entries now carry (100%).
    for table in ("quote_lines", "services"):
        op.add_column(
            table,
            sa.Column("early_termination_percent", sa.Numeric(precision=6, scale=3), nullable=True),
        )
        rows = sa.table(
            table,
            sa.column("model", sa.String),
            sa.column("early_termination_percent", sa.Numeric),
        )
        op.execute(
            rows.update().where(rows.c.model == "lease").values(early_termination_percent=100)
        )

    op.create_table(
        "early_termination_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("term_end_date", sa.Date(), nullable=False),
        sa.Column("months_remaining", sa.Integer(), nullable=False),
        sa.Column("mrc", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("rate_percent", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("waived_at", billing.db.UTCDateTime(), nullable=True),
        sa.Column("waived_by", sa.String(length=200), nullable=True),
        sa.Column("waive_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "months_remaining > 0", name=op.f("ck_early_termination_charges_months_positive")
        ),
        sa.CheckConstraint(
            "amount >= 0", name=op.f("ck_early_termination_charges_amount_nonnegative")
        ),
        sa.CheckConstraint(
            "waived_at IS NULL OR (waive_reason IS NOT NULL AND waive_reason <> '' "
            "AND waived_by IS NOT NULL)",
            name=op.f("ck_early_termination_charges_waiver_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_early_termination_charges_service_id_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_termination_charges")),
        sa.UniqueConstraint("service_id", name=op.f("uq_early_termination_charges_service_id")),
    )


def downgrade() -> None:
    op.drop_table("early_termination_charges")
    for table in ("services", "quote_lines"):
        op.drop_column(table, "early_termination_percent")
    # A column's own CHECK goes with it; the later columns first (their CHECKs name the earlier).
    for table, column, *_ in reversed(_CHECKED_COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
