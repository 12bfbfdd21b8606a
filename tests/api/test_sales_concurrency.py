"""Concurrent API requests: one wins, the others are told so, nothing is sold twice.

Each thread has its own test client of the same app, so each request has its own connection and
transaction from the app's pool, as under a threaded server. On PostgreSQL the constraints and row
locks decide; on SQLite the serialised write path does.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.access.models import IdempotencyRecord
from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.models import Allocation, AllocationState
from billing.sales.models import Contract, Quote, QuoteHold, Service
from tests.helpers import (
    api_error,
    bearer,
    fill_main_route_but_one_100g,
    new_customer_key,
)

RACERS = 10
ONE_100G = {"lines": [{"product": "WL100G", "term_months": 12}]}


def _count(db: Database, model: type, *where: Any) -> int:
    with db.transaction() as s:
        stmt = select(func.count()).select_from(model)
        return int(s.execute(stmt.where(*where)).scalar_one())


def _race(app: Flask, calls: list[Callable[[FlaskClient], Any]]) -> list[Any]:
    """Run each call in its own thread with its own client, all released at once."""
    barrier = threading.Barrier(len(calls))
    responses: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[FlaskClient], Any]) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            responses[index] = call(client)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request never finished"
    assert not errors, errors
    return responses


def _carriers(app: Flask, n: int) -> list[dict[str, str]]:
    """n AZT customers, each with its own API key."""
    return [bearer(new_customer_key(app)) for _ in range(n)]


def test_ten_customers_race_for_the_last_100g_exactly_one_holds_it(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    fill_main_route_but_one_100g(db, clock)
    keys = _carriers(app, RACERS)

    def quote(key: dict[str, str]) -> Callable[[FlaskClient], Any]:
        return lambda client: client.post("/api/v1/quotes", json=ONE_100G, headers=key)

    responses = _race(app, [quote(k) for k in keys])
    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: RACERS - 1})
    for lost in (r for r in responses if r.status_code == 409):
        api_error(lost, 409)
    assert _count(db, Quote) == 1 and _count(db, QuoteHold) == 1
    assert _count(db, Allocation, Allocation.state == AllocationState.HOLD.value) == 1


def test_two_concurrent_accepts_of_one_quote_make_one_contract(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    key = bearer(new_customer_key(app))
    quote = client.post("/api/v1/quotes", json=ONE_100G, headers=key).get_json()

    def accept(client: FlaskClient) -> Any:
        return client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=key)

    responses = _race(app, [accept, accept])
    assert sorted(r.status_code for r in responses) == [201, 409]
    api_error(next(r for r in responses if r.status_code == 409), 409)
    assert _count(db, Contract) == 1 and _count(db, Service) == 1


def test_concurrent_requests_with_one_idempotency_key_make_one_quote(
    app: Flask, db: Database
) -> None:
    key = bearer(new_customer_key(app))
    headers = {**key, "Idempotency-Key": "one-order-only"}

    def quote(client: FlaskClient) -> Any:
        return client.post("/api/v1/quotes", json=ONE_100G, headers=headers)

    responses = _race(app, [quote] * 5)
    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert len({r.get_json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 4
    assert _count(db, Quote) == 1 and _count(db, IdempotencyRecord) == 1
