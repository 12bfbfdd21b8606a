"""The availability answer is cached per process, and never served stale."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import event, select

from billing.access.models import ApiKey
from billing.access.services import hash_api_key, revoke_api_key
from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.services import SpectrumRequest, release_reservation, reserve_spectrum
from tests.conftest import make_test_app
from tests.helpers import api_error, bearer, new_customer_key

URL = "/api/v1/availability?route=main&protection=protected&product=WL100G"


def _first_fit(app: Flask, key: str) -> tuple[int, int]:
    body = app.test_client().get(URL, headers=bearer(key)).get_json()
    s1 = next(s for s in body["suggestion"] if s["route"] == "main")
    return s1["fiber_pair"], s1["first_slot"]


def _hold(db: Database, clock: FrozenClock, days: int = 14) -> int:
    with db.transaction() as s:
        return reserve_spectrum(
            s,
            SpectrumRequest("main", "protected", "WL100G"),
            hold_until=clock.now() + timedelta(days=days),
            actor="t",
            now=clock.now(),
        ).id


def test_a_hold_made_anywhere_shows_at_once(
    app: Flask, db: Database, clock: FrozenClock, database_url: str
) -> None:
    key = new_customer_key(app)
    assert _first_fit(app, key) == (1, 0)
    assert _first_fit(app, key) == (1, 0)  # served from the cache
    # Another worker process: its own app and engine on the same database.
    other = make_test_app(database_url, clock)
    try:
        other_db: Database = other.extensions["billing.db"]
        rid = _hold(other_db, clock)
        assert _first_fit(app, key) == (1, 4)
        with other_db.transaction() as s:
            release_reservation(s, rid, actor="t", now=clock.now())
        assert _first_fit(app, key) == (1, 0)
    finally:
        other_db.dispose()


def test_an_expired_hold_is_free_in_a_cached_answer_without_any_write(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    key = new_customer_key(app)
    _hold(db, clock, days=1)
    assert _first_fit(app, key) == (1, 4)
    clock.advance(timedelta(days=1))
    assert _first_fit(app, key) == (1, 0)


def test_answers_for_different_questions_are_kept_apart(app: Flask, db: Database) -> None:
    key = new_customer_key(app)
    client = app.test_client()
    wide = client.get(URL.replace("WL100G", "WL800G"), headers=bearer(key)).get_json()
    narrow = client.get(URL, headers=bearer(key)).get_json()
    assert (wide["width_slots"], narrow["width_slots"]) == (12, 4)
    assert client.get(URL.replace("WL100G", "NOPE"), headers=bearer(key)).status_code == 404


def test_a_client_holding_the_current_answer_gets_304(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    key = new_customer_key(app)
    client = app.test_client()
    first = client.get(URL, headers=bearer(key))
    etag = first.headers["ETag"]
    again = client.get(URL, headers={**bearer(key), "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    _hold(db, clock)
    changed = client.get(URL, headers={**bearer(key), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs, as sent."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def _one_round_trip(sent: list[str], backend: str) -> str:
    """The one statement of a request. On SQLite the engine opens each unit of work with BEGIN
    DEFERRED (a call into the library in this process, not a trip to a server); PostgreSQL reads
    without BEGIN, so there the statement is all that is sent."""
    if backend == "sqlite":
        assert sent[:1] == ["BEGIN DEFERRED"], sent
        sent = sent[1:]
    assert len(sent) == 1, sent
    return sent[0]


def test_a_cached_answer_costs_one_statement_and_a_revoked_key_is_refused_at_once(
    app: Flask, db: Database, clock: FrozenClock, backend: str
) -> None:
    secret = new_customer_key(app)
    client = app.test_client()
    with client.get(URL, headers=bearer(secret)) as first:  # computed and cached
        assert first.status_code == 200
    # Leaving the block sent the answer, and the key's last use was stamped then: within the
    # minute, the next requests stamp nothing.
    with _statements(db) as sent, client.get(URL, headers=bearer(secret)) as again:
        assert again.status_code == 200 and again.data == first.data
    # The key check and the revisions of the path's fiber pairs, in one statement.
    statement = _one_round_trip(sent, backend)
    assert "api_keys" in statement and "fiber_pairs" in statement
    etag = {"If-None-Match": first.headers["ETag"]}
    with _statements(db) as sent, client.get(URL, headers={**bearer(secret), **etag}) as same:
        assert same.status_code == 304
    assert _one_round_trip(sent, backend) == statement

    with db.transaction() as s:
        key_id = s.execute(
            select(ApiKey.id).where(ApiKey.key_hash == hash_api_key(secret))
        ).scalar_one()
        revoke_api_key(s, key_id, actor="test", now=clock.now())
    with _statements(db) as sent:
        body = api_error(client.get(URL, headers=bearer(secret)), 401)
    assert "revoked" in body["message"]
    assert _one_round_trip(sent, backend) == statement
    # Nor does the revoked key get the answer by asking whether its copy is still current.
    api_error(client.get(URL, headers={**bearer(secret), **etag}), 401)


def test_a_change_on_the_protection_route_alone_is_seen_in_the_cached_answer(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    # The revisions read with the key cover both routes of a protected path: a hold on the reserve
    # route only (S2) changes the answer for main, protected.
    secret = new_customer_key(app)
    client = app.test_client()

    def fits() -> list[tuple[str, int, int]]:
        body = client.get(URL, headers=bearer(secret)).get_json()
        return [(f["route"], f["fiber_pair"], f["first_slot"]) for f in body["suggestion"]]

    assert fits() == [("main", 1, 0), ("reserve", 1, 0)]
    assert fits() == [("main", 1, 0), ("reserve", 1, 0)]  # served from the cache
    with db.transaction() as s:
        reserve_spectrum(
            s,
            SpectrumRequest("reserve", "unprotected", "WL100G", fiber_pair=1, first_slot=0),
            hold_until=clock.now() + timedelta(days=14),
            actor="t",
            now=clock.now(),
        )
    assert fits() == [("main", 1, 0), ("reserve", 1, 4)]
