"""Idempotency-Key on every POST (SPEC 9): one key, one piece of work, one response replayed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.access.models import IdempotencyRecord
from billing.clock import FrozenClock
from billing.db import Database
from billing.sales.models import Contract, Quote
from tests.helpers import api_error, bearer, error_fields, new_customer_key

QUOTE = {"lines": [{"product": "WL100G", "term_months": 24, "quantity": 2}], "notes": "POP"}
REPLAYED = "Idempotent-Replayed"


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def key(app: Flask, db: Database) -> dict[str, str]:
    return bearer(new_customer_key(app))


def _post(client: FlaskClient, key: dict[str, str], idem: str, body: Any = QUOTE) -> Any:
    return client.post("/api/v1/quotes", json=body, headers={**key, "Idempotency-Key": idem})


def test_the_same_key_and_body_make_one_quote_and_replay_the_first_response(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    first = _post(client, key, "order-7f3a")
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    again = _post(client, key, "order-7f3a")
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.get_json() == first.get_json()
    # Key order and spacing are not part of the request.
    reordered = json.dumps({"notes": "POP", "lines": QUOTE["lines"]}, indent=2)
    third = client.post(
        "/api/v1/quotes",
        data=reordered,
        headers={**key, "Idempotency-Key": "order-7f3a", "Content-Type": "application/json"},
    )
    assert third.status_code == 201 and third.headers[REPLAYED] == "true"
    assert third.get_json() == first.get_json()
    assert _count(db, Quote) == 1
    assert _count(db, IdempotencyRecord) == 1
    # Without a key, the same body is another quote.
    assert client.post("/api/v1/quotes", json=QUOTE, headers=key).status_code == 201
    assert _count(db, Quote) == 2


def test_the_same_key_with_another_body_or_path_is_refused(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    quote = _post(client, key, "k-1").get_json()
    other = {**QUOTE, "notes": "another POP"}
    body = api_error(_post(client, key, "k-1", other), 422)
    assert "Idempotency-Key" in error_fields(body["errors"])
    assert "another request" in body["message"]
    accept = client.post(
        f"/api/v1/quotes/{quote['id']}/accept", headers={**key, "Idempotency-Key": "k-1"}
    )
    api_error(accept, 422)
    assert _count(db, Quote) == 1 and _count(db, Contract) == 0


def test_an_error_is_not_stored_so_the_key_can_be_retried(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    bad = {"lines": [{"product": "WL100G", "term_months": 11}]}
    api_error(_post(client, key, "retry-me", bad), 422)
    api_error(_post(client, key, "retry-me", bad), 422)
    assert _count(db, IdempotencyRecord) == 0
    good = _post(client, key, "retry-me")
    assert good.status_code == 201 and REPLAYED not in good.headers
    assert _count(db, Quote) == 1 and _count(db, IdempotencyRecord) == 1


def test_accepting_with_a_key_twice_replays_the_contract(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    quote = _post(client, key, "q").get_json()
    url = f"/api/v1/quotes/{quote['id']}/accept"
    first = client.post(url, headers={**key, "Idempotency-Key": "accept-1"})
    assert first.status_code == 201, first.text
    again = client.post(url, headers={**key, "Idempotency-Key": "accept-1"})
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.get_json() == first.get_json()
    assert _count(db, Contract) == 1
    # A new key is a new request, and the quote is already accepted.
    api_error(client.post(url, headers={**key, "Idempotency-Key": "accept-2"}), 409)


def test_keys_belong_to_one_customer(
    app: Flask, client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    other = bearer(new_customer_key(app))
    mine = _post(client, key, "shared-name").get_json()
    theirs = _post(client, other, "shared-name")
    assert theirs.status_code == 201 and REPLAYED not in theirs.headers
    assert theirs.get_json()["id"] != mine["id"]
    assert _count(db, Quote) == 2


@pytest.mark.parametrize("idem", ["", "x" * 256, "two words", "caf\u00e9"])
def test_a_malformed_key_is_refused(
    client: FlaskClient, key: dict[str, str], db: Database, idem: str
) -> None:
    body = api_error(_post(client, key, idem), 422)
    assert "Idempotency-Key" in error_fields(body["errors"])
    assert _count(db, Quote) == 0


def test_a_key_of_255_characters_is_accepted(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    assert _post(client, key, "k" * 255).status_code == 201
    assert _post(client, key, "k" * 255).headers[REPLAYED] == "true"
    assert _count(db, Quote) == 1


def test_every_post_documents_the_header(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    posts = [item["post"] for item in spec["paths"].values() if "post" in item]
    assert len(posts) >= 2
    for operation in posts:
        header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
        assert header["in"] == "header" and header["required"] is False
        assert "Only successful (2xx) responses are kept" in header["description"]


def test_a_key_expires_after_24_hours_and_old_records_are_pruned(
    client: FlaskClient, key: dict[str, str], db: Database, clock: FrozenClock
) -> None:
    first = _post(client, key, "order-day-1")
    assert first.status_code == 201
    clock.advance(timedelta(hours=23, minutes=59))
    replay = _post(client, key, "order-day-1")
    assert replay.headers.get(REPLAYED) == "true"
    assert replay.get_json()["id"] == first.get_json()["id"]
    clock.advance(timedelta(minutes=1))  # 24 hours after the first use
    again = _post(client, key, "order-day-1")
    assert again.status_code == 201 and REPLAYED not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]  # a new request: a new quote
    assert _count(db, Quote) == 2
    with db.transaction() as s:
        kept = s.execute(select(IdempotencyRecord.created_at)).scalars().all()
    assert len(kept) == 1  # the first record was pruned with the expiry


def test_the_document_states_the_expiry_and_the_header_is_never_null(
    client: FlaskClient,
) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    (header,) = (
        p
        for p in spec["paths"]["/api/v1/quotes"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    assert "expire 24 hours" in header["description"]
    assert "nullable" not in header["schema"] and "default" not in header["schema"]
