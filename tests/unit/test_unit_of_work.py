"""One place commits: `billing.db.unit_of_work`. The CLI, the pages and the API all go through it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from billing.db import Database, unit_of_work
from billing.extensions import close_session, transaction

BILLING = Path(__file__).resolve().parents[2] / "billing"
COMMIT_OR_ROLLBACK = re.compile(r"\.(commit|rollback)\(")


def _edge_lines() -> range:
    """The lines of `unit_of_work` in billing/db.py: the only ones that may commit or roll back."""
    tree = ast.parse((BILLING / "db.py").read_text())
    edge = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "unit_of_work"
    )
    assert edge.end_lineno is not None
    return range(edge.lineno, edge.end_lineno + 1)


def commits_and_rollbacks() -> list[tuple[str, int]]:
    """Every `.commit(` and `.rollback(` under billing/, as (file, line)."""
    found = []
    for path in sorted(BILLING.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            # A savepoint rolled back inside a unit of work (a draft priced as if issued, then
            # undone) ends no transaction.
            if COMMIT_OR_ROLLBACK.search(line) and "savepoint.rollback()" not in line:
                found.append((path.relative_to(BILLING.parent).as_posix(), number))
    return found


def test_only_the_unit_of_work_commits_or_rolls_back() -> None:
    found = commits_and_rollbacks()
    edge = _edge_lines()
    elsewhere = [(f, n) for f, n in found if f != "billing/db.py" or n not in edge]
    assert elsewhere == [], (
        "commit and roll back only through billing.db.unit_of_work: "
        "`with transaction():` (billing.extensions) in a view, `saving(...)` (billing.web.forms) "
        "on a page, `database().transaction()` in a command or job"
    )
    # The scan reads the files it should: it finds the edge's own commit and rollback.
    assert len(found) == 2


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'uow.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    return db


def _notes(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT body FROM notes ORDER BY body")).scalars())


def test_a_unit_of_work_commits_what_its_block_did(database: Database) -> None:
    with database.session() as s, unit_of_work(s):
        s.execute(text("INSERT INTO notes VALUES ('kept')"))
    assert _notes(database) == ["kept"]


def test_an_error_rolls_the_whole_unit_back_and_is_raised(database: Database) -> None:
    with pytest.raises(ValueError, match="refused"), database.transaction() as s:
        s.execute(text("INSERT INTO notes VALUES ('lost')"))
        raise ValueError("refused")
    assert _notes(database) == []


def test_work_outside_a_unit_of_work_is_never_committed(database: Database) -> None:
    with database.session() as s:
        with unit_of_work(s):
            s.execute(text("INSERT INTO notes VALUES ('kept')"))
        s.execute(text("INSERT INTO notes VALUES ('after the unit: dropped on close')"))
    assert _notes(database) == ["kept"]


def test_a_get_has_no_unit_of_work_a_post_has_one(database: Database) -> None:
    app = Flask(__name__)
    app.extensions["billing.db"] = database
    with app.test_request_context("/", method="GET"):
        with pytest.raises(RuntimeError, match="a GET request must not write"), transaction():
            pass
        close_session()
    with app.test_request_context("/", method="POST"):
        with transaction() as s:
            s.execute(text("INSERT INTO notes VALUES ('posted')"))
        close_session()
    assert _notes(database) == ["posted"]
