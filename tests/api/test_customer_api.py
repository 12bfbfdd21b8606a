"""What wholesale customers asked for (SPEC 9): cancel a quote, find quotes by state or number,
read contracts, give a purchase order on accept; and the API's strict input and headers."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.models import Allocation
from billing.sales.models import Contract, Quote, QuoteLine
from tests import factories
from tests.factories import Price
from tests.helpers import api_error, bearer, login, new_customer_key

QUOTES = "/api/v1/quotes"
PRICES = [
    Price("WL100G", mrc=Decimal("6000.00"), nrc=Decimal("5000.00")),
    Price("WL100G", "iru", iru_fee=Decimal("1350000.00")),
    Price("SPECTRUM", mrc=Decimal("1500.00"), nrc=Decimal("1000.00")),
]
WL100G = {"product": "WL100G", "term_months": 12}


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture(autouse=True)
def price_book(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        factories.price_book_version(
            s, now=clock.now(), prices=PRICES, effective_from=date(2026, 1, 1)
        )


@pytest.fixture
def key(app: Flask) -> dict[str, str]:
    return bearer(new_customer_key(app))


@pytest.fixture
def other_key(app: Flask) -> dict[str, str]:
    return bearer(new_customer_key(app))


def _quote(client: FlaskClient, key: dict[str, str], *lines: dict[str, Any]) -> dict[str, Any]:
    response = client.post(QUOTES, json={"lines": list(lines or [WL100G])}, headers=key)
    assert response.status_code == 201, response.text
    return dict(response.get_json())


def _written(db: Database) -> tuple[int, ...]:
    with db.transaction() as s:
        return tuple(
            int(s.execute(select(func.count()).select_from(model)).scalar_one())
            for model in (Quote, QuoteLine, Contract, Allocation, AuditEntry)
        )


def _live_slots(db: Database) -> int:
    with db.transaction() as s:
        return int(
            s.execute(
                select(func.count()).where(Allocation.state.in_(("hold", "allocated")))
            ).scalar_one()
        )


# --- POST /quotes/{id}/cancel ------------------------------------------------------------------


def test_cancelling_a_quote_frees_its_spectrum_at_once(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    quote = _quote(client, key)
    held = quote["lines"][0]["holds"][0]["spectrum"][0]
    assert held["state"] == "hold" and _live_slots(db) > 0

    response = client.post(f"{QUOTES}/{quote['id']}/cancel", headers=key)

    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["state"] == "cancelled"
    assert body["lines"][0]["holds"][0]["spectrum"][0]["state"] == "released"
    assert _live_slots(db) == 0
    # The same slots can be quoted again at once.
    again = _quote(client, key)
    assert again["lines"][0]["holds"][0]["spectrum"][0]["first_slot"] == held["first_slot"]


def test_cancel_is_idempotent_with_a_key_and_refused_twice_without(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    quote = _quote(client, key)
    url = f"{QUOTES}/{quote['id']}/cancel"
    first = client.post(url, headers={**key, "Idempotency-Key": "cancel-1"})
    replay = client.post(url, headers={**key, "Idempotency-Key": "cancel-1"})
    assert first.status_code == replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    body = api_error(client.post(url, headers=key), 409)
    assert "cancelled" in body["message"]


def test_an_accepted_quote_cannot_be_cancelled(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    quote = _quote(client, key)
    assert client.post(f"{QUOTES}/{quote['id']}/accept", headers=key).status_code == 201
    before = _written(db)
    api_error(client.post(f"{QUOTES}/{quote['id']}/cancel", headers=key), 409)
    assert _written(db) == before
    assert _live_slots(db) > 0


def test_another_customers_quote_cannot_be_cancelled(
    client: FlaskClient, key: dict[str, str], other_key: dict[str, str], db: Database
) -> None:
    quote = _quote(client, key)
    before = _written(db)
    api_error(client.post(f"{QUOTES}/{quote['id']}/cancel", headers=other_key), 404)
    assert _written(db) == before
    assert client.get(f"{QUOTES}/{quote['id']}", headers=key).get_json()["state"] == "open"


# --- GET /quotes?state=&number= ----------------------------------------------------------------


def test_quotes_are_found_by_state_and_by_number(
    client: FlaskClient, key: dict[str, str], other_key: dict[str, str], clock: FrozenClock
) -> None:
    accepted, cancelled, open_ = (_quote(client, key) for _ in range(3))
    client.post(f"{QUOTES}/{accepted['id']}/accept", headers=key)
    client.post(f"{QUOTES}/{cancelled['id']}/cancel", headers=key)
    theirs = _quote(client, other_key)

    def listed(**query: str) -> list[int]:
        response = client.get(QUOTES, query_string=query, headers=key)
        assert response.status_code == 200, response.text
        return [q["id"] for q in response.get_json()["items"]]

    assert listed() == [open_["id"], cancelled["id"], accepted["id"]]
    assert listed(state="accepted") == [accepted["id"]]
    assert listed(state="cancelled") == [cancelled["id"]]
    assert listed(state="open") == [open_["id"]]
    assert listed(number=cancelled["number"]) == [cancelled["id"]]
    assert listed(number=theirs["number"]) == []  # another customer's: not there
    assert listed(number=open_["number"], state="accepted") == []
    clock.advance(timedelta(days=15))  # past the 14 days of validity
    assert listed(state="expired") == [open_["id"]]
    assert listed(state="open") == []
    api_error(client.get(QUOTES, query_string={"state": "lost"}, headers=key), 422)


# --- Contracts and the purchase order ----------------------------------------------------------


def test_accept_keeps_the_purchase_order_and_points_at_the_contract(
    client: FlaskClient, key: dict[str, str], other_key: dict[str, str]
) -> None:
    quote = _quote(client, key)
    response = client.post(
        f"{QUOTES}/{quote['id']}/accept", json={"purchase_order": "PO-77/2026"}, headers=key
    )
    assert response.status_code == 201, response.text
    contract = response.get_json()
    assert contract["purchase_order"] == "PO-77/2026"
    assert response.headers["Location"].endswith(f"/api/v1/contracts/{contract['number']}")

    shown = client.get(response.headers["Location"], headers=key)
    assert shown.status_code == 200
    assert shown.get_json() == contract
    listed = client.get("/api/v1/contracts", headers=key).get_json()
    assert [c["number"] for c in listed["items"]] == [contract["number"]]
    assert listed["meta"]["total"] == 1

    api_error(client.get(f"/api/v1/contracts/{contract['number']}", headers=other_key), 404)
    assert client.get("/api/v1/contracts", headers=other_key).get_json()["items"] == []
    api_error(client.get("/api/v1/contracts/C-2026-999999", headers=key), 404)
    api_error(client.get("/api/v1/contracts/not%20a%20number", headers=key), 404)


def test_accept_without_a_purchase_order_has_none(client: FlaskClient, key: dict[str, str]) -> None:
    quote = _quote(client, key)
    contract = client.post(f"{QUOTES}/{quote['id']}/accept", headers=key).get_json()
    assert contract["purchase_order"] is None


@pytest.mark.parametrize(
    ("purchase_order", "status"),
    [("P" * 65, 422), (12, 422), ("line\nbreak", 422), ("a\u0000b", 400)],
    ids=["too-long", "not-text", "control-char", "nul"],
)
def test_a_bad_purchase_order_is_refused_and_nothing_is_accepted(
    client: FlaskClient, key: dict[str, str], db: Database, purchase_order: Any, status: int
) -> None:
    quote = _quote(client, key)
    before = _written(db)
    api_error(
        client.post(
            f"{QUOTES}/{quote['id']}/accept",
            json={"purchase_order": purchase_order},
            headers=key,
        ),
        status,
    )
    assert _written(db) == before


def test_the_purchase_order_shows_on_the_contract_and_service_pages_and_the_pdf(
    app: Flask, client: FlaskClient, key: dict[str, str], db: Database, clock: FrozenClock
) -> None:
    quote = _quote(client, key)
    contract = client.post(
        f"{QUOTES}/{quote['id']}/accept", json={"purchase_order": "PO-<b>9</b>"}, headers=key
    ).get_json()
    with db.transaction() as s:
        user = factories.staff_user(s, now=clock.now(), role="sales", party="AZT")
        contract_id = s.execute(
            select(Contract.id).where(Contract.number == contract["number"])
        ).scalar_one()
    web = app.test_client()
    login(web, user.email)
    for url in (
        f"/contracts/{contract_id}",
        f"/services/{contract['services'][0]['circuit_id']}",
    ):
        page = web.get(url)
        assert page.status_code == 200, url
        assert "PO-&lt;b&gt;9&lt;/b&gt;" in page.text, url
    pdf = web.get(f"/quotes/{quote['id']}/pdf")
    assert pdf.status_code == 200
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "your purchase order PO-<b>9</b>" in re.sub(r"\s+", " ", text)


# --- Strict input (SPEC 9) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        {"product": "WL100G", "term_months": 12.9},
        {"product": "WL100G", "term_months": "12.9"},
        {"product": "WL100G", "term_months": 12, "quantity": 1.9},
        {"product": "WL100G", "term_months": 12, "quantity": True},
        {"product": "SPECTRUM", "term_months": 12, "width_ghz": "NaN"},
        {"product": "SPECTRUM", "term_months": 12, "width_ghz": "1e30"},
        {"product": "SPECTRUM", "term_months": 12, "width_ghz": "50.0001"},
        {"product": "WL100G", "term_months": 12, "discount_percent": "Infinity"},
    ],
    ids=[
        "term-12.9",
        "term-text-12.9",
        "quantity-1.9",
        "quantity-true",
        "width-nan",
        "width-1e30",
        "width-too-precise",
        "discount-infinity",
    ],
)
def test_a_number_that_is_not_what_its_field_holds_is_refused_not_truncated(
    client: FlaskClient, key: dict[str, str], db: Database, line: dict[str, Any]
) -> None:
    before = _written(db)
    body = api_error(client.post(QUOTES, json={"lines": [line]}, headers=key), 422)
    assert body["errors"], body
    assert _written(db) == before


@pytest.mark.parametrize("discount", ["0E-1000000", "-0", "0.00", 0, "-0.0"])
def test_a_zero_discount_in_any_spelling_is_stored_as_zero(
    client: FlaskClient, key: dict[str, str], db: Database, discount: Any
) -> None:
    quote = _quote(client, key, {**WL100G, "discount_percent": discount})
    assert quote["lines"][0]["discount_percent"] == "0"
    with db.transaction() as s:
        stored = s.execute(select(QuoteLine.discount_percent)).scalar_one()
    assert stored == 0 and not stored.is_signed()


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/quotes?stat=open", "stat"),
        ("/api/v1/services?page=1&colour=red", "colour"),
        ("/api/v1/contracts?sort=number", "sort"),
        ("/api/v1/routes?verbose=1", "verbose"),
        ("/api/v1/products?lang=en", "lang"),
        ("/api/v1/availability?route=main&product=WL100G&widht_ghz=50", "widht_ghz"),
        ("/api/v1/quotes/1?expand=lines", "expand"),
        ("/api/v1/services/TCF-WL-000001?x=1", "x"),
        ("/api/v1/contracts/C-2026-000001?x=1", "x"),
    ],
)
def test_an_unknown_query_parameter_answers_400_naming_it(
    client: FlaskClient, key: dict[str, str], url: str, parameter: str
) -> None:
    body = api_error(client.get(url, headers=key), 400)
    assert parameter in body["message"]
    assert parameter in body["errors"]


def test_an_unknown_query_parameter_on_a_post_writes_nothing(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    before = _written(db)
    body = api_error(client.post(f"{QUOTES}?dry_run=1", json={"lines": [WL100G]}, headers=key), 400)
    assert "dry_run" in body["message"]
    assert _written(db) == before


def test_a_method_not_allowed_says_which_are(client: FlaskClient, key: dict[str, str]) -> None:
    response = client.delete(QUOTES, headers=key)
    api_error(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    response = client.put("/api/v1/contracts", headers=key)
    api_error(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["none", "unknown-key", "basic"],
)
def test_a_401_says_to_authenticate_with_a_bearer_key(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/contracts", headers=headers)
    api_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_created_quote_points_at_itself_on_first_answer_and_replay(
    client: FlaskClient, key: dict[str, str]
) -> None:
    headers = {**key, "Idempotency-Key": "q-1"}
    first = client.post(QUOTES, json={"lines": [WL100G]}, headers=headers)
    replay = client.post(QUOTES, json={"lines": [WL100G]}, headers=headers)
    assert first.status_code == replay.status_code == 201
    location = first.headers["Location"]
    assert location.endswith(f"/api/v1/quotes/{first.get_json()['id']}")
    assert replay.headers["Location"] == location
    assert client.get(location, headers=key).get_json()["number"] == first.get_json()["number"]
