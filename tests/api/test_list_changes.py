"""`updated_since` on the API's lists: what was created or changed at or after an instant, by
the app's clock (rows stamp `updated_at` as their unit of work flushes, billing.db.Stamped)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from billing.clock import FrozenClock
from tests.helpers import api_error, bearer, new_customer_key

QUOTES = "/api/v1/quotes"
QUOTE = {"lines": [{"product": "WL10G", "term_months": 12}]}


def _ids(client: FlaskClient, key: dict[str, str], since: str) -> list[int]:
    response = client.get(QUOTES, query_string={"updated_since": since}, headers=key)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.get_json()["items"]]


def test_updated_since_lists_what_was_made_or_changed_from_then_on(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    key = bearer(new_customer_key(app))
    start = clock.now()
    first = client.post(QUOTES, json=QUOTE, headers=key).get_json()["id"]
    clock.advance(timedelta(hours=1))
    second = client.post(QUOTES, json=QUOTE, headers=key).get_json()["id"]
    assert _ids(client, key, start.isoformat()) == [second, first]
    assert _ids(client, key, (start + timedelta(minutes=30)).isoformat()) == [second]
    # The instant itself is included; a later one leaves it out.
    assert _ids(client, key, (start + timedelta(hours=1)).isoformat()) == [second]
    assert _ids(client, key, (start + timedelta(hours=1, seconds=1)).isoformat()) == []
    clock.advance(timedelta(hours=1))
    cancelled = client.post(f"{QUOTES}/{first}/cancel", headers=key)
    assert cancelled.status_code == 200, cancelled.text
    assert _ids(client, key, (start + timedelta(minutes=90)).isoformat()) == [first]
    # Any offset names the same instant.
    assert _ids(client, key, "2026-11-25T14:30:00+04:00") == [first]


def test_updated_since_needs_an_instant_with_its_offset(app: Flask, client: FlaskClient) -> None:
    key = bearer(new_customer_key(app))
    for bad in ("2026-11-25T09:00:00", "yesterday", "2026-13-01T00:00:00Z"):
        body = api_error(client.get(QUOTES, query_string={"updated_since": bad}, headers=key), 422)
        assert "updated_since" in body["errors"], body
    for path in ("/api/v1/contracts", "/api/v1/services", "/api/v1/invoices"):
        response = client.get(
            path, query_string={"updated_since": "2026-01-01T00:00:00Z"}, headers=key
        )
        assert response.status_code == 200, (path, response.text)
