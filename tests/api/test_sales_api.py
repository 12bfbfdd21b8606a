"""Buying capacity through the wholesale API: products, quotes, acceptance, services (SPEC 3, 9)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.access.models import IdempotencyRecord
from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.models import Allocation
from billing.sales.lifecycle import transition_service
from billing.sales.models import Contract, Quote, Service
from tests import factories
from tests.factories import Price
from tests.helpers import (
    api_error,
    bearer,
    error_fields,
    fill_main_route_but_one_100g,
    new_customer_key,
)

USD = "USD"
# The price book in force in these tests (USD, per circuit; per 12.5 GHz slot for spectrum).
PRICES = [
    Price("WL10G", mrc=Decimal("1800.00"), nrc=Decimal("2500.00")),
    Price("WL100G", terms=(12, 23), mrc=Decimal("6000.00"), nrc=Decimal("5000.00")),
    Price("WL100G", "lease", "protected", (36, 60), Decimal("8640.00"), Decimal("9000.00")),
    Price("WL100G", "iru", "protected", (120, 179), iru_fee=Decimal("1080000.00")),
    Price("WL100G", "iru", "protected", (180, 300), iru_fee=Decimal("1350000.00")),
    Price("WL400G", mrc=Decimal("14000.00"), nrc=Decimal("9000.00")),
    Price("SPECTRUM", mrc=Decimal("1500.00"), nrc=Decimal("1000.00")),
    Price("SPECTRUM", "iru", iru_fee=Decimal("150000.00")),
    Price("FIBER_PAIR", "iru", iru_fee=Decimal("30000000.00"), om_rate_percent=Decimal("4")),
]


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": USD}


@pytest.fixture
def seed() -> str:
    return "reference"  # no demo customers or prices: the tests make their own


@pytest.fixture(autouse=True)
def price_book(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        factories.price_book_version(
            s,
            now=clock.now(),
            prices=PRICES,
            effective_from=date(2026, 1, 1),
            name="List prices 2026",
        )


@pytest.fixture
def key(app: Flask) -> dict[str, str]:
    """An AZT customer's."""
    return bearer(new_customer_key(app))


@pytest.fixture
def other_key(app: Flask) -> dict[str, str]:
    """Another AZT customer's."""
    return bearer(new_customer_key(app))


def _quote(client: FlaskClient, key: dict[str, str], *lines: dict[str, Any], **extra: Any) -> Any:
    response = client.post("/api/v1/quotes", json={"lines": list(lines), **extra}, headers=key)
    assert response.status_code == 201, response.text
    return response.get_json()


def test_products_carry_the_list_prices_in_force_today(
    client: FlaskClient, key: dict[str, str]
) -> None:
    response = client.get("/api/v1/products", headers=key)
    assert response.status_code == 200
    body = response.get_json()
    assert body["meta"] == {"page": 1, "per_page": 50, "total": 6, "pages": 1}
    products = {p["code"]: p for p in body["items"]}
    assert list(products) == ["WL10G", "WL100G", "WL400G", "WL800G", "SPECTRUM", "FIBER_PAIR"]

    wl = products["WL100G"]
    assert (wl["kind"], wl["width_ghz"], wl["circuit_prefix"]) == ("wavelength", "50", "WL")
    assert wl["models"] == ["lease", "iru"]
    assert wl["price_book"] == {"name": "List prices 2026", "effective_from": "2026-01-01"}
    assert wl["prices"][0] == {
        "protection": "unprotected",
        "model": "lease",
        "term_min_months": 12,
        "term_max_months": 23,
        "unit": "circuit",
        "mrc": _money("6000.00"),
        "nrc": _money("5000.00"),
        "iru_fee": None,
        "om_rate_percent": None,
    }
    protected_iru = [
        p for p in wl["prices"] if p["protection"] == "protected" and p["model"] == "iru"
    ]
    assert [(p["term_min_months"], p["iru_fee"]) for p in protected_iru] == [
        (120, _money("1080000.00")),
        (180, _money("1350000.00")),
    ]
    assert {p["om_rate_percent"] for p in protected_iru} == {"4"}

    assert products["SPECTRUM"]["width_ghz"] is None
    assert {p["unit"] for p in products["SPECTRUM"]["prices"]} == {"slot"}
    fiber = products["FIBER_PAIR"]
    assert fiber["models"] == ["iru"]
    assert {p["model"] for p in fiber["prices"]} == {"iru"}

    page = client.get("/api/v1/products?page=2&per_page=4", headers=key).get_json()
    assert [p["code"] for p in page["items"]] == ["SPECTRUM", "FIBER_PAIR"]
    assert page["meta"] == {"page": 2, "per_page": 4, "total": 6, "pages": 2}


def test_the_whole_flow_from_quote_to_an_active_service(
    client: FlaskClient, key: dict[str, str], db: Database, clock: FrozenClock
) -> None:
    quote = _quote(
        client,
        key,
        {"product": "WL100G", "protection": "protected", "term_months": 36, "quantity": 2},
        {"product": "FIBER_PAIR", "model": "iru", "term_months": 180},
        notes="for the Baku POP",
    )
    assert quote["number"] == "Q-2026-000001"
    assert quote["state"] == "open"
    assert quote["valid_until"] == "2026-12-09T09:00:00+00:00"  # 14 days
    assert quote["notes"] == "for the Baku POP"
    wl, fp = quote["lines"]
    assert wl["list_unit_price"]["mrc"] == _money("8640.00")  # protected, 36-month band
    assert wl["unit_price"]["mrc"] == _money("8640.00")
    assert wl["total"]["mrc"] == _money("17280.00")  # × 2
    assert wl["total"]["nrc"] == _money("18000.00")
    assert wl["unit_price"]["iru_fee"] is None and wl["discount_percent"] == "0"
    assert fp["unit_price"]["iru_fee"] == _money("30000000.00")
    assert fp["unit_price"]["annual_om"] == _money("1200000.00")  # 4 %
    assert fp["unit_price"]["mrc"] is None
    assert quote["totals"] == {
        "mrc": _money("17280.00"),
        "nrc": _money("18000.00"),
        "iru_fee": _money("30000000.00"),
        "annual_om": _money("1200000.00"),
    }
    # Each unit of the protected line holds 4 slots on the main and on the reserve route.
    unit_2 = wl["holds"][1]["spectrum"]
    assert [
        (h["route"], h["segment"], h["fiber_pair"], h["first_slot"], h["last_slot"]) for h in unit_2
    ] == [
        ("main", "S1", 1, 4, 7),
        ("reserve", "S2", 1, 4, 7),
    ]
    assert {h["state"] for h in unit_2} == {"hold"}
    assert {h["hold_expires_at"] for h in unit_2} == {quote["valid_until"]}
    assert unit_2[0]["start_thz"] == "191.37500" and unit_2[0]["end_thz"] == "191.42500"
    assert [h["fiber_pair"] for h in fp["holds"][0]["spectrum"]] == [2]

    assert client.get(f"/api/v1/quotes/{quote['id']}", headers=key).get_json() == quote
    listed = client.get("/api/v1/quotes", headers=key).get_json()
    assert [q["number"] for q in listed["items"]] == ["Q-2026-000001"]

    accepted = client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=key)
    assert accepted.status_code == 201, accepted.text
    contract = accepted.get_json()
    assert contract["number"] == "C-2026-000001"
    assert contract["quote_number"] == quote["number"]
    assert contract["signed_at"] == "2026-11-25T09:00:00+00:00"
    circuits = [s["circuit_id"] for s in contract["services"]]
    assert circuits == ["TCF-WL-000001", "TCF-WL-000002", "TCF-FP-000001"]
    assert {s["state"] for s in contract["services"]} == {"pending"}
    assert contract["services"][0]["prices"]["mrc"] == _money("8640.00")
    assert contract["services"][2]["model"] == "iru"
    assert contract["services"][2]["term_months"] == 180

    after = client.get(f"/api/v1/quotes/{quote['id']}", headers=key).get_json()
    assert after["state"] == "accepted" and after["contract"] == "C-2026-000001"
    assert {h["state"] for h in after["lines"][0]["holds"][0]["spectrum"]} == {"allocated"}

    # Operations bring the circuit into service; the customer sees it through the API.
    with db.transaction() as s:
        transition_service(
            s,
            circuits[1],
            "activate",
            effective_date=clock.now().date(),
            seller=factories.party_seller(s, "AZT"),
            now=clock.now(),
        )
    service = client.get(f"/api/v1/services/{circuits[1]}", headers=key).get_json()
    assert service["state"] == "active"
    assert service["ready_for_service_date"] == "2026-11-25"
    assert service["contract"] == "C-2026-000001"
    assert (service["product"], service["protection"], service["width_ghz"]) == (
        "WL100G",
        "protected",
        "50",
    )
    assert [(e["from_state"], e["to_state"]) for e in service["history"]] == [
        (None, "pending"),
        ("pending", "active"),
    ]
    assert [(a["segment"], a["first_slot"], a["state"]) for a in service["spectrum"]] == [
        ("S1", 4, "allocated"),
        ("S2", 4, "allocated"),
    ]

    services = client.get("/api/v1/services", headers=key).get_json()
    assert services["meta"]["total"] == 3
    assert [s["circuit_id"] for s in services["items"]] == list(reversed(circuits))
    active = client.get("/api/v1/services?state=active", headers=key).get_json()
    assert [s["circuit_id"] for s in active["items"]] == [circuits[1]]


def test_a_key_sees_only_its_own_customers_quotes_and_services(
    client: FlaskClient, key: dict[str, str], other_key: dict[str, str], db: Database
) -> None:
    quote = _quote(client, key, {"product": "WL100G", "term_months": 12})
    other = _quote(client, other_key, {"product": "WL10G", "term_months": 12})

    api_error(client.get(f"/api/v1/quotes/{quote['id']}", headers=other_key), 404)
    api_error(client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=other_key), 404)
    assert _count(db, Contract) == 0
    assert client.get(f"/api/v1/quotes/{quote['id']}", headers=key).get_json()["state"] == "open"
    listed = client.get("/api/v1/quotes", headers=other_key).get_json()
    assert [q["id"] for q in listed["items"]] == [other["id"]]

    contract = client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=key).get_json()
    circuit = contract["services"][0]["circuit_id"]
    api_error(client.get(f"/api/v1/services/{circuit}", headers=other_key), 404)
    assert client.get("/api/v1/services", headers=other_key).get_json()["items"] == []
    assert client.get(f"/api/v1/services/{circuit}", headers=key).status_code == 200


def test_a_discount_cannot_be_given_through_the_api(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    for discount in ("5", 10, "0.01"):
        response = client.post(
            "/api/v1/quotes",
            json={
                "lines": [{"product": "WL100G", "term_months": 12, "discount_percent": discount}]
            },
            headers=key,
        )
        body = api_error(response, 422)
        assert "account manager" in body["message"]
        assert "discount_percent" in error_fields(body["errors"])
    assert _count(db, Quote) == 0 and _count(db, Allocation) == 0
    zero = _quote(client, key, {"product": "WL100G", "term_months": 12, "discount_percent": "0.00"})
    assert zero["lines"][0]["discount_percent"] == "0"


@pytest.mark.parametrize(
    ("line", "status", "field"),
    [
        ({"product": "WL1T", "term_months": 12}, 404, "product"),
        ({"product": "WL100G", "route": "north", "term_months": 12}, 404, "route"),
        ({"product": "WL100G", "term_months": 11}, 422, "term_months"),
        ({"product": "WL100G", "term_months": 61}, 422, "term_months"),
        ({"product": "WL100G", "model": "iru", "term_months": 108}, 422, "term_months"),
        ({"product": "WL100G", "model": "iru", "term_months": 312}, 422, "term_months"),
        ({"product": "WL100G", "model": "iru", "term_months": 150}, 422, "term_months"),
        ({"product": "WL100G", "model": "rent", "term_months": 12}, 422, "model"),
        ({"product": "FIBER_PAIR", "term_months": 24}, 422, "model"),
        ({"product": "WL100G", "term_months": 12, "quantity": 0}, 422, "quantity"),
        ({"product": "WL100G", "term_months": 12, "quantity": 33}, 422, "quantity"),
        ({"product": "SPECTRUM", "term_months": 12, "width_ghz": "30"}, 422, "width_ghz"),
        ({"product": "SPECTRUM", "term_months": 12}, 422, "width_ghz"),
        ({"product": "WL100G", "term_months": 12, "width_ghz": 75}, 422, "width_ghz"),
        ({"product": "WL100G"}, 422, "term_months"),
        ({"product": "WL100G", "term_months": 12, "colour": "blue"}, 422, "colour"),
    ],
)
def test_bad_lines_get_a_clear_error_and_write_nothing(
    client: FlaskClient,
    key: dict[str, str],
    db: Database,
    line: dict[str, Any],
    status: int,
    field: str,
) -> None:
    response = client.post(
        "/api/v1/quotes",
        json={"lines": [{"product": "WL10G", "term_months": 12}, line]},
        headers={**key, "Idempotency-Key": "bad-line"},
    )
    body = api_error(response, status)
    assert field in error_fields(body["errors"]), body
    assert "1" in body["errors"]["lines"], "the error names its line"
    assert _count(db, Quote) == 0
    assert _count(db, Allocation) == 0
    assert _count(db, IdempotencyRecord) == 0


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({}, "lines", 422),
        ({"lines": []}, "lines", 422),
        ({"lines": [{"product": "WL100G", "term_months": 12}] * 21}, "lines", 422),
        ({"lines": [{"product": "WL100G", "term_months": 12}], "valid_days": 0}, "valid_days", 422),
        (
            {"lines": [{"product": "WL100G", "term_months": 12}], "valid_days": 91},
            "valid_days",
            422,
        ),
        ({"lines": [{"product": "WL100G", "term_months": 12}], "notes": "\x00"}, "notes", 400),
    ],
)
def test_bad_quotes_are_refused(
    client: FlaskClient,
    key: dict[str, str],
    db: Database,
    body: dict[str, Any],
    field: str,
    status: int,
) -> None:
    response = client.post("/api/v1/quotes", json=body, headers=key)
    assert field in error_fields(api_error(response, status)["errors"])
    assert _count(db, Quote) == 0 and _count(db, Allocation) == 0


def test_a_malformed_json_body_gets_400_in_the_error_shape(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    response = client.post(
        "/api/v1/quotes",
        data='{"lines": [',
        headers={**key, "Content-Type": "application/json", "Idempotency-Key": "k1"},
    )
    api_error(response, 400)
    assert _count(db, Quote) == 0 and _count(db, IdempotencyRecord) == 0


def test_without_a_key_nothing_is_quoted(client: FlaskClient, db: Database) -> None:
    response = client.post("/api/v1/quotes", json={"lines": [{"product": "WL100G"}]})
    api_error(response, 401)
    api_error(client.get("/api/v1/services"), 401)
    assert _count(db, Quote) == 0


def test_spectrum_that_cannot_be_held_answers_409_and_holds_nothing(
    client: FlaskClient, key: dict[str, str], db: Database, clock: FrozenClock
) -> None:
    fill_main_route_but_one_100g(db, clock)
    before = _count(db, Allocation)
    response = client.post(
        "/api/v1/quotes",
        json={"lines": [{"product": "WL100G", "term_months": 12, "quantity": 2}]},
        headers=key,
    )
    body = api_error(response, 409)
    assert "alternative" in body["errors"]
    assert "not free" in body["message"]
    assert _count(db, Allocation) == before and _count(db, Quote) == 0
    one = _quote(client, key, {"product": "WL100G", "term_months": 12})
    assert one["lines"][0]["holds"][0]["spectrum"][0]["fiber_pair"] == 4


def test_an_expired_quote_cannot_be_accepted_and_its_spectrum_is_free(
    client: FlaskClient, key: dict[str, str], db: Database, clock: FrozenClock
) -> None:
    quote = _quote(client, key, {"product": "WL400G", "term_months": 24}, valid_days=3)
    held = "/api/v1/availability?route=main&product=WL400G"
    assert client.get(held, headers=key).get_json()["suggestion"][0]["first_slot"] == 6

    clock.advance(timedelta(days=3, seconds=1))
    body = api_error(client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=key), 409)
    assert "expired" in body["message"]
    assert _count(db, Contract) == 0 and _count(db, Service) == 0
    expired = client.get(f"/api/v1/quotes/{quote['id']}", headers=key).get_json()
    assert expired["state"] == "expired"
    spectrum = expired["lines"][0]["holds"][0]["spectrum"][0]
    assert spectrum["state"] == "expired" and spectrum["hold_expires_at"] is None
    free = client.get(held, headers=key).get_json()
    assert free["suggestion"][0]["first_slot"] == 0
    assert free["fiber_pairs"][0]["utilisation"]["held_slots"] == 0


def test_a_quote_is_accepted_once(client: FlaskClient, key: dict[str, str], db: Database) -> None:
    quote = _quote(client, key, {"product": "WL100G", "term_months": 12})
    assert client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=key).status_code == 201
    body = api_error(client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=key), 409)
    assert "already accepted" in body["message"]
    assert _count(db, Contract) == 1 and _count(db, Service) == 1
    api_error(client.post("/api/v1/quotes/999999/accept", headers=key), 404)
    api_error(client.get("/api/v1/quotes/99999999999", headers=key), 404)
    api_error(client.get("/api/v1/services/TCF-WL-999999", headers=key), 404)
    api_error(client.get("/api/v1/services/%00", headers=key), 404)


def test_quotes_are_listed_newest_first_a_page_at_a_time(
    client: FlaskClient, key: dict[str, str]
) -> None:
    numbers = [
        _quote(client, key, {"product": "WL10G", "term_months": 12})["number"] for _ in range(3)
    ]
    page = client.get("/api/v1/quotes?per_page=2", headers=key).get_json()
    assert page["meta"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    assert [q["number"] for q in page["items"]] == numbers[:0:-1]
    last = client.get("/api/v1/quotes?per_page=2&page=2", headers=key).get_json()
    assert [q["number"] for q in last["items"]] == numbers[:1]
    api_error(client.get("/api/v1/services?state=dormant", headers=key), 422)
