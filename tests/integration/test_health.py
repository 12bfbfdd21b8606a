"""/healthz and /readyz (SPEC 11): ready means the database answers, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from billing.clock import FrozenClock
from tests.conftest import START, make_test_app


def test_healthz_answers_while_the_process_runs(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_ok_when_the_database_answers(client: FlaskClient, backend: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.get_json() == {
        "status": "ok",
        "database": {"postgres": "postgresql"}.get(backend, backend),
    }


def unreachable(kind: str, tmp_path: Path) -> str:
    if kind == "postgresql":
        return "postgresql://tcf@127.0.0.1:1/nothing?connect_timeout=2"  # nothing listens on 1
    return f"sqlite:///{tmp_path}"  # a directory, not a database file


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_readyz_is_503_when_the_database_is_not_reachable(kind: str, tmp_path: Path) -> None:
    app = make_test_app(unreachable(kind, tmp_path), FrozenClock(START))
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["billing.db"].dispose()
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert response.get_json()["error"] == "OperationalError"
    assert app.test_client().get("/healthz").status_code == 200  # the process itself is up
