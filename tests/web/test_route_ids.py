"""Ids in addresses (issue 14): one URL converter bounds every route's id to an INTEGER column's
range, on the web pages and the API alike, so an id past it is a 404 before any form is read,
on both databases (PostgreSQL's INTEGER stops at 2^31 - 1, SQLite's at 2^63 - 1)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter

from billing.input_guard import RecordIdConverter
from billing.validation import INT_MAX
from tests.helpers import csrf_token, login

ADMIN = "admin@azertelecom.az"
PAST_THE_COLUMN = [str(2**31), str(2**63), "9" * 400]
ID_ARGUMENT = re.compile(r"<id:([a-z_]+)>")
OTHER_ARGUMENT = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>")


def id_rules(app: Flask) -> list[str]:
    return sorted({r.rule for r in app.url_map.iter_rules() if ID_ARGUMENT.search(r.rule)})


def address(rule: str, value: str) -> str:
    """The rule with every id set to `value` and any other argument to a plain word."""
    return OTHER_ARGUMENT.sub("x", ID_ARGUMENT.sub(value, rule))


def test_every_id_in_a_route_is_bounded_by_the_one_converter(app: Flask) -> None:
    plain = [
        r.rule
        for r in app.url_map.iter_rules()
        if any(isinstance(c, IntegerConverter) for c in r._converters.values())
    ]
    assert plain == [], f"routes with a plain int converter (use <id:...>): {plain}"
    ids = id_rules(app)
    # The web's pages of records and the API's quotes: not a handful, every one of them.
    assert len(ids) >= 40, ids
    assert any(rule.startswith("/api/v1/quotes/") for rule in ids)


def test_an_id_past_the_column_is_not_found_on_every_route_and_method(
    app: Flask, client: FlaskClient
) -> None:
    login(client, ADMIN)
    token = csrf_token(client.get("/customers/new").text)
    answers = {}
    for rule in id_rules(app):
        for value in PAST_THE_COLUMN:
            url = address(rule, value)
            # A form with a NUL in it: read first, it would be a 400; the address comes first.
            form = {"csrf_token": token, "reason": "a\x00b", "amount": "1"}
            answers[("GET", url)] = client.get(url).status_code
            answers[("POST", url)] = client.post(url, data=form).status_code
    wrong = {where: status for where, status in answers.items() if status != 404}
    assert wrong == {}, wrong


def test_the_largest_id_is_looked_up_and_simply_not_found(app: Flask, client: FlaskClient) -> None:
    login(client, ADMIN)
    for rule in id_rules(app):
        url = address(rule, str(INT_MAX))
        assert client.get(url).status_code < 500, url


def test_the_api_answers_an_id_past_the_column_in_its_error_shape(client: FlaskClient) -> None:
    response = client.get(f"/api/v1/quotes/{2**31}")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("1", True),
        ("42", True),
        (str(INT_MAX), True),
        (str(INT_MAX - 1), True),
        ("1999999999", True),
        ("0", False),
        ("007", False),
        ("-1", False),
        ("+1", False),
        (str(INT_MAX + 1), False),
        ("2147483650", False),
        ("9999999999", False),
        (str(2**63), False),
        ("１２", False),  # full-width digits: \d takes them, an id does not
        ("١٢", False),
        ("1e3", False),
        ("9" * 5000, False),
    ],
)
def test_the_id_converter_takes_exactly_1_to_the_column_maximum(text: str, matches: bool) -> None:
    assert bool(re.fullmatch(f"(?:{RecordIdConverter.regex})", text)) is matches


def test_ids_are_documented_as_bounded_integers(app: Flask) -> None:
    with app.test_request_context():
        spec = app.extensions["billing.api"].spec.to_dict()
    (parameter,) = spec["paths"]["/api/v1/quotes/{quote_id}"]["parameters"]
    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": INT_MAX}
