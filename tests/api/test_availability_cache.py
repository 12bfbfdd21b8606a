"""The availability answer is cached per process, and never served stale."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.services import SpectrumRequest, release_reservation, reserve_spectrum
from tests.conftest import make_test_app
from tests.helpers import bearer, new_customer_key

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
