"""Alembic migrations on both databases (SPEC 11): up, down, up again, and no drift from the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

import billing.models  # noqa: F401 - registers every table on the metadata
from billing.db import (
    Base,
    alembic_config,
    downgrade,
    is_application_object,
    make_engine,
    upgrade,
)
from tests.conftest import BACKENDS, PG_URL, drop_pg_database, missing, pg_database_url

# Every schema object a migration can leave behind, not only tables: a downgrade that forgets a
# trigger, function, sequence or type makes the next upgrade fail or keeps a stale rule alive.
_POSTGRES_OBJECTS = """
    SELECT 'table', tablename FROM pg_tables WHERE schemaname = 'public'
    UNION ALL SELECT 'index', indexname FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'constraint', c.conname FROM pg_constraint c
        JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
    UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'sequence', sequencename FROM pg_sequences WHERE schemaname = 'public'
    UNION ALL SELECT 'function', p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND NOT EXISTS (
            SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    UNION ALL SELECT 'type', t.typname FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm') AND NOT EXISTS (
            SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
"""
_SQLITE_OBJECTS = "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    if not PG_URL:
        missing("PostgreSQL is not configured: set TEST_DATABASE_URL")
    url = pg_database_url("mig")
    try:
        yield url
    finally:
        drop_pg_database(url)


def _objects(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url, pool=False)
    try:
        with engine.connect() as conn:
            sql = _POSTGRES_OBJECTS if conn.dialect.name == "postgresql" else _SQLITE_OBJECTS
            return sorted((str(kind), str(name)) for kind, name in conn.execute(text(sql)))
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url, pool=False)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_leaves_the_same_schema(empty_database: str) -> None:
    url = empty_database
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()

    upgrade(url)
    migrated = _objects(url)
    tables = {name for kind, name in migrated if kind == "table"}
    # The job queue's tables (migration 0016) are Procrastinate's, on PostgreSQL only.
    queue = {"procrastinate_jobs", "procrastinate_events", "procrastinate_periodic_defers"}
    queue |= {"procrastinate_workers"}
    expected = set(Base.metadata.tables) | {"alembic_version"}
    assert tables == (expected | queue if url.startswith("postgresql") else expected)
    assert _revision(url) == head

    downgrade(url, "base")
    leftovers = _objects(url)
    assert ("table", "alembic_version") in leftovers
    assert [o for o in leftovers if "alembic_version" not in o[1]] == []
    assert _revision(url) is None

    upgrade(url)
    assert _objects(url) == migrated
    assert _revision(url) == head


def test_the_migrated_schema_matches_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database, pool=False)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(
                MigrationContext.configure(conn, opts={"include_object": is_application_object}),
                Base.metadata,
            )
    finally:
        engine.dispose()
    assert differences == [], "models and migrations differ: write a migration"


def test_an_agreement_version_recorded_before_settlement_terms_gets_30_days(
    empty_database: str,
) -> None:
    """0014 adds the settlement terms to the agreement versions already recorded: 30 days."""
    upgrade(empty_database, "0013")
    engine = make_engine(empty_database, pool=False)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO agreement_versions (name, effective_from, commission_percent, "
                    "commission_kinds, whole_kinds, created_at, created_by) VALUES "
                    "('Old', '2026-01-01', 5, 'mrc', 'nrc', '2026-01-01 00:00:00', 'x')"
                )
            )
        upgrade(empty_database)
        with engine.connect() as conn:
            days = conn.execute(text("SELECT settlement_terms_days FROM agreement_versions"))
            assert days.scalar_one() == 30
    finally:
        engine.dispose()


def _insert_azt(conn: Connection) -> None:
    """AZT as the first migrations knew a party (a customer's owner)."""
    conn.execute(
        text(
            "INSERT INTO parties (id, code, legal_name, country, local_currency, "
            "document_prefix, address, tax_id, bank_details, listing_order, time_zone) "
            "VALUES (1, 'AZT', 'AzerTelecom LLC', 'AZ', 'AZN', 'AZT', '', '', '', 1, "
            "'Asia/Baku')"
        )
    )


def test_each_customers_contact_email_becomes_its_first_billing_contact(
    empty_database: str,
) -> None:
    """0021 turns a customer's contact_email into a billing contact (named as the customer, in
    English, receiving every document); a customer without one gets none."""
    upgrade(empty_database, "0020")
    engine = make_engine(empty_database, pool=False)
    try:
        with engine.begin() as conn:
            _insert_azt(conn)
            for id_, name, email in ((1, "Has Mail", "ap@has.example"), (2, "No Mail", "  ")):
                conn.execute(
                    text(
                        "INSERT INTO customers (id, legal_name, country, tax_id, billing_address, "
                        "billing_currency, payment_terms_days, owner_party_id, contact_name, "
                        "contact_email, contact_phone, created_at) VALUES (:id, :name, 'DE', '', "
                        "'', 'USD', 30, 1, '', :email, '', '2026-01-01 00:00:00')"
                    ),
                    {"id": id_, "name": name, "email": email},
                )
        upgrade(empty_database)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT customer_id, name, email, language, invoices, credit_notes, "
                    "reminders FROM billing_contacts"
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            (1, "Has Mail", "ap@has.example", "en", True, True, True)
        ]
    finally:
        engine.dispose()


def test_issued_invoices_get_their_customers_terms_currency_and_contracts(
    empty_database: str,
) -> None:
    """0025 records on documents already issued the customer's payment terms and billing
    currency and the contracts their lines' services belong to; drafts take theirs at issue, and
    no document gets a billing contact it may not have had."""
    upgrade(empty_database, "0024")
    engine = make_engine(empty_database, pool=False)
    rows = {
        "parties": "(id, code, legal_name, country, local_currency, document_prefix, address, "
        "tax_id, bank_details, listing_order, time_zone) VALUES (1, 'AZT', 'AzerTelecom LLC', "
        "'AZ', 'AZN', 'AZT', '', '', '', 1, 'Asia/Baku')",
        "customers": "(id, legal_name, country, tax_id, billing_address, billing_currency, "
        "payment_terms_days, owner_party_id, contact_name, contact_email, contact_phone, "
        "created_at) VALUES (1, 'Carrier', 'DE', '', '', 'EUR', 45, 1, '', '', '', "
        "'2026-01-01 00:00:00')",
        # The quotes, products and spectrum behind them are left out: foreign keys are off.
        "contracts": "(id, number, quote_id, customer_id, party_id, signed_at, created_by) "
        "VALUES (1, 'C-2026-0012', 1, 1, 1, '2026-01-01 00:00:00', 'x'), (2, 'C-2026-0003', 2, "
        "1, 1, '2026-01-01 00:00:00', 'x')",
        "services": "(id, circuit_id, contract_id, customer_id, quote_line_id, product_id, "
        "reservation_id, protection, model, term_months, currency, state, created_at) VALUES "
        + ", ".join(
            f"({n}, 'CKT-{n}', {contract}, 1, {n}, 1, {n}, 'unprotected', 'lease', 12, 'USD', "
            "'active', '2026-01-01 00:00:00')"
            for n, contract in ((1, 1), (2, 2), (3, 1))
        ),
        "invoices": "(id, kind, number, status, issuer_party_id, customer_id, currency, "
        "period_start, issue_date, subtotal, tax_total, total, credited_total, paid_total, "
        "purchase_orders, issuer_details, customer_details, reason, created_at) VALUES "
        "(1, 'invoice', 'AZT-INV-2026-000001', 'issued', 1, 1, 'USD', '2026-11-01', "
        "'2026-12-01', 0, 0, 0, 0, 0, '', '', '', '', '2026-12-01 00:00:00'), "
        "(2, 'invoice', NULL, 'draft', 1, 1, 'USD', '2026-11-01', NULL, 0, 0, 0, 0, 0, '', '', "
        "'', '', '2026-12-01 00:00:00'), "
        "(3, 'invoice', 'AZT-INV-2026-000002', 'paid', 1, 1, 'USD', '2026-11-01', "
        "'2026-12-01', 0, 0, 0, 0, 0, '', '', '', '', '2026-12-01 00:00:00')",
        "invoice_lines": "(invoice_id, position, service_id, circuit_id, period_start, "
        "period_end, description, quantity, price_amount, price_currency, edited_note) VALUES "
        + ", ".join(
            f"({invoice}, {position}, {service}, '', '2026-11-01', '2026-11-30', 'x', 1, 1, "
            "'USD', '')"
            for invoice, position, service in ((1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 1, 1))
        )
        + ", (3, 1, NULL, '', '2026-11-01', '2026-11-30', 'one-off', 1, 1, 'USD', '')",
    }
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # Outside a transaction, where SQLite takes the pragma.
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                for table, values in rows.items():
                    conn.execute(text(f"INSERT INTO {table} {values}"))  # noqa: S608 - literals above
        upgrade(empty_database)
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT id, payment_terms_days, account_currency, contract_numbers, "
                    "billing_contact_email FROM invoices ORDER BY id"
                )
            ).all()
        assert [tuple(row) for row in found] == [
            (1, 45, "EUR", "C-2026-0003\nC-2026-0012", None),
            (2, None, None, None, None),
            (3, 45, "EUR", None, None),
        ]
    finally:
        engine.dispose()


def test_customers_get_an_invoice_language_from_their_country_even_with_contacts(
    empty_database: str,
) -> None:
    """0030 gives Azerbaijani customers Azerbaijani invoices, Kazakh ones Russian and the others
    English, and alters the customers table on SQLite (a copy and a drop) even while billing
    contacts refer to its rows."""
    upgrade(empty_database, "0029")
    engine = make_engine(empty_database, pool=False)
    try:
        with engine.begin() as conn:
            _insert_azt(conn)
            for id_, country in ((1, "AZ"), (2, "KZ"), (3, "DE")):
                conn.execute(
                    text(
                        "INSERT INTO customers (id, legal_name, country, tax_id, billing_address, "
                        "billing_currency, payment_terms_days, owner_party_id, contact_name, "
                        "contact_email, contact_phone, created_at) VALUES (:id, :name, :country, "
                        "'', '', 'USD', 30, 1, '', '', '', '2026-01-01 00:00:00')"
                    ),
                    {"id": id_, "name": f"Customer {id_}", "country": country},
                )
                conn.execute(
                    text(
                        "INSERT INTO billing_contacts (customer_id, name, email, language, "
                        "invoices, credit_notes, reminders, created_at, updated_at) VALUES "
                        "(:id, 'AP', 'ap@example.com', 'en', true, true, true, "
                        "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                    ),
                    {"id": id_},
                )
        upgrade(empty_database)
        with engine.connect() as conn:
            languages = conn.execute(
                text("SELECT country, invoice_language FROM customers ORDER BY id")
            ).all()
            contacts = conn.execute(text("SELECT count(*) FROM billing_contacts")).scalar_one()
        assert [tuple(row) for row in languages] == [("AZ", "az"), ("KZ", "ru"), ("DE", "en")]
        assert contacts == 3
    finally:
        engine.dispose()
