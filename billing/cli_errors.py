"""A failed `flask …` command says so in one line on stderr (SPEC 11): the reason and what to do,
then exits non-zero. `flask --debug …` prints the traceback as well.

`guard(command)` wraps a command's (or a group's, and so all its subcommands') `invoke` once, in
`register_cli`; commands raise what they raise and never format errors themselves.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import click
from alembic.util.exc import CommandError as AlembicCommandError
from flask import Flask
from flask.cli import ScriptInfo
from flask.helpers import get_debug_flag
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from billing.db import make_engine
from billing.errors import DomainError

try:  # psycopg is the PostgreSQL driver; procrastinate raises its errors unwrapped
    import psycopg
except ImportError:  # pragma: no cover - installed with the project
    psycopg = None  # type: ignore[assignment]

INTERRUPTED_EXIT = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)
RETRY = "run the command again"
DEBUG_HINT = "`flask --debug …` shows the traceback"

# SQLSTATE codes (PostgreSQL appendix A)
_DEADLOCK, _SERIALIZATION, _LOCK_NOT_AVAILABLE = "40P01", "40001", "55P03"
_UNDEFINED_TABLE, _UNDEFINED_COLUMN = "42P01", "42703"


def mask_url(url: str) -> str:
    """The database URL without its password (`postgresql://u:***@host:5432/name`)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can parse: show only its scheme
        return url.split(":", 1)[0] + "://…"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, sa_exc.DBAPIError) and isinstance(current.orig, BaseException):
            yield current.orig
        current = current.__cause__ or current.__context__


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _driver_message(error: BaseException) -> str:
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        return _first_line(error.orig)
    return _first_line(error)


def _sqlstate(error: BaseException) -> str | None:
    if isinstance(error, sa_exc.DBAPIError):
        error = error.orig  # type: ignore[assignment]
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return str(code) if code else None


def _connection_reason(message: str) -> str:
    # psycopg: 'connection failed: connection to server at "127.0.0.1", port 1 failed:
    # Connection refused' -> 'connection refused'
    reason = message.rsplit(" failed: ", 1)[-1].strip() or message
    return reason[:1].lower() + reason[1:]


def _is_connection_failure(error: BaseException, message: str, state: str | None) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if state is not None:  # 08: connection exception; 28: bad login; 3D000: no such database
        return state.startswith(("08", "28")) or state == "3D000"
    driver = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    if psycopg is not None and isinstance(driver, psycopg.OperationalError):
        return True  # raised before the server answered anything: the connection itself failed
    return "unable to open database file" in message.lower()  # SQLite


def _database_line(error: BaseException, database_url: str) -> str | None:
    """One line for an error raised by the database or its driver, or None."""
    message = _driver_message(error)
    state = _sqlstate(error)
    lowered = message.lower()
    if state in {_DEADLOCK, _SERIALIZATION, _LOCK_NOT_AVAILABLE}:
        return f"the database refused the change because another one touched the same rows: {RETRY}"
    if "database is locked" in lowered:
        return f"the database is busy with another writer (database is locked): {RETRY}"
    if state == _UNDEFINED_TABLE or lowered.startswith("no such table"):
        table = _quoted_or_last(message)
        return f"the database is not migrated (no table {table}): run `flask db upgrade`"
    if state == _UNDEFINED_COLUMN or lowered.startswith("no such column"):
        column = _quoted_or_last(message)
        return f"the database is behind the code (no column {column}): run `flask db upgrade`"
    if _is_connection_failure(error, message, state):
        where = mask_url(database_url)
        if where.startswith("sqlite"):
            return (
                f"database unreachable at {where} ({_connection_reason(message)}): check "
                "DATABASE_URL and that its folder exists and this user may write to it"
            )
        return (
            f"database unreachable at {where} ({_connection_reason(message)}): check "
            "DATABASE_URL and that PostgreSQL is running"
        )
    return None


def _quoted_or_last(message: str) -> str:
    if '"' in message:  # PostgreSQL: relation "billing_runs" does not exist
        return message.split('"')[1]
    return message.rsplit(":", 1)[-1].strip()  # SQLite: no such table: billing_runs


def _domain_line(error: DomainError) -> str:
    details = "; ".join(
        f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
        for field, msgs in error.errors.items()
    )
    return error.message + (f" ({details})" if details else "")


def _os_line(error: OSError) -> str:
    target = error.filename if error.filename is not None else ""
    if isinstance(error, PermissionError):
        return (
            f"permission denied: {target}: check the file's owner and mode, or run the command "
            "as a user who may use it"
        )
    if isinstance(error, FileNotFoundError):
        return f"no such file or folder: {target}: check the path"
    if isinstance(error, IsADirectoryError):
        return f"{target} is a folder: give a file"
    reason = error.strerror or _first_line(error) or type(error).__name__
    return f"{reason}{': ' + str(target) if target else ''}: check the path and {RETRY}"


def explain(error: BaseException, database_url: str) -> str:
    """The one line a person reads for `error`: what went wrong, then what to do."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    for link in _chain(error):
        if isinstance(link, DomainError):
            return _domain_line(link)
        if isinstance(link, sa_exc.DBAPIError | sqlite3.Error) or (
            psycopg is not None and isinstance(link, psycopg.Error)
        ):
            line = _database_line(link, database_url)
            if line:
                return line
    for link in _chain(error):
        if isinstance(link, OSError) and not isinstance(link, ConnectionError):
            return _os_line(link)
    if isinstance(error, AlembicCommandError):
        return f"migration failed ({_first_line(error)}): check the revision named"
    if isinstance(error, sa_exc.DBAPIError):
        return f"the database refused the command ({_driver_message(error)}); {DEBUG_HINT}"
    summary = _first_line(error)
    kind = type(error).__name__
    return f"unexpected error ({kind}{': ' + summary if summary else ''}); {DEBUG_HINT}"


def _database_url(ctx: click.Context) -> str:
    info = ctx.find_object(ScriptInfo)
    try:
        app = info.load_app() if info is not None else None  # loaded already: no second build
    except Exception:  # noqa: BLE001 - no app: fall back to the environment
        app = None
    if app is not None:
        return str(app.config.get("DATABASE_URL") or "")
    return os.environ.get("DATABASE_URL", "")


def _debugging(ctx: click.Context) -> bool:
    info = ctx.find_object(ScriptInfo)
    app = getattr(info, "_loaded_app", None) if info is not None else None
    return bool(get_debug_flag() or (app is not None and app.debug))


def report(error: BaseException, ctx: click.Context) -> None:
    """Print `error` as one line on stderr (after its traceback under --debug) and exit."""
    if _debugging(ctx):
        traceback.print_exception(error, file=sys.stderr)
    click.echo(f"Error: {explain(error, _database_url(ctx))}", err=True)
    code = INTERRUPTED_EXIT if isinstance(error, KeyboardInterrupt) else 1
    raise click.exceptions.Exit(code)


def load_app(factory: Callable[[], Flask]) -> Flask:
    """Build the app. Under a `flask …` command a setting the app refuses (RuntimeError: no
    SECRET_KEY, one too short) is one line, not a traceback; elsewhere (gunicorn) it raises."""
    try:
        return factory()
    except RuntimeError as error:
        if click.get_current_context(silent=True) is None or get_debug_flag():
            raise
        raise click.ClickException(_first_line(error)) from None


def _usage_line(error: click.UsageError) -> str:
    path = error.ctx.command_path if error.ctx is not None else "flask"
    return f"{error.format_message()}: see `{path} --help`"


def reach_database(ctx: click.Context) -> None:
    """Connect once and let go: a worker's connection pool would otherwise log every failed try
    for 30 s before giving up."""
    url = _database_url(ctx)
    if url:
        engine = make_engine(url, pool=False)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()


def guard(
    command: click.Command, *, before: Callable[[click.Context], None] | None = None
) -> click.Command:
    """Make `command` (a group: with every subcommand) fail in one line instead of a traceback;
    `before(ctx)` runs first under the same guard (a check that fails fast)."""
    if getattr(command, "_guarded", False):  # the groups are module-level: one wrap per process
        return command
    invoke = command.invoke

    def guarded(ctx: click.Context) -> Any:
        try:
            if before is not None and not ctx.resilient_parsing:
                before(ctx)
            return invoke(ctx)
        except click.UsageError as error:  # wrong options: one line too, not the usage block
            click.echo(f"Error: {_usage_line(error)}", err=True)
            raise click.exceptions.Exit(error.exit_code) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except (Exception, KeyboardInterrupt) as error:  # noqa: BLE001 - the edge of the CLI
            report(error, ctx)

    command.invoke = guarded  # type: ignore[method-assign]
    command._guarded = True  # type: ignore[attr-defined]
    return command
