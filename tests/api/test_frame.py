"""The API frame (SPEC 8, 9): keys, one error shape, pages; and what /availability tells a carrier."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import billing.models  # noqa: F401 - registers every table on the metadata
from billing.access.models import ApiKey
from billing.access.services import revoke_api_key
from billing.clock import FrozenClock
from billing.db import Base, Database
from billing.inventory.services import SpectrumRequest, confirm_reservation, reserve_spectrum
from tests.helpers import api_error, bearer, customer_id, error_fields, make_api_key

ROUTES = "/api/v1/routes"
AVAILABILITY = "/api/v1/availability"
ENDPOINTS = [ROUTES, f"{AVAILABILITY}?route=main&product=WL100G"]
SILK = "Silk Route Carrier GmbH"
CASPIAN = "Caspian Transit LLP"
ANATOLIA = "Anatolia Backbone A.S."
BAND_END_THZ = "196.12500"


@pytest.fixture
def secret(app: Flask, db: Database) -> str:
    return make_api_key(app, customer_id(db, SILK))


def _hold(
    db: Database,
    clock: FrozenClock,
    request: SpectrumRequest,
    *,
    customer: int | None = None,
    days: int | None = 14,
) -> None:
    """Hold for `days`, or allocate outright when days is None."""
    with db.transaction() as s:
        held = reserve_spectrum(
            s,
            request,
            hold_until=clock.now() + timedelta(days=days if days is not None else 1),
            customer_id=customer,
            actor="test",
            now=clock.now(),
        )
        if days is None:  # allocated, as accepting a quote does: sold spectrum is only held first
            confirm_reservation(s, held.id, actor="test", now=clock.now())


def _availability(client: FlaskClient, secret: str, **args: str) -> dict[str, Any]:
    response = client.get(AVAILABILITY, query_string=args, headers=bearer(secret))
    assert response.status_code == 200, response.text
    return dict(response.json or {})


def _pair(body: dict[str, Any], segment: str, number: int) -> dict[str, Any]:
    matches = [
        p for p in body["fiber_pairs"] if p["segment"] == segment and p["fiber_pair"] == number
    ]
    assert len(matches) == 1, body["fiber_pairs"]
    return dict(matches[0])


def _free(first: int, last: int, start_thz: str, end_thz: str) -> dict[str, Any]:
    return {
        "first_slot": first,
        "last_slot": last,
        "slots": last - first + 1,
        "start_thz": start_thz,
        "end_thz": end_thz,
    }


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_valid_key_is_served(client: FlaskClient, secret: str, url: str) -> None:
    response = client.get(url, headers=bearer(secret))
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/json"


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"Authorization": "Token tcf_abcdefghijklmnopqrstuvwxyz"},
        {"Authorization": "Basic c2FsZXM6Y2FzcGlhbi1kZW1vLTIwMjY="},
        {"Authorization": "Bearer tcf_" + "x" * 43},
        {"Authorization": "Bearer not-one-of-our-keys"},
    ],
    ids=["none", "empty", "no-key", "blank-key", "other-scheme", "basic", "unknown", "foreign"],
)
def test_no_valid_key_is_401(client: FlaskClient, url: str, headers: dict[str, str]) -> None:
    body = api_error(client.get(url, headers=headers), 401)
    assert "key" in body["message"].lower()


def test_the_key_without_the_bearer_scheme_is_401(client: FlaskClient, secret: str) -> None:
    api_error(client.get(ROUTES, headers={"Authorization": secret}), 401)
    api_error(client.get(ROUTES, headers={"Authorization": f"Token {secret}"}), 401)


def test_the_key_is_checked_before_the_arguments(client: FlaskClient) -> None:
    # Without a key, a bad request learns nothing about the arguments: 401, not 422.
    api_error(client.get(f"{AVAILABILITY}?protection=half"), 401)


def test_a_revoked_key_is_401_at_once(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    for url in ENDPOINTS:
        assert client.get(url, headers=bearer(secret)).status_code == 200
    with db.transaction() as s:
        key = s.execute(select(ApiKey)).scalar_one()
        revoke_api_key(s, key.id, actor="test", now=clock.now())
    for url in ENDPOINTS:
        body = api_error(client.get(url, headers=bearer(secret)), 401)
        assert "revoked" in body["message"]


def test_a_key_is_stored_only_as_its_sha256(client: FlaskClient, db: Database, secret: str) -> None:
    assert client.get(ROUTES, headers=bearer(secret)).status_code == 200
    with db.transaction() as s:
        key = s.execute(select(ApiKey)).scalar_one()
        assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        # Not in api_keys, nor in the audit log, nor anywhere else in the database.
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)):
                assert all(secret not in str(value) for value in row), table.name


def test_each_call_records_when_the_key_was_last_used_once_answered(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    def last_used() -> Any:
        with db.transaction() as s:
            return s.execute(select(ApiKey.last_used_at)).scalar_one()

    assert last_used() is None
    with client.get(ROUTES, headers=bearer(secret)) as response:
        assert response.status_code == 200
        # The GET itself writes nothing: the use is recorded once the answer has been sent.
        assert last_used() is None
    assert last_used() == clock.now()
    first = clock.now()
    clock.advance(timedelta(seconds=59))
    with client.get(ROUTES, headers=bearer(secret)) as response:
        assert response.status_code == 200
    assert last_used() == first  # kept to the minute
    clock.advance(timedelta(hours=3))
    with client.get(ENDPOINTS[1], headers=bearer(secret)) as response:
        assert response.status_code == 200
    assert last_used() == clock.now()


def test_a_refused_key_does_not_record_a_use(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    with db.transaction() as s:
        key = s.execute(select(ApiKey)).scalar_one()
        revoke_api_key(s, key.id, actor="test", now=clock.now())
    api_error(client.get(ROUTES, headers=bearer(secret)), 401)
    with db.transaction() as s:
        assert s.execute(select(ApiKey.last_used_at)).scalar_one() is None


# --- one error shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"{AVAILABILITY}?route=atlantic&product=WL100G", "route"),
        (f"{AVAILABILITY}?route=main&product=WL9000G", "product"),
    ],
)
def test_unknown_route_or_product_is_404(
    client: FlaskClient, secret: str, url: str, field: str
) -> None:
    body = api_error(client.get(url, headers=bearer(secret)), 404)
    assert field in error_fields(body["errors"])


@pytest.mark.parametrize("url", ["/api/v1/nowhere", "/api/v1/routes/main/nowhere", "/api/v1/"])
def test_unknown_api_url_is_404_in_the_api_shape(
    client: FlaskClient, secret: str, url: str
) -> None:
    api_error(client.get(url, headers=bearer(secret)), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("route=main&product=WL100G&protection=half", "protection"),
        ("route=main&product=SPECTRUM&width_ghz=30", "width_ghz"),
        ("route=main&product=SPECTRUM&width_ghz=abc", "width_ghz"),
        ("route=main&product=SPECTRUM&width_ghz=12", "width_ghz"),
        ("route=main&product=SPECTRUM", "width_ghz"),
        ("route=main&product=WL100G&width_ghz=12.5", "width_ghz"),
        ("route=main", "product"),
        ("product=WL100G", "route"),
        ("route=reserve&product=WL100G&protection=protected", "protection"),
    ],
)
def test_bad_availability_arguments_are_422_naming_the_field(
    client: FlaskClient, secret: str, query: str, field: str
) -> None:
    body = api_error(client.get(f"{AVAILABILITY}?{query}", headers=bearer(secret)), 422)
    assert field in body["errors"], body  # keyed by the field, whichever layer refused it


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
    ],
)
def test_bad_paging_arguments_are_422_naming_the_field(
    client: FlaskClient, secret: str, query: str, field: str
) -> None:
    body = api_error(client.get(f"{ROUTES}?{query}", headers=bearer(secret)), 422)
    assert field in body["errors"], body


# --- routes and pages -----------------------------------------------------------------------


def test_routes_list_the_cable_system_in_a_page_envelope(client: FlaskClient, secret: str) -> None:
    body = client.get(ROUTES, headers=bearer(secret)).json
    assert body is not None
    assert body["meta"] == {"page": 1, "per_page": 50, "total": 2, "pages": 1}
    main, reserve = body["items"]
    assert (main["code"], main["protection_route"]) == ("main", "reserve")
    assert (reserve["code"], reserve["protection_route"]) == ("reserve", None)
    (s1,) = main["segments"]
    assert (s1["code"], s1["a_station"]["code"], s1["b_station"]["code"]) == ("S1", "AKT", "SIY")
    assert (s1["fiber_pairs"], s1["slot_count"]) == (4, 384)
    assert Decimal(s1["length_km"]) == Decimal(main["length_km"]) == 345


@pytest.mark.parametrize(
    ("query", "codes", "meta"),
    [
        ("per_page=1", ["main"], {"page": 1, "per_page": 1, "total": 2, "pages": 2}),
        ("per_page=1&page=2", ["reserve"], {"page": 2, "per_page": 1, "total": 2, "pages": 2}),
        ("per_page=1&page=3", [], {"page": 3, "per_page": 1, "total": 2, "pages": 2}),
    ],
)
def test_routes_are_paged(
    client: FlaskClient, secret: str, query: str, codes: list[str], meta: dict[str, int]
) -> None:
    body = client.get(f"{ROUTES}?{query}", headers=bearer(secret)).json
    assert body is not None
    assert [r["code"] for r in body["items"]] == codes
    assert body["meta"] == meta


# --- availability ---------------------------------------------------------------------------


def test_an_empty_line_is_free_everywhere(client: FlaskClient, secret: str) -> None:
    body = _availability(client, secret, route="main", product="WL100G")
    assert (body["paths"], body["width_ghz"], body["width_slots"]) == (["main"], "50", 4)
    assert [(p["segment"], p["fiber_pair"]) for p in body["fiber_pairs"]] == [
        ("S1", n) for n in (1, 2, 3, 4)
    ]
    for pair in body["fiber_pairs"]:
        assert pair["free_ranges"] == [_free(0, 383, "191.32500", BAND_END_THZ)]
        assert pair["utilisation"]["free_percent"] == "100.0"
    assert body["available"] is True
    assert body["suggestion"] == [
        {
            "route": "main",
            "fiber_pair": 1,
            "first_slot": 0,
            "last_slot": 3,
            "start_thz": "191.32500",
            "end_thz": "191.37500",
            "centre_thz": "191.35000",
        }
    ]


def test_held_and_allocated_slots_leave_free_ranges_utilisation_and_a_suggestion_around_them(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    # Slots 0-3 held by a quote, 8-13 sold: a 4-slot hole at 4-7, free again from 14.
    _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0))
    _hold(
        db,
        clock,
        SpectrumRequest("main", "unprotected", "WL400G", fiber_pair=1, first_slot=8),
        days=None,
    )

    body = _availability(client, secret, route="main", product="WL100G")
    pair = _pair(body, "S1", 1)
    assert pair["free_ranges"] == [
        _free(4, 7, "191.37500", "191.42500"),
        _free(14, 383, "191.50000", BAND_END_THZ),
    ]
    assert pair["utilisation"] == {
        "allocated_slots": 6,
        "held_slots": 4,
        "free_slots": 374,
        "allocated_percent": "1.6",
        "held_percent": "1.0",
        "free_percent": "97.4",
    }
    assert _pair(body, "S1", 2)["utilisation"]["free_slots"] == 384
    # 4 slots fit in the hole; 6 slots do not, so they go past the sold range.
    assert [(s["fiber_pair"], s["first_slot"], s["last_slot"]) for s in body["suggestion"]] == [
        (1, 4, 7)
    ]
    wide = _availability(client, secret, route="main", product="WL400G")
    assert [(s["fiber_pair"], s["first_slot"], s["last_slot"]) for s in wide["suggestion"]] == [
        (1, 14, 19)
    ]
    assert wide["suggestion"][0]["start_thz"] == "191.50000"


def test_a_spectrum_width_is_asked_in_ghz_and_answered_in_slots(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    _hold(db, clock, SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0))
    body = _availability(client, secret, route="main", product="SPECTRUM", width_ghz="37.5")
    assert (body["width_ghz"], body["width_slots"]) == ("37.5", 3)
    assert [(s["first_slot"], s["last_slot"]) for s in body["suggestion"]] == [(4, 6)]


def test_a_full_band_answers_not_available_rather_than_an_error(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    for number in (1, 2, 3, 4):
        _hold(db, clock, SpectrumRequest("main", "unprotected", "FIBER_PAIR", fiber_pair=number))
    body = _availability(client, secret, route="main", product="WL10G")
    assert body["available"] is False
    assert body["suggestion"] is None
    for pair in body["fiber_pairs"]:
        assert pair["free_ranges"] == []
        assert pair["utilisation"]["held_percent"] == "100.0"


def test_an_expired_hold_shows_as_free_at_once(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    request = SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0)
    _hold(db, clock, request, days=1)
    held = _availability(client, secret, route="main", product="WL100G")
    assert _pair(held, "S1", 1)["utilisation"]["held_slots"] == 4
    clock.advance(timedelta(days=1, seconds=1))
    body = _availability(client, secret, route="main", product="WL100G")
    assert _pair(body, "S1", 1)["free_ranges"] == [_free(0, 383, "191.32500", BAND_END_THZ)]
    assert body["suggestion"][0]["first_slot"] == 0


def test_protected_availability_shows_both_routes(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    _hold(
        db, clock, SpectrumRequest("reserve", "unprotected", "WL100G", fiber_pair=1, first_slot=0)
    )
    body = _availability(client, secret, route="main", protection="protected", product="WL100G")
    assert body["paths"] == ["main", "reserve"]
    assert [(p["segment"], p["fiber_pair"]) for p in body["fiber_pairs"]] == [
        (segment, n) for segment in ("S1", "S2") for n in (1, 2, 3, 4)
    ]
    assert _pair(body, "S2", 1)["utilisation"]["held_slots"] == 4
    assert _pair(body, "S1", 1)["utilisation"]["held_slots"] == 0
    # One fit per route, each free on its own route: the reserve side skips the held slots.
    assert [(s["route"], s["fiber_pair"], s["first_slot"]) for s in body["suggestion"]] == [
        ("main", 1, 0),
        ("reserve", 1, 4),
    ]


def test_availability_never_names_another_customer(
    client: FlaskClient, db: Database, clock: FrozenClock, secret: str
) -> None:
    _hold(
        db,
        clock,
        SpectrumRequest("main", "unprotected", "WL100G", fiber_pair=1, first_slot=0),
        customer=customer_id(db, CASPIAN),
    )
    _hold(
        db,
        clock,
        SpectrumRequest("main", "unprotected", "WL400G", fiber_pair=2, first_slot=0),
        customer=customer_id(db, ANATOLIA),
        days=None,
    )
    response = client.get(
        AVAILABILITY, query_string={"route": "main", "product": "WL100G"}, headers=bearer(secret)
    )
    assert response.status_code == 200
    body = response.json
    assert body is not None
    # Their spectrum is shown as taken ...
    assert _pair(body, "S1", 1)["utilisation"]["held_slots"] == 4
    assert _pair(body, "S1", 2)["utilisation"]["allocated_slots"] == 6
    # ... but not whose it is.
    for other in (CASPIAN, ANATOLIA, "Caspian Transit", "Anatolia", "caspiantransit", "anatolia"):
        assert other.lower() not in response.text.lower()
