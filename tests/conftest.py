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
from sqlalchemy.orm import Session

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
SEEDED = pytest.StashKey[bool]()  # the test's SQLite database was copied seeded

BACKENDS = ["sqlite", "postgres"]


def missing(reason: str) -> None:
    """Skip for a missing external part, or fail under CI where everything must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may be skipped)")
    pytest.skip(reason)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the UI's catalogs (billing/translations) whose .mo is missing or older than its
    .po, as `make install` does: a test run straight from pytest sees the current translations.
    Once, in the controller: xdist's workers start after it."""
    if hasattr(session.config, "workerinput"):
        return
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).resolve().parents[1] / "billing" / "translations").glob(
        "*/LC_MESSAGES/messages.po"
    ):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parents[1].name)
        with mo.open("wb") as target:
            write_mo(target, catalog)


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
        if not tables:
            return
        # TRUNCATE costs per table, rows or none: empty only the tables that hold rows (a test
        # fills a dozen of the schema's tables), then restart every sequence, as RESTART
        # IDENTITY would have.
        probe = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")"  # noqa: S608 - catalog names
            for name in tables
        )
        filled = conn.execute(text(probe)).scalars().all()
        if (
            filled
            and conn.execute(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
        ):
            # DELETE, with the triggers (the audit log's refusal, the foreign keys) off for this
            # transaction: a few hundred rows go in milliseconds, where TRUNCATE rewrites files.
            # Switching them off takes a superuser, as the tests' role is on CI.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for name in filled:
                conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 - catalog names
        elif filled:
            quoted = ", ".join(f'"{name}"' for name in filled)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        conn.execute(
            text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c "
                "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
            )
        )


@pytest.fixture(scope="session")
def sqlite_seeded(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The migrated SQLite database seeded once per seed at START, for each test to copy."""
    templates: dict[str, Path] = {}
    for seed in ("demo", "reference"):
        path = tmp_path_factory.mktemp("sqlite") / f"{seed}.db"
        shutil.copyfile(sqlite_template, path)
        db = make_test_app(f"sqlite:///{path}", FrozenClock(START)).extensions["billing.db"]
        with db.transaction() as session:
            _seed(session, seed, START)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        templates[seed] = path
    return templates


def _seed(session: Session, seed: str, now: datetime) -> None:
    if seed == "demo":
        seed_demo(session, now=now, hash_method=FAST_HASH)
    elif seed == "reference":
        seed_reference(session)
    else:
        raise ValueError(f"unknown seed {seed!r}: demo or reference")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, seed: str, clock: FrozenClock
) -> str:
    if backend == "sqlite":
        # Seeded already when the test's clock still reads START (the app fixture then skips
        # seeding); else migrated only, and the app fixture seeds at the clock's time.
        seeded = clock.now() == START and seed in ("demo", "reference")
        template = (
            request.getfixturevalue("sqlite_seeded")[seed]
            if seeded
            else request.getfixturevalue("sqlite_template")
        )
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        request.node.stash[SEEDED] = seeded
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
            # The API's per-key limit is out of the way but for the tests of the limit itself.
            "API_RATE_LIMIT": "100000 per minute",
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
def app(
    database_url: str, backend: str, clock: FrozenClock, seed: str, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    app = make_test_app(database_url, clock)
    db: Database = app.extensions["billing.db"]
    if backend == "postgres":
        _truncate_all(db)
    if not request.node.stash.get(SEEDED, False):
        with db.transaction() as session:
            _seed(session, seed, clock.now())
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
