"""Helpers tests share: logging in through the real form, API keys, reading CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.http import HTTP_STATUS_CODES

from billing.access.services import create_api_key
from billing.db import Database
from billing.parties.models import Customer

PASSWORD = "caspian-demo-2026"
FAST_HASH = "pbkdf2:sha256:1000"  # cheap to hash in tests
_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, email: str = "sales@azertelecom.az") -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 302, response.text


def post_form(client: FlaskClient, url: str, page_url: str, data: dict[str, Any]) -> Any:
    """POST a form the way a browser does: with the CSRF token of the page it came from."""
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={**data, "csrf_token": token})


def customer_id(db: Database, legal_name: str) -> int:
    from sqlalchemy import select

    with db.transaction() as s:
        return int(
            s.execute(select(Customer.id).where(Customer.legal_name == legal_name)).scalar_one()
        )


def make_api_key(app: Flask, customer: int) -> str:
    db: Database = app.extensions["billing.db"]
    clock = app.extensions["billing.clock"]
    with db.transaction() as s:
        _, secret = create_api_key(
            s, customer_id=customer, name="test", actor="test", now=clock.now()
        )
    return secret


def new_customer_key(app: Flask, *, owner: str = "AZT") -> str:
    """The API key of a new customer of `owner`, made by tests.factories on any database."""
    from tests import factories  # imported here: factories imports this module

    db: Database = app.extensions["billing.db"]
    with db.transaction() as s:
        customer = factories.customer(s, now=app.extensions["billing.clock"].now(), owner=owner)
    return make_api_key(app, customer.id)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def api_error(response: Any, status: int) -> dict[str, Any]:
    """The API's one error shape (SPEC 9), with this status; returns the body."""
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert set(body) == {"code", "type", "status", "message", "errors"}, body
    assert body["code"] == status
    assert isinstance(body["type"], str) and body["type"].isidentifier(), body["type"]
    assert body["status"] == HTTP_STATUS_CODES[status]
    assert isinstance(body["message"], str) and body["message"].strip()
    assert isinstance(body["errors"], dict)
    return dict(body)


def error_fields(errors: dict[str, Any]) -> set[str]:
    """Every key at any depth of an `errors` object: {"query": {"page": [..]}} -> {query, page}."""
    names: set[str] = set()
    for key, value in errors.items():
        names.add(key)
        if isinstance(value, dict):
            names |= error_fields(value)
    return names


def fill_main_route_but_one_100g(db: Database, clock: Any) -> None:
    """Allocate main-route pairs 1–3 whole and all but 50 GHz of pair 4: one 100G fits."""
    from decimal import Decimal

    from billing.inventory.models import ReservationKind
    from billing.inventory.services import SpectrumRequest, reserve_spectrum

    with db.transaction() as s:
        for request in [
            *(
                SpectrumRequest("main", "unprotected", "FIBER_PAIR", fiber_pair=p)
                for p in (1, 2, 3)
            ),
            SpectrumRequest(
                "main", "unprotected", "SPECTRUM", width_ghz=Decimal("4750"), fiber_pair=4
            ),
        ]:
            reserve_spectrum(
                s,
                request,
                hold_until=None,
                kind=ReservationKind.OWN_USE,
                reason="test: fill the main route",
                actor="test",
                now=clock.now(),
            )
