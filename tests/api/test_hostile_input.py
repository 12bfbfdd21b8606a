"""Input no field may hold is refused at the door with a 4xx, and nothing is written (SPEC 9).

Each case here answered 500 once: PostgreSQL refuses NUL in text, Python refuses to convert
5,000-digit integers, the JSON parser recurses on deep nesting, UTF-8 cannot hold a lone surrogate.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.db import Database
from billing.parties.models import Customer
from billing.sales.models import Quote
from tests.helpers import api_error, bearer, customer_id, login, make_api_key, post_form

SILK = "Silk Route Carrier GmbH"
QUOTES = "/api/v1/quotes"


@pytest.fixture
def key(app: Flask, db: Database) -> dict[str, str]:
    return bearer(make_api_key(app, customer_id(db, SILK)))


def _written(db: Database) -> tuple[int, ...]:
    with db.transaction() as s:
        return tuple(
            int(s.execute(select(func.count()).select_from(model)).scalar_one())
            for model in (Quote, Customer, AuditEntry)
        )


def _post_raw(client: FlaskClient, key: dict[str, str], body: bytes | str, **headers: str) -> Any:
    return client.post(
        QUOTES,
        data=body,
        headers={**key, "Content-Type": "application/json", **headers},
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param("[" * 1000 + "]" * 1000, "json", id="nested-1000-deep"),
        pytest.param('{"lines": [{"quantity": ' + "9" * 5000 + "}]}", "json", id="5000-digits"),
        pytest.param('{"notes": "\\ud800", "lines": []}', "notes", id="lone-surrogate"),
        pytest.param('{"notes": "a\\u0000b", "lines": []}', "notes", id="nul-in-text"),
        pytest.param('{"lines": [{"quantity": NaN}]}', "json", id="nan-literal"),
        pytest.param('{"lines": [{"quantity": Infinity}]}', "json", id="infinity-literal"),
        pytest.param('{"lines": [', "json", id="truncated"),
    ],
)
def test_a_hostile_json_body_gets_400_and_writes_nothing(
    client: FlaskClient, key: dict[str, str], db: Database, body: str, field: str
) -> None:
    before = _written(db)
    error = api_error(_post_raw(client, key, body), 400)
    assert field in error["errors"], error
    assert _written(db) == before


def test_a_body_that_is_not_json_gets_415(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    before = _written(db)
    response = client.post(QUOTES, data="lines=1", headers={**key, "Content-Type": "text/plain"})
    api_error(response, 415)
    assert _written(db) == before


def test_a_body_over_one_megabyte_gets_413(
    client: FlaskClient, key: dict[str, str], db: Database
) -> None:
    before = _written(db)
    body = '{"notes": "' + "x" * (1024 * 1024) + '", "lines": []}'
    api_error(_post_raw(client, key, body), 413)
    assert _written(db) == before


@pytest.mark.parametrize("value", ["main\x00", "\x00", "%00"])
def test_nul_in_a_query_parameter_gets_400_naming_it(
    client: FlaskClient, key: dict[str, str], value: str
) -> None:
    query = {"route": value, "product": "WL100G"}
    if value == "%00":
        response = client.get("/api/v1/availability?route=%00&product=WL100G", headers=key)
    else:
        response = client.get("/api/v1/availability", query_string=query, headers=key)
    error = api_error(response, 400)
    assert error["errors"] == {"route": ["must not contain NUL characters"]}


def test_nul_in_an_address_is_not_found(client: FlaskClient, key: dict[str, str]) -> None:
    api_error(client.get("/api/v1/services/%00", headers=key), 404)
    login(client)
    response = client.get("/services/%00")
    assert response.status_code == 404
    assert "No page or resource" in response.text


def test_nul_in_a_form_field_is_refused_and_writes_nothing(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    before = _written(db)
    response = post_form(
        client,
        "/customers/new",
        "/customers/new",
        {
            "legal_name": "Null Byte Telecom\x00",
            "country": "DE",
            "billing_currency": "USD",
            "payment_terms_days": "30",
        },
    )
    assert response.status_code == 400
    assert "must not contain NUL characters" in response.text
    assert _written(db) == before


def test_nul_in_a_list_filter_is_refused(client: FlaskClient) -> None:
    login(client, "admin@azertelecom.az")
    response = client.get("/admin/audit?action=%00")
    assert response.status_code == 400
    assert "must not contain NUL characters" in response.text
