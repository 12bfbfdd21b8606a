"""The API documents itself (SPEC 9): a valid OpenAPI document that every endpoint keeps to."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.queries import get_invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import record_fx_rate
from billing.parties.customers import Seller
from billing.parties.models import Customer
from tests import factories
from tests.helpers import bearer, customer_id, make_api_key
from tests.stripe_fakes import SECRET_KEY, FakeStripeHttp

SPEC_URL = "/api/v1/openapi.json"
# The documentation's own pages are not API operations.
DOCS_PATHS = {SPEC_URL, "/api/v1/docs", "/api/v1/docs/assets/{filename}"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Operations that must be seen answering 2xx, with the arguments (if any) that reach past "not
# found" into their real answer; the rest of each request is generated.
KNOWN_GOOD_QUERY: dict[str, dict[str, str]] = {
    "GET /api/v1/routes": {},
    "GET /api/v1/availability": {"route": "main", "product": "WL100G"},
    "GET /api/v1/products": {},
    "GET /api/v1/quotes": {},
    "GET /api/v1/contracts": {},
    "GET /api/v1/services": {},
    "GET /api/v1/invoices": {},
    "GET /api/v1/balance": {},
}
# Operations on one document, reached with the number of an issued invoice of the caller's.
KNOWN_GOOD_NUMBER = {
    "GET /api/v1/invoices/{number}",
    "GET /api/v1/invoices/{number}/pdf",
    "POST /api/v1/invoices/{number}/payment-session",  # card payment on, Stripe faked
}
KNOWN_GOOD_BODY: dict[str, dict[str, Any]] = {
    "POST /api/v1/quotes": {"lines": [{"product": "WL10G", "term_months": 12}]},
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _openapi_path(rule: str) -> str:
    """Flask's `/quotes/<int:quote_id>` is OpenAPI's `/quotes/{quote_id}`."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_document_is_valid(client: FlaskClient) -> None:
    response = client.get(SPEC_URL)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["openapi"].startswith("3.")
    validate(response.json)


def test_every_api_endpoint_is_documented_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    served = {
        (method, _openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and _openapi_path(rule.rule) not in DOCS_PATHS
        for method in (rule.methods or set()) - IGNORED_METHODS
    }
    spec = client.get(SPEC_URL).json
    assert spec is not None
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert ("GET", "/api/v1/routes") in served
    assert served == documented


def test_every_documented_operation_says_it_needs_a_key_and_documents_401(
    client: FlaskClient,
) -> None:
    spec = client.get(SPEC_URL).json
    assert spec is not None
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            assert operation.get("security", spec["security"]) == [{"bearerAuth": []}], path
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (method, path)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.links.append(str(values["href"]))


def test_docs_page_loads_every_asset_from_the_platform_itself(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assets = _Assets()
    assets.feed(page.text)
    assert assets.scripts, "the docs page loads no script"
    assert assets.links, "the docs page loads no stylesheet"
    for url in assets.scripts + assets.links:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is fetched from another host"
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data, url
        response.close()
    assert SPEC_URL in page.text


def _statuses_seen(strategy: Any, headers: dict[str, str], checks: list[Any]) -> set[int]:
    """Call the app with generated cases, validating each response; the statuses it answered."""
    statuses: set[int] = set()

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
    )
    @given(case=strategy)
    def call(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=checks)
        statuses.add(response.status_code)

    call()
    return statuses


def _issued_invoice(app: Flask, db: Database, customer: int) -> str:
    """The number of an issued invoice of `customer` (a service billed for this month, in the
    customer's currency at a rate entered today)."""
    clock = app.extensions["billing.clock"]
    with db.transaction() as s:
        buyer = s.get(Customer, customer)
        assert buyer is not None
        factories.active_service(s, now=clock.now(), customer=buyer)
        if buyer.billing_currency != "USD":
            record_fx_rate(
                s,
                base="USD",
                quote=buyer.billing_currency,
                rate=Decimal("0.92"),
                on=clock.now().date(),
                actor="test",
                now=clock.now(),
            )
    summary = run_billing(
        db.transaction,
        period=parse_period(f"{clock.now():%Y-%m}"),
        issuer_code=None,
        actor=Seller("test", None),
        clock=clock.now,
    )
    with db.transaction() as s:
        (draft,) = [i for i in summary.invoice_ids if get_invoice(s, i).customer_id == customer]
        issued = issue_invoice(
            s, draft, actor=Seller("test", None), now=clock.now(), render=render_invoices
        )
        assert issued.number is not None
        return issued.number


def test_every_operation_answers_within_its_documented_schema(app: Flask, db: Database) -> None:
    """Generated requests with a valid key: never a 5xx, always a documented status and body."""
    silk = customer_id(db, "Silk Route Carrier GmbH")
    secret = make_api_key(app, silk)
    number = _issued_invoice(app, db, silk)
    app.config["STRIPE_SECRET_KEY"] = SECRET_KEY
    app.extensions["billing.stripe_http"] = FakeStripeHttp()
    schema = schemathesis.openapi.from_wsgi(SPEC_URL, app)
    checks = CHECKS
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # an operation its own schema cannot describe
        operations.append(result.ok())
    assert {op.label for op in operations} >= {"GET /api/v1/routes", "GET /api/v1/availability"}

    for operation in operations:
        strategies = [
            operation.as_strategy(),
            operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
        ]
        if operation.label in KNOWN_GOOD_QUERY:
            strategies.append(operation.as_strategy(query=KNOWN_GOOD_QUERY[operation.label]))
        if operation.label in KNOWN_GOOD_BODY:
            strategies.append(
                operation.as_strategy(query={}, body=KNOWN_GOOD_BODY[operation.label])
            )
        if operation.label in KNOWN_GOOD_NUMBER:
            strategies.append(operation.as_strategy(path_parameters={"number": number}, query={}))
        statuses = _statuses_seen(st.one_of(strategies), bearer(secret), checks)
        # The key was accepted, so more than the 401 was checked ...
        assert statuses - {401}, f"{operation.label}: every request was refused"
        # ... and where we know how to reach it, the real answer too, not only the errors.
        if {operation.label} & (
            KNOWN_GOOD_QUERY.keys() | KNOWN_GOOD_BODY.keys() | KNOWN_GOOD_NUMBER
        ):
            assert any(200 <= s < 300 for s in statuses), (operation.label, statuses)


def test_linked_operations_hold_to_the_schema_in_sequence(app: Flask, db: Database) -> None:
    """Stateful: schemathesis chains operations by the links it infers (a quote's id into
    accept, cancel and get; a contract's number into get), starting from lists that already
    hold a quote of each state (and an issued invoice), and checks every answer as above."""
    silk = customer_id(db, "Silk Route Carrier GmbH")
    secret = make_api_key(app, silk)
    _issued_invoice(app, db, silk)
    client = app.test_client()
    quotes = []
    for _ in range(3):
        made = client.post(
            "/api/v1/quotes", json=KNOWN_GOOD_BODY["POST /api/v1/quotes"], headers=bearer(secret)
        )
        assert made.status_code == 201, made.text
        quotes.append(made.get_json()["id"])
    client.post(f"/api/v1/quotes/{quotes[0]}/accept", headers=bearer(secret))
    client.post(f"/api/v1/quotes/{quotes[1]}/cancel", headers=bearer(secret))

    schema = schemathesis.openapi.from_wsgi(SPEC_URL, app)
    machine = schema.as_state_machine()
    assert schema.statistic.transitions.total >= 5, "no links between operations were found"
    seen: set[str] = set()

    class Workflow(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": bearer(secret)}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            seen.add(f"{case.operation.label} {response.status_code}")
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Workflow.run(
        settings=settings(
            max_examples=100,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            database=None,
        )
    )
    # Ids and numbers taken from earlier answers reached the real ones, not only 404s.
    linked_2xx = {s for s in seen if "{" in s and s.rsplit(" ", 1)[1].startswith("2")}
    assert len(linked_2xx) >= 2, sorted(seen)


# --- What generated clients need of the document -----------------------------------------------


def _spec(client: FlaskClient) -> dict[str, Any]:
    spec = client.get(SPEC_URL).json
    assert spec is not None
    return dict(spec)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_every_operation_has_its_own_operation_id(client: FlaskClient) -> None:
    ids = [op.get("operationId") for _, _, op in _operations(_spec(client))]
    assert all(ids), ids
    assert len(set(ids)) == len(ids), ids
    assert {"listQuotes", "createQuote", "acceptQuote", "cancelQuote", "getContract"} <= set(ids)


def test_tags_are_the_resources_by_name(client: FlaskClient) -> None:
    spec = _spec(client)
    tags = {t["name"] for t in spec["tags"]}
    assert tags == {
        "Routes",
        "Availability",
        "Products",
        "Quotes",
        "Contracts",
        "Services",
        "Invoices",
        "Webhook endpoints",
        "Balance",
    }
    for method, path, operation in _operations(spec):
        assert operation["tags"] and set(operation["tags"]) <= tags, (method, path)


def _properties(schema: Any) -> list[tuple[str, dict[str, Any]]]:
    return list((schema.get("properties") or {}).items())


NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


def test_a_nullable_object_is_its_type_or_null_never_an_untyped_catch_all(
    client: FlaskClient,
) -> None:
    schemas = _spec(client)["components"]["schemas"]
    money_or_null = {"anyOf": [{"$ref": "#/components/schemas/Money"}, NULL_ONLY]}
    for name in ("mrc", "nrc", "iru_fee"):
        assert schemas["ListPrice"]["properties"][name] == money_or_null
    assert schemas["Product"]["properties"]["price_book"] == {
        "anyOf": [{"$ref": "#/components/schemas/PriceBookRef"}, NULL_ONLY]
    }
    for schema_name, schema in schemas.items():
        for prop, definition in _properties(schema):
            # Neither apispec's untyped catch-all, nor `nullable` without a `type` beside it.
            assert {"type": "object", "nullable": True} not in definition.get("anyOf", []), (
                schema_name,
                prop,
            )
            assert "nullable" not in definition or "type" in definition, (schema_name, prop)
    assert "PaginationMetadata" not in schemas  # unused: pages carry their meta in the body


def test_the_services_state_filter_is_one_enum_without_null(client: FlaskClient) -> None:
    spec = _spec(client)
    (state,) = (
        p for p in spec["paths"]["/api/v1/services"]["get"]["parameters"] if p["name"] == "state"
    )
    assert state["schema"]["type"] == "string"
    assert state["schema"]["enum"] == ["pending", "active", "suspended", "terminated"]
    assert "default" not in state["schema"] and "nullable" not in state["schema"]
    assert state["required"] is False


def test_availability_documents_its_conditional_get(client: FlaskClient) -> None:
    operation = _spec(client)["paths"]["/api/v1/availability"]["get"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "If-None-Match" in headers
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "ETag" in operation["responses"]["304"]["headers"]


def test_the_document_states_the_terms_by_model_and_width_for_spectrum_only(
    client: FlaskClient,
) -> None:
    line = _spec(client)["components"]["schemas"]["LineRequest"]["properties"]
    term = line["term_months"]
    assert (term["minimum"], term["maximum"]) == (12, 300)
    assert "12–60 months for a lease" in term["description"]
    assert "120–300 months, whole years, for an IRU" in term["description"]
    assert term["x-term-months-by-model"]["iru"]["multipleOf"] == 12
    assert "Only for a SPECTRUM product" in line["width_ghz"]["description"]


def test_every_operation_documents_location_on_201_and_400_for_unknown_parameters(
    client: FlaskClient,
) -> None:
    created = 0
    for method, path, operation in _operations(_spec(client)):
        if "201" in operation["responses"]:
            created += 1
            assert "Location" in operation["responses"]["201"]["headers"], (method, path)
        assert "400" in operation["responses"], (method, path)
    assert created == 3  # create quote, accept quote, create webhook endpoint


def test_try_it_out_prefills_no_list_filter(client: FlaskClient) -> None:
    """The docs' "Try it out" sends a query parameter's example as its value: a list filter with
    an example (a fixed month, dates, an instant) would answer an empty page on any other data.
    Filters are described, with the format in words, and left empty."""
    spec = _spec(client)
    prefilled = [
        (path, parameter["name"])
        for method, path, operation in _operations(spec)
        if method == "get" and (path.endswith("s") or path == "/api/v1/balance")
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "query"
        and parameter["name"] not in {"route", "product", "protection"}  # a choice, not a filter
        and ("example" in parameter or "example" in parameter.get("schema", {}))
    ]
    assert prefilled == []
    invoices = next(op for m, p, op in _operations(spec) if m == "get" and p.endswith("/invoices"))
    names = {p["name"] for p in invoices["parameters"]}
    assert {"period", "issued_from", "issued_to", "updated_since"} <= names
