"""/api/v1/webhook-endpoints (SPEC 9, 13): a customer registers endpoints, sees its secret once,
reads the delivery log and replays a delivery; never another customer's; hostile input is 4xx."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.events import record_event
from billing.jobs.queue import run_worker
from billing.outbound.models import WebhookEndpoint
from billing.outbound.services import MAX_ENDPOINTS
from billing.outbound.signing import signature_header
from tests import factories
from tests.helpers import api_error, bearer, error_fields, make_api_key
from tests.receiver import Receiver, event_key, receiver, settle_events

ENDPOINTS = "/api/v1/webhook-endpoints"


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as server:
        yield server


class Customer:
    def __init__(self, app: Flask, db: Database, clock: FrozenClock) -> None:
        with db.transaction() as s:
            service = factories.active_service(s, now=clock.now())
            self.id, self.service_id = service.customer_id, service.id
        settle_events(db, clock.now())
        self.key = bearer(make_api_key(app, self.id))


@pytest.fixture
def mine(app: Flask, db: Database, clock: FrozenClock) -> Customer:
    return Customer(app, db, clock)


@pytest.fixture
def theirs(app: Flask, db: Database, clock: FrozenClock) -> Customer:
    return Customer(app, db, clock)


def _create(client: FlaskClient, key: dict[str, str], url: str, **extra: Any) -> Any:
    body = {"url": url, "events": ["service.activated", "invoice.paid"], **extra}
    return client.post(ENDPOINTS, json=body, headers=key)


def test_an_endpoint_is_created_with_its_secret_shown_once(
    client: FlaskClient, mine: Customer, db: Database
) -> None:
    made = _create(client, mine.key, "http://127.0.0.1:8000/hooks")
    assert made.status_code == 201, made.text
    body = made.get_json()
    assert body["id"].startswith("we_") and body["secret"].startswith("whsec_")
    assert made.headers["Location"] == f"{ENDPOINTS}/{body['id']}"
    assert body["events"] == ["invoice.paid", "service.activated"]
    assert (body["status"], body["disabled_reason"]) == ("enabled", None)

    shown = client.get(made.headers["Location"], headers=mine.key)
    assert shown.status_code == 200
    assert "secret" not in shown.get_json()
    listed = client.get(ENDPOINTS, headers=mine.key).get_json()
    assert [e["id"] for e in listed["items"]] == [body["id"]]
    assert listed["meta"]["total"] == 1
    assert "secret" not in listed["items"][0]
    with db.transaction() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "webhook_endpoint.create")
        ).one()
        assert body["secret"] not in json.dumps(entry.after)


def test_the_same_idempotency_key_makes_one_endpoint(
    client: FlaskClient, mine: Customer, db: Database
) -> None:
    headers = {**mine.key, "Idempotency-Key": "hook-1"}
    first = _create(client, headers, "http://127.0.0.1:8000/hooks")
    again = _create(client, headers, "http://127.0.0.1:8000/hooks")
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = _create(client, headers, "http://127.0.0.1:8001/hooks")
    api_error(other, 422)
    with db.transaction() as s:
        assert len(s.scalars(select(WebhookEndpoint)).all()) == 1


def test_another_customers_endpoint_is_not_found(
    client: FlaskClient, mine: Customer, theirs: Customer
) -> None:
    endpoint = _create(client, theirs.key, "http://127.0.0.1:8000/hooks").get_json()["id"]
    url = f"{ENDPOINTS}/{endpoint}"
    api_error(client.get(url, headers=mine.key), 404)
    api_error(client.delete(url, headers=mine.key), 404)
    api_error(client.get(f"{url}/deliveries", headers=mine.key), 404)
    api_error(client.post(f"{url}/deliveries/whd_{'0' * 24}/replay", headers=mine.key), 404)
    assert client.get(ENDPOINTS, headers=mine.key).get_json()["items"] == []
    assert client.get(url, headers=theirs.key).status_code == 200


def test_a_deleted_endpoint_is_gone_and_audited(
    client: FlaskClient, mine: Customer, db: Database
) -> None:
    endpoint = _create(client, mine.key, "http://127.0.0.1:8000/hooks").get_json()["id"]
    gone = client.delete(f"{ENDPOINTS}/{endpoint}", headers=mine.key)
    assert gone.status_code == 204 and gone.data == b""
    api_error(client.get(f"{ENDPOINTS}/{endpoint}", headers=mine.key), 404)
    api_error(client.delete(f"{ENDPOINTS}/{endpoint}", headers=mine.key), 404)
    with db.transaction() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == endpoint)).all()
        assert sorted(actions) == ["webhook_endpoint.create", "webhook_endpoint.delete"]


def test_the_delivery_log_and_a_replay(
    app: Flask,
    client: FlaskClient,
    mine: Customer,
    db: Database,
    clock: FrozenClock,
    backend: str,
    hooks: Receiver,
) -> None:
    endpoint = _create(client, mine.key, hooks.url).get_json()["id"]
    hooks.answer_with(500)
    with app.app_context():
        with db.transaction() as s:
            record_event(
                s,
                "service.activated",
                subject_type="service",
                subject_id=mine.service_id,
                customer_id=mine.id,
                now=clock.now(),
                key=event_key("service.activated"),
            )
        if backend == "postgres":
            run_worker(app, wait=False)
    log = client.get(f"{ENDPOINTS}/{endpoint}/deliveries", headers=mine.key)
    assert log.status_code == 200, log.text
    (delivery,) = log.get_json()["items"]
    assert delivery["id"].startswith("whd_") and delivery["event"].startswith("evt_")
    assert delivery["event_type"] == "service.activated"
    assert (delivery["status"], delivery["attempts"], delivery["last_response_code"]) == (
        "pending",
        1,
        500,
    )
    assert delivery["last_error"] == "answered 500"

    replay = client.post(
        f"{ENDPOINTS}/{endpoint}/deliveries/{delivery['id']}/replay",
        headers={**mine.key, "Idempotency-Key": "replay-1"},
    )
    assert replay.status_code == 200, replay.text
    assert replay.get_json()["status"] == "pending"
    if backend == "postgres":
        run_worker(app, wait=False)
    assert len(hooks.requests) == 2
    (delivery,) = client.get(f"{ENDPOINTS}/{endpoint}/deliveries", headers=mine.key).get_json()[
        "items"
    ]
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 2)
    api_error(
        client.post(f"{ENDPOINTS}/{endpoint}/deliveries/whd_{'f' * 24}/replay", headers=mine.key),
        404,
    )


def test_a_disabled_endpoint_replays_nothing(
    client: FlaskClient, mine: Customer, db: Database, clock: FrozenClock, app: Flask
) -> None:
    endpoint = _create(client, mine.key, "http://127.0.0.1:9/closed").get_json()["id"]
    with db.transaction() as s:
        row = s.scalars(select(WebhookEndpoint)).one()
        row.status, row.disabled_reason = "disabled", "test"
    replay = client.post(
        f"{ENDPOINTS}/{endpoint}/deliveries/whd_{'0' * 24}/replay", headers=mine.key
    )
    api_error(replay, 409)


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://93.184.216.34/hook",
        "http://127.0.0.1:8000/hook",
    ],
)
def test_production_refuses_internal_targets_naming_the_url(
    app: Flask, client: FlaskClient, mine: Customer, url: str
) -> None:
    app.config["BILLING_ENV"] = "production"
    body = api_error(_create(client, mine.key, url), 422)
    assert "url" in error_fields(body["errors"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1/\x00", "events": ["invoice.paid"]}, "url"),
        ({"url": "http://127.0.0.1/" + "a" * 5000, "events": ["invoice.paid"]}, "url"),
        ({"url": "http://user:pw@127.0.0.1/x", "events": ["invoice.paid"]}, "url"),
        ({"url": "javascript:alert(1)", "events": ["invoice.paid"]}, "url"),
        ({"url": "http://127.0.0.1/x", "events": ["invoice.eaten"]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": ["*"]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": []}, "events"),
        ({"url": "http://127.0.0.1/x", "events": "invoice.paid"}, "events"),
        ({"url": "http://127.0.0.1/x", "events": ["x" * 100_000]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": [{"a": 1}]}, "events"),
        ({"url": 12, "events": ["invoice.paid"]}, "url"),
        ({"events": ["invoice.paid"]}, "url"),
        ({"url": "http://127.0.0.1/x", "events": ["invoice.paid"], "secret": "mine"}, "secret"),
        ({"url": "http://127.0.0.1/\ud800", "events": ["invoice.paid"]}, "url"),
    ],
)
def test_hostile_bodies_are_refused_naming_the_field(
    client: FlaskClient, mine: Customer, body: dict[str, Any], field: str
) -> None:
    answer = client.post(ENDPOINTS, json=body, headers=mine.key)
    # NUL and lone surrogates are refused by the API's input guard, before any schema: 400.
    bad_text = any(c in json.dumps(body) for c in ("\\u0000", "\\ud800"))
    errors = api_error(answer, 400 if bad_text else 422)["errors"]
    assert field in error_fields(errors)


def test_deep_json_and_non_json_are_refused(client: FlaskClient, mine: Customer) -> None:
    deep = '{"url": "http://127.0.0.1/x", "events": ' + "[" * 1000 + "]" * 1000 + "}"
    answer = client.post(
        ENDPOINTS, data=deep, headers={**mine.key, "Content-Type": "application/json"}
    )
    assert 400 <= answer.status_code < 500
    answer = client.post(
        ENDPOINTS, data="url=x", headers={**mine.key, "Content-Type": "text/plain"}
    )
    api_error(answer, 415)


@pytest.mark.parametrize(
    "path",
    [
        "/we_%00",
        "/" + "we_" + "0" * 5000,
        "/we_0000000000000000000000000000/deliveries",
        "/we_%ff%fe/deliveries",
        "/../../etc",
    ],
)
def test_hostile_ids_are_not_found(client: FlaskClient, mine: Customer, path: str) -> None:
    answer = client.get(ENDPOINTS + path, headers=mine.key)
    assert answer.status_code == 404, answer.text


def test_an_unknown_query_parameter_answers_400(client: FlaskClient, mine: Customer) -> None:
    api_error(client.get(ENDPOINTS, query_string={"status": "x"}, headers=mine.key), 400)


def test_without_a_key_401(client: FlaskClient) -> None:
    answer = client.get(ENDPOINTS)
    api_error(answer, 401)


def test_there_is_a_limit_of_endpoints(client: FlaskClient, mine: Customer) -> None:
    for n in range(MAX_ENDPOINTS):
        assert _create(client, mine.key, f"http://127.0.0.1:8000/{n}").status_code == 201
    api_error(_create(client, mine.key, "http://127.0.0.1:8000/one-too-many"), 409)


def test_the_documented_verification_accepts_our_signature_and_nothing_else(
    client: FlaskClient,
) -> None:
    description = client.get("/api/v1/openapi.json").get_json()["info"]["description"]
    assert "## Webhooks" in description and "TCF-Signature" in description
    code = re.search(r"```python\n(.*?)```", description, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 - the document's own example
    verify = namespace["verify"]
    body = b'{"id":"evt_1","type":"invoice.paid"}'
    now = int(time.time())
    header = signature_header("whsec_test", now, body)
    assert verify("whsec_test", header, body)
    assert not verify("whsec_other", header, body)
    assert not verify("whsec_test", header, body + b" ")
    assert not verify("whsec_test", signature_header("whsec_test", now - 301, body), body)
