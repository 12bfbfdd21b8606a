"""sales: price book, quotes, contracts, services

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:59:48.210867
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_book_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("max_discount_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "max_discount_percent >= 0 AND max_discount_percent <= 100",
            name=op.f("ck_price_book_versions_discount_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_book_versions")),
        sa.UniqueConstraint("effective_from", name=op.f("uq_price_book_versions_effective_from")),
    )
    op.create_table(
        "sequences",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sequences")),
    )
    op.create_table(
        "price_book_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("protection", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("term_min_months", sa.Integer(), nullable=False),
        sa.Column("term_max_months", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("mrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("nrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("iru_fee", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("om_rate_percent", sa.Numeric(precision=6, scale=3), nullable=True),
        sa.CheckConstraint(
            "(model = 'lease' AND mrc IS NOT NULL AND nrc IS NOT NULL) OR (model = 'iru' AND iru_fee IS NOT NULL AND om_rate_percent IS NOT NULL)",
            name=op.f("ck_price_book_entries_prices_for_model"),
        ),
        sa.CheckConstraint(
            "model IN ('lease', 'iru')", name=op.f("ck_price_book_entries_model_valid")
        ),
        sa.CheckConstraint(
            "protection IN ('unprotected', 'protected')",
            name=op.f("ck_price_book_entries_protection_valid"),
        ),
        sa.CheckConstraint(
            "unit IN ('circuit', 'slot')", name=op.f("ck_price_book_entries_unit_valid")
        ),
        sa.CheckConstraint(
            "term_min_months <= term_max_months", name=op.f("ck_price_book_entries_band_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_price_book_entries_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["price_book_versions.id"],
            name=op.f("fk_price_book_entries_version_id_price_book_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_book_entries")),
        sa.UniqueConstraint(
            "version_id",
            "product_id",
            "protection",
            "model",
            "term_min_months",
            name="uq_price_book_entries_band",
        ),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_idempotency_keys_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("customer_id", "key", name="uq_idempotency_keys_customer_key"),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("price_book_version_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("valid_until", billing.db.UTCDateTime(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("accepted_at", billing.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'accepted', 'cancelled')", name=op.f("ck_quotes_state_valid")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_quotes_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_quotes_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["price_book_version_id"],
            ["price_book_versions.id"],
            name=op.f("fk_quotes_price_book_version_id_price_book_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
        sa.UniqueConstraint("number", name=op.f("uq_quotes_number")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quotes_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contracts_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_contracts_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name=op.f("fk_contracts_quote_id_quotes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("number", name=op.f("uq_contracts_number")),
        sa.UniqueConstraint("quote_id", name=op.f("uq_contracts_quote_id")),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contracts_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "quote_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("protection", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("width_ghz", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.Column("width_slots", sa.Integer(), nullable=False),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("price_book_entry_id", sa.Integer(), nullable=False),
        sa.Column("list_mrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("list_nrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("list_iru_fee", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("mrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("nrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("iru_fee", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("om_rate_percent", sa.Numeric(precision=6, scale=3), nullable=True),
        sa.CheckConstraint("model IN ('lease', 'iru')", name=op.f("ck_quote_lines_model_valid")),
        sa.CheckConstraint(
            "discount_percent >= 0 AND discount_percent <= 100",
            name=op.f("ck_quote_lines_discount_range"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_quote_lines_quantity_positive")),
        sa.CheckConstraint("term_months > 0", name=op.f("ck_quote_lines_term_positive")),
        sa.ForeignKeyConstraint(
            ["price_book_entry_id"],
            ["price_book_entries.id"],
            name=op.f("fk_quote_lines_price_book_entry_id_price_book_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_quote_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name=op.f("fk_quote_lines_quote_id_quotes")
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=op.f("fk_quote_lines_route_id_routes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_lines")),
    )
    with op.batch_alter_table("quote_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quote_lines_quote_id"), ["quote_id"], unique=False)

    op.create_table(
        "quote_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quote_line_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["quote_line_id"],
            ["quote_lines.id"],
            name=op.f("fk_quote_holds_quote_line_id_quote_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["spectrum_reservations.id"],
            name=op.f("fk_quote_holds_reservation_id_spectrum_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_holds")),
        sa.UniqueConstraint("quote_line_id", "unit", name="uq_quote_holds_line_unit"),
        sa.UniqueConstraint("reservation_id", name=op.f("uq_quote_holds_reservation_id")),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("circuit_id", sa.String(length=32), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("quote_line_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("protection", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("mrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("nrc", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("iru_fee", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("om_rate_percent", sa.Numeric(precision=6, scale=3), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("ready_for_service_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'active', 'suspended', 'terminated')",
            name=op.f("ck_services_state_valid"),
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR ready_for_service_date IS NULL OR end_date >= ready_for_service_date",
            name=op.f("ck_services_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_services_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_services_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_services_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["quote_line_id"],
            ["quote_lines.id"],
            name=op.f("fk_services_quote_line_id_quote_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["spectrum_reservations.id"],
            name=op.f("fk_services_reservation_id_spectrum_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("circuit_id", name=op.f("uq_services_circuit_id")),
        sa.UniqueConstraint("reservation_id", name=op.f("uq_services_reservation_id")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "service_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=True),
        sa.Column("to_state", sa.String(length=12), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_events_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_events")),
    )
    with op.batch_alter_table("service_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_events_service_id"), ["service_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_events_service_id"))

    op.drop_table("service_events")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_customer_id"))
        batch_op.drop_index(batch_op.f("ix_services_contract_id"))

    op.drop_table("services")
    op.drop_table("quote_holds")
    with op.batch_alter_table("quote_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quote_lines_quote_id"))

    op.drop_table("quote_lines")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_customer_id"))

    op.drop_table("contracts")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quotes_customer_id"))

    op.drop_table("quotes")
    op.drop_table("idempotency_keys")
    op.drop_table("price_book_entries")
    op.drop_table("sequences")
    op.drop_table("price_book_versions")
