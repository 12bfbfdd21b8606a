"""The `flask …` commands an operator runs (SPEC 11), against the test database."""

from __future__ import annotations

import re

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

import billing.models  # noqa: F401 - registers every table on the metadata
from billing.access.models import ApiKey, User
from billing.access.services import authenticate
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Base, Database
from billing.inventory.models import FiberPair, LandingStation, Product, Route, Segment
from billing.parties.models import Party
from tests.helpers import api_error, bearer, customer_id

SILK = "Silk Route Carrier GmbH"
NEW_PASSWORD = "a-long-enough-password"
_SECRET = re.compile(r"\btcf_[A-Za-z0-9_-]{20,}")


def run(app: Flask, *args: str, input: str | None = None) -> Result:
    return app.test_cli_runner().invoke(args=list(args), input=input)


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every table but the audit log, which records each run by design."""
    return {
        table.name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
        for table in Base.metadata.sorted_tables
        if table.name != AuditEntry.__tablename__
    }


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


# --- seed and db ----------------------------------------------------------------------------


def test_seed_demo_twice_is_harmless(app: Flask, db: Database) -> None:
    # The year of history is seeded twice in tests/integration/test_seed_dates.py.
    first = run(app, "seed", "demo", "--no-history")
    assert first.exit_code == 0, first.output
    with db.transaction() as s:
        after_first = row_counts(s)
    second = run(app, "seed", "demo", "--no-history")
    assert second.exit_code == 0, second.output
    assert "0 users" in second.output
    with db.transaction() as s:
        assert row_counts(s) == after_first
    # The cable system of SPEC 1, once.
    assert {
        model.__tablename__: after_first[model.__tablename__]
        for model in (Party, LandingStation, Route, Segment, FiberPair, Product)
    } == {
        "parties": 2,
        "landing_stations": 4,
        "routes": 2,
        "segments": 2,
        "fiber_pairs": 8,
        "products": 6,
    }
    assert after_first["users"] >= 1


def test_db_upgrade_on_a_migrated_database_changes_nothing(app: Flask, db: Database) -> None:
    with db.transaction() as s:
        counts = row_counts(s)
        tables = sorted(inspect(s.connection()).get_table_names())
    result = run(app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "head" in result.output
    with db.transaction() as s:
        assert row_counts(s) == counts
        assert sorted(inspect(s.connection()).get_table_names()) == tables


# --- users ----------------------------------------------------------------------------------


def test_users_create_makes_a_user_who_can_log_in(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    result = run(
        app,
        "users",
        "create",
        "--email",
        "Billing.Lead@AzerTelecom.az",
        "--name",
        "Billing Lead",
        "--role",
        "finance",
        "--party",
        "azt",
        "--password",
        NEW_PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert "billing.lead@azertelecom.az created" in result.output
    with db.transaction() as s:
        user = authenticate(s, "billing.lead@azertelecom.az", NEW_PASSWORD, now=clock.now())
        assert user is not None
        assert (user.name, user.role, user.party.code) == ("Billing Lead", "finance", "AZT")
        wrong = authenticate(s, "billing.lead@azertelecom.az", "wrong-password!", now=clock.now())
        assert wrong is None


def test_users_create_prompts_for_the_password_twice(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    result = run(
        app,
        "users",
        "create",
        "--email",
        "ops@kazakhtelecom.kz",
        "--role",
        "sales",
        "--party",
        "KTC",
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    with db.transaction() as s:
        user = authenticate(s, "ops@kazakhtelecom.kz", NEW_PASSWORD, now=clock.now())
        assert user is not None
        assert user.party.code == "KTC"


@pytest.mark.parametrize(
    ("email", "password", "party", "message"),
    [
        ("new@azertelecom.az", "short", "AZT", "at least 10 characters"),
        ("new@azertelecom.az", NEW_PASSWORD, "XYZ", "unknown party 'XYZ'"),
        ("sales@azertelecom.az", NEW_PASSWORD, "AZT", "already exists"),
        ("SALES@azertelecom.az", NEW_PASSWORD, "AZT", "already exists"),
        ("not-an-email", NEW_PASSWORD, "AZT", "not an email address"),
    ],
    ids=["short-password", "unknown-party", "duplicate-email", "duplicate-email-case", "bad-email"],
)
def test_users_create_refuses_bad_input_and_writes_nothing(
    app: Flask, db: Database, email: str, password: str, party: str, message: str
) -> None:
    users, audit = _count(db, User), _count(db, AuditEntry)
    result = run(
        app,
        "users",
        "create",
        "--email",
        email,
        "--role",
        "sales",
        "--party",
        party,
        "--password",
        password,
    )
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert (_count(db, User), _count(db, AuditEntry)) == (users, audit)


def test_users_create_refuses_an_unknown_role(app: Flask, db: Database) -> None:
    users = _count(db, User)
    result = run(
        app,
        "users",
        "create",
        "--email",
        "new@azertelecom.az",
        "--role",
        "superuser",
        "--party",
        "AZT",
        "--password",
        NEW_PASSWORD,
    )
    assert result.exit_code != 0
    assert "superuser" in result.output
    assert _count(db, User) == users


# --- api keys -------------------------------------------------------------------------------


def _create_key(app: Flask, customer: str) -> tuple[int, str, str]:
    """Run `api-keys create`; returns the key's id, the secret it printed, and the output."""
    result = run(app, "api-keys", "create", "--customer", customer, "--name", "NOC scripts")
    assert result.exit_code == 0, result.output
    secrets = _SECRET.findall(result.output)
    assert len(secrets) == 1, result.output
    match = re.search(r"API key (\d+)", result.output)
    assert match, result.output
    return int(match.group(1)), secrets[0], result.output


@pytest.mark.parametrize("by", ["id", "legal name"])
def test_api_keys_create_prints_a_key_that_works(app: Flask, db: Database, by: str) -> None:
    silk = customer_id(db, SILK)
    _, secret, _ = _create_key(app, str(silk) if by == "id" else SILK)
    response = app.test_client().get("/api/v1/routes", headers=bearer(secret))
    assert response.status_code == 200, response.text
    with db.transaction() as s:
        key = s.execute(select(ApiKey)).scalar_one()
        assert (key.customer_id, key.name) == (silk, "NOC scripts")


@pytest.mark.parametrize("customer", ["999999", "No Such Carrier Ltd"])
def test_api_keys_create_refuses_an_unknown_customer(
    app: Flask, db: Database, customer: str
) -> None:
    result = run(app, "api-keys", "create", "--customer", customer)
    assert result.exit_code != 0
    assert "customer" in result.output
    assert not _SECRET.search(result.output)
    assert _count(db, ApiKey) == 0


def test_api_keys_revoke_makes_the_key_answer_401(app: Flask, db: Database) -> None:
    key_id, secret, _ = _create_key(app, SILK)
    client = app.test_client()
    assert client.get("/api/v1/routes", headers=bearer(secret)).status_code == 200
    result = run(app, "api-keys", "revoke", str(key_id))
    assert result.exit_code == 0, result.output
    assert f"API key {key_id} revoked" in result.output
    api_error(client.get("/api/v1/routes", headers=bearer(secret)), 401)


@pytest.mark.parametrize("key_id", [str(2**31), str(2**63), "9" * 400, "0"])
def test_api_keys_revoke_refuses_an_id_no_column_holds_in_one_line(app: Flask, key_id: str) -> None:
    result = run(app, "api-keys", "revoke", key_id)
    assert result.exit_code == 2
    assert "Invalid value for 'KEY_ID'" in result.output
    assert "Traceback" not in result.output


def test_api_keys_revoke_refuses_an_unknown_key(app: Flask) -> None:
    result = run(app, "api-keys", "revoke", "4242")
    assert result.exit_code != 0
    assert "no API key 4242" in result.output


def test_api_keys_list_shows_each_key_but_never_its_secret(app: Flask, db: Database) -> None:
    first_id, first_secret, _ = _create_key(app, SILK)
    second_id, second_secret, _ = _create_key(app, str(customer_id(db, "Caspian Transit LLP")))
    # A key's use is recorded once the answer has been sent: when the response is closed.
    app.test_client().get("/api/v1/routes", headers=bearer(first_secret)).close()
    assert run(app, "api-keys", "revoke", str(second_id)).exit_code == 0

    result = run(app, "api-keys", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(first_id), str(second_id)]
    assert "active" in lines[0] and "last used never" not in lines[0]
    assert "revoked" in lines[1] and "last used never" in lines[1]
    for secret in (first_secret, second_secret):
        assert secret not in result.output
    assert not _SECRET.search(result.output)
