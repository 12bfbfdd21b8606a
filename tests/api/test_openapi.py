"""The API documents itself (SPEC 9): a valid OpenAPI document that every endpoint keeps to."""

from __future__ import annotations

import re
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
from tests.helpers import bearer, customer_id, make_api_key

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
}


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


def test_every_operation_answers_within_its_documented_schema(app: Flask, db: Database) -> None:
    """Generated requests with a valid key: never a 5xx, always a documented status and body."""
    secret = make_api_key(app, customer_id(db, "Silk Route Carrier GmbH"))
    schema = schemathesis.openapi.from_wsgi(SPEC_URL, app)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
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
        if KNOWN_GOOD_QUERY.get(operation.label):
            strategies.append(operation.as_strategy(query=KNOWN_GOOD_QUERY[operation.label]))
        statuses = _statuses_seen(st.one_of(strategies), bearer(secret), checks)
        # The key was accepted, so more than the 401 was checked ...
        assert statuses - {401}, f"{operation.label}: every request was refused"
        # ... and where we know how to reach it, the real answer too, not only the errors.
        if operation.label in KNOWN_GOOD_QUERY:
            assert any(200 <= s < 300 for s in statuses), (operation.label, statuses)
