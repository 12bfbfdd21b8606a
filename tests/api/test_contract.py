"""The API contract (SPEC 9): the document validates for Redocly and openapi-core, and the API
keeps to it in errors, headers, lists, limits and idempotency."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from billing.clock import FrozenClock
from billing.db import Database
from tests.api.conftest import SPEC_URL, check_response
from tests.conftest import make_test_app, missing
from tests.helpers import api_error, bearer, new_customer_key

REDOCLY = "@redocly/cli@2.77.0"
SPECTRAL = "@stoplight/spectral-cli@6.16.3"
SETTINGS = {"TESTING": True, "SECRET_KEY": "x" * 32}


@pytest.fixture
def seed() -> str:
    return "reference"


def test_redocly_lints_the_document_with_no_error(client: FlaskClient, tmp_path: Path) -> None:
    """Redocly's recommended rules; npx fetches the pinned CLI from the npm registry."""
    npx = shutil.which("npx")
    if npx is None:
        missing("npx (Node.js) is not installed: Redocly cannot lint the document")
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(client.get(SPEC_URL).json))
    # A fixed command on a file of the test's own.
    result = subprocess.run(  # noqa: S603
        [str(npx), "--yes", REDOCLY, "lint", "--format=json", str(document)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    report = json.loads(result.stdout[result.stdout.index("{") :])
    problems = [
        (p["ruleId"], p["message"], [loc.get("pointer") for loc in p["location"]])
        for p in report["problems"]
    ]
    assert report["totals"]["errors"] == 0, problems
    assert report["totals"]["warnings"] == 0, problems
    assert result.returncode == 0, result.stderr


def test_spectral_finds_nothing_to_say_about_the_document(
    client: FlaskClient, tmp_path: Path
) -> None:
    """Spectral's OpenAPI rules (spectral:oas), warnings included: descriptions, contact,
    licence, tags, operation ids."""
    npx = shutil.which("npx")
    if npx is None:
        missing("npx (Node.js) is not installed: Spectral cannot lint the document")
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(client.get(SPEC_URL).json))
    (tmp_path / ".spectral.yaml").write_text('extends: ["spectral:oas"]\n')
    # A fixed command on files of the test's own.
    result = subprocess.run(  # noqa: S603
        [
            str(npx),
            "--yes",
            SPECTRAL,
            "lint",
            "--fail-severity=warn",
            "--format=json",
            "-q",
            str(document),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    found = json.loads(result.stdout) if result.stdout.strip() else []
    assert found == [], [(p["code"], p["message"], p["path"]) for p in found]
    assert result.returncode == 0, result.stderr


def test_a_response_off_the_document_fails_the_test_that_got_it(app: Flask) -> None:
    """The check that tests/api/conftest.py runs on every API response is live."""
    client = app.test_client()
    key = {"Authorization": "Bearer nope"}
    answered = client.get("/api/v1/routes", headers=key)
    assert answered.status_code == 401  # documented: passes the check
    forged = TestResponse(
        response=[b'{"items": 1}'],
        status="200 OK",
        headers={"Content-Type": "application/json"},
        request=answered.request,
    )
    with pytest.raises(AssertionError, match="off the OpenAPI document"):
        check_response(app, forged)


# --- Errors: a machine-readable type, Retry-After where retrying helps ---------------------------


def test_every_error_carries_a_type_from_the_documented_list(
    app: Flask, client: FlaskClient
) -> None:
    key = bearer(new_customer_key(app))
    spec = client.get(SPEC_URL).json
    assert spec is not None
    documented = set(spec["components"]["schemas"]["Error"]["properties"]["type"]["enum"])
    answers = {
        "not_found": client.get("/api/v1/services/NOPE-1", headers=key),
        "unknown_parameter": client.get("/api/v1/routes?pgae=2", headers=key),
        "unauthenticated": client.get("/api/v1/routes"),
        "validation_failed": client.get("/api/v1/routes?page=0", headers=key),
        "method_not_allowed": client.delete("/api/v1/routes", headers=key),
    }
    for kind, response in answers.items():
        body = api_error(response, response.status_code)
        assert body["type"] == kind, body
        assert kind in documented
    assert answers["not_found"].status_code == 404


def test_each_error_response_lists_its_types_in_the_document(client: FlaskClient) -> None:
    spec = client.get(SPEC_URL).json
    assert spec is not None
    documented = set(spec["components"]["schemas"]["Error"]["properties"]["type"]["enum"])
    pay = spec["paths"]["/api/v1/invoices/{number}/payment-session"]["post"]["responses"]
    assert {"card_payment_disabled", "nothing_due", "idempotency_in_progress"} <= set(
        pay["409"]["x-error-types"]
    )
    assert "`nothing_due`" in pay["409"]["description"]
    assert "Retry-After" in pay["409"]["headers"]
    quote = spec["paths"]["/api/v1/quotes"]["post"]["responses"]
    assert "spectrum_taken" in quote["409"]["x-error-types"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if status.isdigit() and int(status) >= 400:
                    assert set(response["x-error-types"]) <= documented, (method, path, status)
            assert "Retry-After" in operation["responses"]["429"]["headers"], (method, path)
    errors = spec["components"]["schemas"]["Error"]["properties"]["errors"]
    assert errors["type"] == "object" and "additionalProperties" in errors


def test_an_idempotency_key_in_progress_is_a_409_worth_retrying(app: Flask) -> None:
    with app.test_request_context("/api/v1/quotes"):
        from billing.errors import ConflictError
        from billing.http_errors import json_error

        error = ConflictError("busy", type="idempotency_in_progress")
        response = json_error(error.status, error.message, error.errors, type=error.type)
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["type"] == "idempotency_in_progress"


# --- X-Request-Id --------------------------------------------------------------------------------


def test_every_response_carries_a_request_id_kept_from_the_caller_when_sane(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    mine = "order-42.retry_1"
    with caplog.at_level(logging.INFO, logger="billing.request"):
        kept = client.get("/api/v1/routes", headers={"X-Request-Id": mine})
    assert kept.headers["X-Request-Id"] == mine
    logged = [r for r in caplog.records if r.name == "billing.request"]
    assert logged and logged[-1].fields["request_id"] == mine  # type: ignore[attr-defined]
    for insane in ("a b", "x" * 129, "é", "<script>", ""):
        made = client.get("/api/v1/routes", headers={"X-Request-Id": insane})
        assert made.headers["X-Request-Id"] != insane
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    first = client.get("/api/v1/routes").headers["X-Request-Id"]
    assert first != client.get("/api/v1/routes").headers["X-Request-Id"]
    # The web and unknown paths too.
    assert client.get("/login").headers["X-Request-Id"]
    assert client.get("/api/v1/nowhere").headers["X-Request-Id"]


def test_a_log_line_written_during_a_request_names_it(app: Flask) -> None:
    from billing.logs import JsonFormatter

    record = logging.LogRecord("billing.x", logging.INFO, __file__, 1, "hello", None, None)
    with app.test_request_context("/login", headers={"X-Request-Id": "abc-1"}):
        app.preprocess_request()
        line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc-1"
    assert "request_id" not in json.loads(JsonFormatter().format(record))


# --- Rate limits ---------------------------------------------------------------------------------


def test_every_api_response_states_the_rate_limit(app: Flask, client: FlaskClient) -> None:
    key = bearer(new_customer_key(app))
    for response in (
        client.get("/api/v1/routes", headers=key),
        client.get("/api/v1/routes"),  # 401: counted by address
        client.get("/api/v1/nowhere", headers=key),
    ):
        assert int(response.headers["RateLimit-Limit"]) == 100000
        assert 0 <= int(response.headers["RateLimit-Remaining"]) < 100000
        assert 0 <= int(response.headers["RateLimit-Reset"]) <= 60
    assert "RateLimit-Limit" not in client.get("/login").headers


def test_past_the_per_key_limit_the_api_answers_429_with_retry_after(
    db: Database, database_url: str, clock: FrozenClock
) -> None:
    """On the database the `db` fixture seeded, an app of its own with a limit of 3."""
    app = make_test_app(database_url, clock, API_RATE_LIMIT="3 per minute")
    try:
        mine, theirs = bearer(new_customer_key(app)), bearer(new_customer_key(app))
        client = app.test_client()
        remaining = [
            int(client.get("/api/v1/routes", headers=mine).headers["RateLimit-Remaining"])
            for _ in range(3)
        ]
        assert remaining == [2, 1, 0]
        refused = client.get("/api/v1/routes", headers=mine)
        body = api_error(refused, 429)
        assert body["type"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Remaining"] == "0"
        # Per key: another key is not held back by this one.
        assert client.get("/api/v1/routes", headers=theirs).status_code == 200
    finally:
        app.extensions["billing.db"].dispose()


def test_the_limit_is_documented_in_the_description(client: FlaskClient) -> None:
    spec = client.get(SPEC_URL).json
    assert spec is not None
    info = spec["info"]
    assert "API_RATE_LIMIT" in info["description"] and "120 per minute" in info["description"]
    assert "24 hours" in info["description"]
    assert "## Changelog" in info["description"] and "deprecat" in info["description"]
    assert info["contact"]["email"] and info["license"]["name"]


def test_both_conditional_gets_document_if_none_match_and_the_etag_of_their_304(
    client: FlaskClient,
) -> None:
    spec = client.get(SPEC_URL).json
    assert spec is not None
    for path in ("/api/v1/availability", "/api/v1/invoices/{number}/pdf"):
        operation = spec["paths"][path]["get"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "If-None-Match" in headers, path
        assert "ETag" in operation["responses"]["200"]["headers"], path
        assert "ETag" in operation["responses"]["304"]["headers"], path


def test_one_enum_for_protection_and_model_and_typed_filters_and_amounts(
    client: FlaskClient,
) -> None:
    spec = client.get(SPEC_URL).json
    assert spec is not None
    schemas = spec["components"]["schemas"]
    assert schemas["Protection"]["enum"] == ["unprotected", "protected"]
    assert schemas["Model"]["enum"] == ["lease", "iru"]
    refs = {"Protection": 0, "Model": 0}
    for name, schema in schemas.items():
        for prop, definition in (schema.get("properties") or {}).items():
            if prop in ("protection", "model"):
                text = json.dumps(definition)
                assert "enum" not in definition, (name, prop)  # never an enum of its own
                component = "Protection" if prop == "protection" else "Model"
                assert f"#/components/schemas/{component}" in text, (name, prop)
                refs[component] += 1
    assert refs["Protection"] >= 4 and refs["Model"] >= 3
    invoices = spec["paths"]["/api/v1/invoices"]["get"]["parameters"]
    (overdue,) = (p for p in invoices if p["name"] == "overdue")
    assert overdue["schema"]["type"] == "boolean"
    amount = schemas["Money"]["properties"]["amount"]
    assert re.fullmatch(amount["pattern"], "-1250.50") and not re.fullmatch(
        amount["pattern"], "1e3"
    )


def test_the_limit_is_a_setting_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from billing.config import load_settings

    monkeypatch.setenv("BILLING_ENV", "development")
    monkeypatch.delenv("API_RATE_LIMIT", raising=False)
    assert load_settings(str(tmp_path), SETTINGS)["API_RATE_LIMIT"] == "120 per minute"
    monkeypatch.setenv("API_RATE_LIMIT", "600 per hour")
    assert load_settings(str(tmp_path), SETTINGS)["API_RATE_LIMIT"] == "600 per hour"
