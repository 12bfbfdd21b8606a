"""A failed `flask …` command says why in one line on stderr, what to do, and exits non-zero; no
traceback unless `flask --debug` asks for one (SPEC 11, issue 15 "Errors for people").

Real `flask` processes against a closed port, an empty SQLite file and an empty PostgreSQL
database; the deadlock is a real one between two PostgreSQL connections."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from billing.cli_errors import explain, guard
from billing.db import make_engine
from tests.conftest import drop_pg_database, pg_database_url

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
CLOSED = "postgresql://billing:s3cr3t-pw@127.0.0.1:1/billing"  # nothing listens on port 1


def flask(
    *args: str, database_url: str, environment: str = "development", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_") and k != "SECRET_KEY"}
    env.update(FLASK_APP="app", BILLING_ENV=environment, DATABASE_URL=database_url)
    return subprocess.run(  # noqa: S603 - our own flask, fixed arguments
        [FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    # The app's own structured log lines (JSON) may come before, e.g. the warning a machine
    # without the HarfBuzz subset library gets: the failure itself is one line.
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith('{"ts"')]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["api-keys", "list"],
        ["billing", "run", "--period", "2026-11"],
        ["db", "upgrade"],
        ["worker"],
        [
            "users",
            "create",
            "--email",
            "a@example.com",
            "--role",
            "admin",
            "--party",
            "AZT",
            "--password",
            "long-enough-pw",
        ],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_an_unreachable_database_is_one_line_without_its_password(command: list[str]) -> None:
    result = flask(*command, database_url=CLOSED)
    line = one_line(result)
    assert line == (
        "Error: database unreachable at postgresql://billing:***@127.0.0.1:1/billing "
        "(connection refused): check DATABASE_URL and that PostgreSQL is running"
    )
    assert "s3cr3t-pw" not in result.stdout + result.stderr


def test_an_unmigrated_sqlite_database_says_run_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    line = one_line(flask("api-keys", "list", database_url=url))
    assert line == "Error: the database is not migrated (no table api_keys): run `flask db upgrade`"


def test_an_unmigrated_postgresql_database_says_run_db_upgrade() -> None:
    from tests.conftest import PG_URL, missing

    if not PG_URL:
        missing("PostgreSQL is not configured: set TEST_DATABASE_URL")
    url = pg_database_url("cli_errors")
    try:
        line = one_line(flask("api-keys", "list", database_url=url))
    finally:
        drop_pg_database(url)
    assert line == "Error: the database is not migrated (no table api_keys): run `flask db upgrade`"


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    missing_file = tmp_path / "no-such-rates.xml"
    line = one_line(
        flask("fx", "import", "--source", "cbar", str(missing_file), database_url=CLOSED)
    )
    assert str(missing_file) in line
    assert "No such file or directory" in line
    assert "flask fx import --help" in line


def test_a_migration_to_an_unknown_revision_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    line = one_line(flask("db", "upgrade", "no-such-revision", database_url=url))
    assert line.startswith("Error: migration failed (")
    assert "no-such-revision" in line


def test_production_without_a_secret_key_is_one_line_saying_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    line = one_line(flask("db", "upgrade", database_url=url, environment="production"))
    assert line.startswith("Error: SECRET_KEY is not set. Set it in the environment")
    assert not (tmp_path / "billing.db").exists(), "nothing ran"


def test_debug_shows_the_traceback_and_the_line() -> None:
    result = flask("--debug", "api-keys", "list", database_url=CLOSED)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "OperationalError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: database unreachable at ")


# In-process: the same guard around commands that fail in ways a subprocess cannot stage.


def _guarded(callback: Any) -> click.Group:
    @click.group("demo")
    def demo() -> None:
        pass

    demo.command("go")(callback)
    return guard(demo)  # type: ignore[return-value]


def _run(callback: Any) -> Any:
    result = CliRunner().invoke(_guarded(callback), ["go"])
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result


def test_ctrl_c_says_interrupted_and_exits_130() -> None:
    def go() -> None:
        raise KeyboardInterrupt

    result = _run(go)
    assert result.exit_code == 130
    assert result.stderr.strip() == "Error: interrupted"


def test_a_file_it_may_not_use_is_one_line_naming_it(tmp_path: Path) -> None:
    target = tmp_path / "locked" / "out.pdf"

    def go() -> None:
        raise PermissionError(13, "Permission denied", str(target))  # root may write anywhere

    result = _run(go)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: permission denied: {target}: check the file's owner and mode, or run the "
        "command as a user who may use it"
    )


def test_a_domain_error_is_its_message_and_fields() -> None:
    from billing.errors import InvalidRequestError

    def go() -> None:
        raise InvalidRequestError("no such period", {"period": ["use YYYY-MM"]})

    result = _run(go)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no such period (period: use YYYY-MM)"


def test_an_unexpected_error_is_one_line_pointing_at_debug() -> None:
    def go() -> None:
        raise ValueError("bad\nworse")

    result = _run(go)
    assert result.stderr.strip() == (
        "Error: unexpected error (ValueError: bad); `flask --debug …` shows the traceback"
    )


def test_a_deadlock_says_run_the_command_again(postgres_migrated: str) -> None:
    """Two connections take rows 1 and 2, then each the other's: PostgreSQL kills one."""
    engine = make_engine(postgres_migrated, pool=False)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS cli_deadlock (id int PRIMARY KEY, n int)"))
        conn.execute(text("INSERT INTO cli_deadlock VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING"))
    errors: list[BaseException] = []
    both_hold_one = threading.Barrier(2)

    def cross(first: int, second: int) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE cli_deadlock SET n = n + 1 WHERE id = :i"), {"i": first})
                both_hold_one.wait(timeout=30)
                conn.execute(text("UPDATE cli_deadlock SET n = n + 1 WHERE id = :i"), {"i": second})
        except Exception as error:  # noqa: BLE001 - the deadlock is what this test wants
            errors.append(error)

    try:
        threads = [threading.Thread(target=cross, args=pair) for pair in ((1, 2), (2, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE cli_deadlock"))
        engine.dispose()
    assert len(errors) == 1
    assert "deadlock" in str(errors[0]).lower()

    def go() -> None:
        raise errors[0]

    result = _run(go)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: the database refused the change because another one touched the same rows: "
        "run the command again"
    )
    assert explain(errors[0], postgres_migrated).endswith("run the command again")
