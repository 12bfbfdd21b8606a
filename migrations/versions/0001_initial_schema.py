"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 21:51:42.502088
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import billing.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_log_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "landing_stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_landing_stations")),
        sa.UniqueConstraint("code", name=op.f("uq_landing_stations_code")),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("local_currency", sa.String(length=3), nullable=False),
        sa.Column("document_prefix", sa.String(length=8), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("tax_id", sa.String(length=64), nullable=False),
        sa.Column("bank_details", sa.Text(), nullable=False),
        sa.Column("listing_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("code", name=op.f("uq_parties_code")),
        sa.UniqueConstraint("document_prefix", name=op.f("uq_parties_document_prefix")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("width_ghz", sa.Numeric(precision=8, scale=3), nullable=True),
        sa.Column("circuit_prefix", sa.String(length=4), nullable=False),
        sa.Column("lease_allowed", sa.Boolean(), nullable=False),
        sa.Column("iru_allowed", sa.Boolean(), nullable=False),
        sa.Column("listing_order", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'wavelength' AND width_ghz IS NOT NULL) OR kind <> 'wavelength'",
            name=op.f("ck_products_wavelength_has_width"),
        ),
        sa.CheckConstraint(
            "kind IN ('wavelength', 'spectrum', 'fiber_pair')", name=op.f("ck_products_kind_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_table(
        "routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("protection_route_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["protection_route_id"],
            ["routes.id"],
            name=op.f("fk_routes_protection_route_id_routes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
        sa.UniqueConstraint("code", name=op.f("uq_routes_code")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tax_id", sa.String(length=64), nullable=False),
        sa.Column("billing_address", sa.Text(), nullable=False),
        sa.Column("billing_currency", sa.String(length=3), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("owner_party_id", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=64), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "billing_currency IN ('USD', 'AZN', 'KZT', 'EUR')",
            name=op.f("ck_customers_currency_valid"),
        ),
        sa.CheckConstraint(
            "payment_terms_days BETWEEN 0 AND 365", name=op.f("ck_customers_payment_terms_range")
        ),
        sa.ForeignKeyConstraint(
            ["owner_party_id"], ["parties.id"], name=op.f("fk_customers_owner_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("a_station_id", sa.Integer(), nullable=False),
        sa.Column("b_station_id", sa.Integer(), nullable=False),
        sa.Column("length_km", sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("route_position", sa.Integer(), nullable=False),
        sa.CheckConstraint("length_km > 0", name=op.f("ck_segments_length_positive")),
        sa.ForeignKeyConstraint(
            ["a_station_id"],
            ["landing_stations.id"],
            name=op.f("fk_segments_a_station_id_landing_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["b_station_id"],
            ["landing_stations.id"],
            name=op.f("fk_segments_b_station_id_landing_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=op.f("fk_segments_route_id_routes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("code", name=op.f("uq_segments_code")),
        sa.UniqueConstraint("route_id", "route_position", name="uq_segments_route_position"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("last_login_at", billing.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'sales', 'finance')", name=op.f("ck_users_role_valid")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_users_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("last_used_at", billing.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", billing.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_api_keys_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "fiber_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("band_start_thz", sa.Numeric(precision=10, scale=5), nullable=False),
        sa.Column("slot_width_ghz", sa.Numeric(precision=8, scale=3), nullable=False),
        sa.Column("slot_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("slot_count > 0", name=op.f("ck_fiber_pairs_slot_count_positive")),
        sa.CheckConstraint("slot_width_ghz > 0", name=op.f("ck_fiber_pairs_slot_width_positive")),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_fiber_pairs_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fiber_pairs")),
        sa.UniqueConstraint("segment_id", "number", name="uq_fiber_pairs_segment_number"),
    )
    op.create_table(
        "spectrum_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("protection", sa.String(length=16), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("width_slots", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "protection IN ('unprotected', 'protected')",
            name=op.f("ck_spectrum_reservations_protection_valid"),
        ),
        sa.CheckConstraint("width_slots > 0", name=op.f("ck_spectrum_reservations_width_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_spectrum_reservations_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_spectrum_reservations_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=op.f("fk_spectrum_reservations_route_id_routes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spectrum_reservations")),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("fiber_pair_id", sa.Integer(), nullable=False),
        sa.Column("first_slot", sa.Integer(), nullable=False),
        sa.Column("end_slot", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("hold_expires_at", billing.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", billing.db.UTCDateTime(), nullable=False),
        sa.Column("allocated_at", billing.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", billing.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "state <> 'hold' OR hold_expires_at IS NOT NULL",
            name=op.f("ck_allocations_hold_has_expiry"),
        ),
        sa.CheckConstraint(
            "state IN ('hold', 'allocated', 'released', 'expired')",
            name=op.f("ck_allocations_state_valid"),
        ),
        sa.CheckConstraint("end_slot > first_slot", name=op.f("ck_allocations_range_not_empty")),
        sa.CheckConstraint("first_slot >= 0", name=op.f("ck_allocations_first_slot_nonnegative")),
        sa.ForeignKeyConstraint(
            ["fiber_pair_id"],
            ["fiber_pairs.id"],
            name=op.f("fk_allocations_fiber_pair_id_fiber_pairs"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["spectrum_reservations.id"],
            name=op.f("fk_allocations_reservation_id_spectrum_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_pair_live", ["fiber_pair_id", "state"], unique=False)

    _create_invariants()


def downgrade() -> None:
    _drop_invariants()
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_pair_live")

    op.drop_table("allocations")
    op.drop_table("spectrum_reservations")
    op.drop_table("fiber_pairs")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("segments")
    op.drop_table("customers")
    op.drop_table("routes")
    op.drop_table("products")
    op.drop_table("parties")
    op.drop_table("landing_stations")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_entity")
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")


# The invariants the database itself keeps (hand-written: autogenerate does not see them).

_SQLITE_OVERLAP_CHECK = """
    SELECT RAISE(ABORT, 'spectrum_overlap: slots already taken on this fiber pair')
    WHERE NEW.state IN ('hold', 'allocated') AND EXISTS (
        SELECT 1 FROM allocations a
        WHERE a.fiber_pair_id = NEW.fiber_pair_id
          AND a.id IS NOT NEW.id
          AND a.state IN ('hold', 'allocated')
          AND a.first_slot < NEW.end_slot
          AND NEW.first_slot < a.end_slot
    );
"""


def _create_invariants() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        # No two live allocations overlap on one fiber pair. Expired holds are flipped to
        # 'expired' by the write path before it inserts, so the predicate stays immutable.
        op.execute(
            "ALTER TABLE allocations ADD CONSTRAINT ex_allocations_no_overlap "
            "EXCLUDE USING gist (fiber_pair_id WITH =, int4range(first_slot, end_slot) WITH &&) "
            "WHERE (state IN ('hold', 'allocated'))"
        )
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    elif bind.dialect.name == "sqlite":
        # SQLite has one writer at a time, so a check in a trigger is as strong as a constraint.
        op.execute(
            "CREATE TRIGGER allocations_no_overlap_insert BEFORE INSERT ON allocations "
            "BEGIN" + _SQLITE_OVERLAP_CHECK + "END"
        )
        op.execute(
            "CREATE TRIGGER allocations_no_overlap_update "
            "BEFORE UPDATE OF state, first_slot, end_slot, fiber_pair_id ON allocations "
            "BEGIN" + _SQLITE_OVERLAP_CHECK + "END"
        )
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def _drop_invariants() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
        op.execute("ALTER TABLE allocations DROP CONSTRAINT IF EXISTS ex_allocations_no_overlap")
    elif bind.dialect.name == "sqlite":
        for name in (
            "allocations_no_overlap_insert",
            "allocations_no_overlap_update",
            "audit_log_no_update",
            "audit_log_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
