"""Fixtures: a fresh app and database per test, on SQLite and on PostgreSQL.

Every database-backed test runs once per backend (the `backend` parameter). The schema is made by
the Alembic migrations once per run; each test then starts from a clean, seeded database:
SQLite copies a migrated template file, PostgreSQL truncates every table.

Without TEST_DATABASE_URL (PostgreSQL) or /usr/bin/chromium, the tests that need them are skipped
with a reason that says so; under CI (CI=true) they fail instead, so nothing is skipped silently.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from billing import create_app
from billing.clock import FrozenClock
from billing.db import Database, normalise_url, upgrade
from billing.seed import seed_demo, seed_reference
from tests.helpers import FAST_HASH

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "caspian-demo-2026"
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

BACKENDS = ["sqlite", "postgres"]


def missing(reason: str) -> None:
    """Skip for a missing external part, or fail under CI where everything must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may be skipped)")
    pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"PostgreSQL: {'TEST_DATABASE_URL set' if PG_URL else 'not configured: its tests skip'}",
        f"Chromium: {'found' if Path(CHROMIUM).exists() else 'not found: browser tests skip'}",
    ]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """A database of this run's own beside TEST_DATABASE_URL, migrated to head, dropped at the end.

    Its own, so that two test runs on one server never see each other's rows.
    """
    if not PG_URL:
        missing("PostgreSQL is not configured: set TEST_DATABASE_URL")
    url = pg_database_url(f"run{os.getpid()}")
    upgrade(url)
    yield url
    drop_pg_database(url)


def _truncate_all(db: Database) -> None:
    with db.engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("postgres_migrated"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def make_test_app(database_url: str, clock: FrozenClock, **extra: Any) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "BILLING_ENV": "test",
            "SECRET_KEY": "test-secret",
            "SESSION_COOKIE_SECURE": False,
            "CLOCK": clock,
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )


@pytest.fixture
def seed() -> str:
    """What each test's database starts with: "demo" (`flask seed demo`: reference data, demo
    customers, the 2026 price book, demo users) or "reference" (parties, the cable system and the
    products only; the test builds the rest with tests/factories.py). A module that builds its own
    world overrides this fixture to return "reference"."""
    return "demo"


@pytest.fixture
def app(database_url: str, backend: str, clock: FrozenClock, seed: str) -> Iterator[Flask]:
    app = make_test_app(database_url, clock)
    db: Database = app.extensions["billing.db"]
    if backend == "postgres":
        _truncate_all(db)
    with db.transaction() as session:
        if seed == "demo":
            seed_demo(session, now=clock.now(), hash_method=FAST_HASH)
        elif seed == "reference":
            seed_reference(session)
        else:
            raise ValueError(f"unknown seed {seed!r}: demo or reference")
    yield app
    db.dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    return app.extensions["billing.db"]  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def pg_database_url(name_suffix: str) -> str:
    """A sibling database of TEST_DATABASE_URL, created empty (for migration tests)."""
    url = make_url(normalise_url(PG_URL))
    name = f"{url.database}_{name_suffix}"
    if not name_suffix.startswith("run"):
        name = f"{name}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(
        parsed.set(database=make_url(normalise_url(PG_URL)).database), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()
