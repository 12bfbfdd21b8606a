"""Signed webhooks to customers (SPEC 13): an event reaches each subscribed endpoint of its
customer as `{id, type, created, data}` signed with `TCF-Signature`, `data` as the API's GET shows
the subject; failures are retried with exponential backoff for 3 days, then the endpoint is
disabled; a delivery can be replayed; loopback, private and link-local targets are refused in
production, at registration and again at send time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.events import Event, record_event
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.jobs.outbound import queue_due, run_due
from billing.jobs.queue import run_worker
from billing.mail.models import Mail
from billing.mail.services import add_contact
from billing.outbound.models import WebhookDelivery, WebhookEndpoint
from billing.outbound.services import create_endpoint, retry_delay
from billing.outbound.signing import HEADER
from billing.outbound.targets import TargetError, check_target
from billing.parties.customers import Seller
from billing.sales.models import Service
from tests import factories
from tests.helpers import bearer, make_api_key
from tests.receiver import Receiver, event_key, receiver, settle_events, verify


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as server:
        yield server


class World:
    def __init__(self, app: Flask, db: Database, clock: FrozenClock, backend: str) -> None:
        self.app, self.db, self.clock, self.backend = app, db, clock, backend
        with db.transaction() as s:
            service = factories.active_service(s, now=clock.now())
            self.service_id, self.circuit_id = service.id, service.circuit_id
            self.customer_id = service.customer_id
        settle_events(db, clock.now())
        self.key = bearer(make_api_key(app, self.customer_id))

    def endpoint(self, url: str, events: list[str] | None = None) -> tuple[int, str]:
        with self.db.transaction() as s:
            endpoint = create_endpoint(
                s,
                self.customer_id,
                url=url,
                events=events or ["service.activated", "service.terminated"],
                actor="test",
                now=self.clock.now(),
                production=False,
            )
            return endpoint.id, endpoint.secret

    def happen(self, type_: str = "service.activated", key: str | None = None) -> None:
        """Record the event as business code does, and let the jobs run."""
        with self.app.app_context():
            with self.db.transaction() as s:
                record_event(
                    s,
                    type_,
                    subject_type="service",
                    subject_id=self.service_id,
                    customer_id=self.customer_id,
                    now=self.clock.now(),
                    key=key or event_key(type_),
                )
            self.work()

    def work(self) -> None:
        if self.backend == "postgres":
            run_worker(self.app, wait=False)

    def retry_due(self) -> dict[str, int]:
        with self.app.app_context():
            counts = run_due()
            self.work()
            return counts

    def deliveries(self) -> list[WebhookDelivery]:
        with self.db.transaction() as s:
            found = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
            s.expunge_all()
            return found

    def endpoint_row(self, endpoint_id: int) -> WebhookEndpoint:
        with self.db.transaction() as s:
            found = s.get(WebhookEndpoint, endpoint_id)
            assert found is not None
            s.expunge(found)
            return found


@pytest.fixture
def world(app: Flask, db: Database, clock: FrozenClock, backend: str) -> World:
    return World(app, db, clock, backend)


def test_an_event_is_posted_signed_with_the_subject_as_the_api_shows_it(
    world: World, hooks: Receiver, client: FlaskClient, clock: FrozenClock
) -> None:
    _, secret = world.endpoint(hooks.url)
    world.endpoint(hooks.url + "/other", events=["invoice.paid"])  # not subscribed: nothing
    world.happen("service.activated")

    assert len(hooks.requests) == 1
    sent = hooks.requests[0]
    assert sent.path == "/hooks"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"] == "TCF-Webhooks/1"
    assert verify(secret, sent.headers[HEADER], sent.body, int(clock.now().timestamp()))
    assert not verify("whsec_wrong", sent.headers[HEADER], sent.body, int(clock.now().timestamp()))
    # A capture replayed 6 minutes later is refused by the documented tolerance.
    late = int((clock.now() + timedelta(minutes=6)).timestamp())
    assert not verify(secret, sent.headers[HEADER], sent.body, late)

    body = json.loads(sent.body)
    with world.db.transaction() as s:
        event = s.scalars(
            select(Event).where(Event.type == "service.activated", Event.key.startswith("test:"))
        ).one()
        assert body["id"] == event.public_id == sent.headers["TCF-Event-Id"]
    assert body["type"] == "service.activated"
    assert body["created"] == int(clock.now().timestamp())
    shown = client.get(f"/api/v1/services/{world.circuit_id}", headers=world.key)
    assert shown.status_code == 200
    assert body["data"] == shown.get_json()

    (delivery,) = world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        "succeeded",
        1,
        200,
    )
    assert delivery.last_response_body == "ok"
    assert delivery.delivered_at == clock.now()


def test_a_quote_event_shows_the_quote_as_its_get(
    world: World, hooks: Receiver, client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    world.endpoint(hooks.url, events=["quote.expiring"])
    with db.transaction() as s:
        customer = s.get(factories.Customer, world.customer_id)
        quote_id = factories.quote(s, now=clock.now(), customer=customer).id
    settle_events(db, clock.now())
    with world.app.app_context():
        with db.transaction() as s:
            record_event(
                s,
                "quote.expiring",
                subject_type="quote",
                subject_id=quote_id,
                customer_id=world.customer_id,
                now=clock.now(),
                key=event_key("quote.expiring"),
            )
        world.work()
    (sent,) = hooks.requests
    shown = client.get(f"/api/v1/quotes/{quote_id}", headers=world.key)
    assert json.loads(sent.body)["data"] == shown.get_json()


def test_a_failed_delivery_is_retried_after_the_backoff_until_it_succeeds(
    world: World, hooks: Receiver, clock: FrozenClock
) -> None:
    endpoint_id, secret = world.endpoint(hooks.url)
    hooks.answer_with(500, 503)
    hooks.answer = b"\x00down" + b"x" * 5000
    world.happen()
    (delivery,) = world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert delivery.last_response_body is not None
    assert len(delivery.last_response_body) == 1024 and "\x00" not in delivery.last_response_body
    assert world.endpoint_row(endpoint_id).first_failure_at == clock.now()

    assert world.retry_due() == {}  # not due yet: nothing sent
    assert len(hooks.requests) == 1
    clock.advance(timedelta(seconds=30))
    world.retry_due()
    (delivery,) = world.deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=60)

    hooks.answer = b"thanks"
    clock.advance(timedelta(seconds=60))
    world.retry_due()
    (delivery,) = world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        "succeeded",
        3,
        200,
    )
    assert delivery.last_error is None
    assert len(hooks.requests) == 3
    # The same bytes each time, signed anew.
    assert len({r.body for r in hooks.requests}) == 1
    assert len({r.headers[HEADER] for r in hooks.requests}) == 3
    for sent in hooks.requests:
        t = int(sent.headers[HEADER].split(",")[0][2:])
        assert verify(secret, sent.headers[HEADER], sent.body, t)
    assert world.endpoint_row(endpoint_id).first_failure_at is None


def test_the_backoff_doubles_from_30_seconds_up_to_6_hours() -> None:
    assert [retry_delay(n).total_seconds() for n in range(1, 12)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3840,
        7680,
        15360,
        21600,
    ]
    assert retry_delay(500) == timedelta(hours=6)


def test_a_timeout_or_a_closed_port_is_a_failure_retried_later(
    world: World, hooks: Receiver, app: Flask
) -> None:
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.3
    hooks.delay = 1.0
    world.endpoint(hooks.url)
    world.endpoint("http://127.0.0.1:9/closed")  # the discard port: nothing listens
    world.happen()
    slow, closed = world.deliveries()
    assert (slow.status, slow.last_response_code) == ("pending", None)
    assert slow.last_error == "no answer within 0.3 s"
    assert closed.status == "pending" and closed.last_error


def test_three_days_of_failures_disable_the_endpoint_and_tell_the_customer(
    world: World, hooks: Receiver, clock: FrozenClock
) -> None:
    endpoint_id, _ = world.endpoint(hooks.url)
    with world.db.transaction() as s:
        add_contact(
            s,
            world.customer_id,
            {"name": "Ana Accounts", "email": "ap@carrier.example", "language": "en"},
            editor=factories.party_seller(s, "AZT"),
            now=clock.now(),
        )
    hooks.answer_with(*([500] * 100))
    start = clock.now()
    world.happen()
    for _ in range(60):
        (delivery,) = world.deliveries()
        if delivery.status != "pending":
            break
        assert delivery.next_attempt_at is not None
        clock.set(delivery.next_attempt_at)
        world.retry_due()
    (delivery,) = world.deliveries()
    endpoint = world.endpoint_row(endpoint_id)
    assert delivery.status == "failed"
    assert endpoint.status == "disabled"
    assert endpoint.disabled_reason and "3 days" in endpoint.disabled_reason
    assert endpoint.first_failure_at == start
    assert clock.now() - start >= timedelta(days=3)
    assert clock.now() - start < timedelta(days=3, hours=6)
    # The first, 10 retries doubling from 30 s (8.5 h in all), 10 more 6 h apart, and the last
    # at exactly 3 days.
    assert delivery.attempts == len(hooks.requests) == 22
    with world.db.transaction() as s:
        (told,) = s.scalars(select(Event).where(Event.type == "webhook_endpoint.disabled"))
        assert (told.subject_type, told.subject_id) == ("webhook_endpoint", str(endpoint_id))
        assert told.customer_id == world.customer_id
        (mail,) = s.scalars(select(Mail).where(Mail.kind == "webhook_disabled"))
        assert mail.customer_id == world.customer_id
        assert "ap@carrier.example" in str(mail.recipients)
        assert hooks.url in mail.text
    # Nothing more is sent to a disabled endpoint.
    world.happen("service.terminated")
    assert len(hooks.requests) == 22


def test_an_endpoint_that_succeeds_once_a_day_stays_enabled(
    world: World, hooks: Receiver, clock: FrozenClock
) -> None:
    endpoint_id, _ = world.endpoint(hooks.url)
    for day in range(4):
        hooks.answer_with(500)
        world.happen(key=f"day {day}")
        clock.advance(timedelta(seconds=30))
        world.retry_due()  # the retry succeeds
        clock.advance(timedelta(days=1))
    assert world.endpoint_row(endpoint_id).status == "enabled"
    assert [d.status for d in world.deliveries()] == ["succeeded"] * 4


def test_a_replay_sends_the_same_body_signed_anew(
    world: World, hooks: Receiver, client: FlaskClient, clock: FrozenClock
) -> None:
    world.endpoint(hooks.url)
    world.happen()
    with world.db.transaction() as s:
        endpoint = s.scalars(select(WebhookEndpoint)).one()
        delivery = s.scalars(select(WebhookDelivery)).one()
        path = f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries/{delivery.public_id}"
    # The subject changes afterwards: a replay still sends what the first delivery sent.
    with world.db.transaction() as s:
        service = s.get(Service, world.service_id)
        assert service is not None
        service.end_date = date(2031, 1, 1)
    clock.advance(timedelta(minutes=10))
    answer = client.post(f"{path}/replay", headers=world.key)
    world.work()
    assert answer.status_code == 200, answer.text
    assert len(hooks.requests) == 2
    first, again = hooks.requests
    assert first.body == again.body
    assert b"2031-01-01" not in again.body
    assert first.headers[HEADER] != again.headers[HEADER]
    assert again.headers[HEADER].startswith(f"t={int(clock.now().timestamp())},")
    (delivery,) = world.deliveries()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_the_target_is_checked_again_at_send_time(
    world: World, hooks: Receiver, app: Flask
) -> None:
    world.endpoint(hooks.url)
    app.config["BILLING_ENV"] = "production"  # as if the name now pointed at this machine
    world.happen()
    assert hooks.requests == []
    (delivery,) = world.deliveries()
    assert delivery.status == "pending"
    assert delivery.last_error is not None and delivery.last_error.startswith("refused: ")


def _fake(addresses: list[str]) -> Any:
    return lambda host, port: addresses


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://10.0.0.1/hook", None),
        ("https://127.0.0.1/hook", None),
        ("https://169.254.169.254/latest/meta-data", None),
        ("https://[::1]/hook", None),
        ("https://[::ffff:127.0.0.1]/hook", None),
        ("https://0.0.0.0/hook", None),
        ("https://224.0.0.1/hook", None),
        ("https://192.168.1.20/hook", None),
        ("https://hooks.example.com/x", ["127.0.0.1"]),
        ("https://hooks.example.com/x", ["93.184.216.34", "10.1.2.3"]),  # every address checked
        ("https://hooks.example.com/x", ["fe80::1"]),
        ("http://hooks.example.com/x", ["93.184.216.34"]),  # http in production
        ("http://127.0.0.1:8000/x", None),
        ("http://localhost:8000/x", None),
        ("https://user:pw@hooks.example.com/x", ["93.184.216.34"]),
        ("https://hooks.example.com/\x00", ["93.184.216.34"]),
        ("https://hooks.example.com/" + "a" * 3000, ["93.184.216.34"]),
        ("ftp://hooks.example.com/x", ["93.184.216.34"]),
        ("https:///nohost", ["93.184.216.34"]),
    ],
)
def test_production_refuses_private_loopback_and_link_local_targets(
    url: str, addresses: list[str] | None
) -> None:
    resolver = _fake(addresses) if addresses is not None else _fake(["93.184.216.34"])
    with pytest.raises(TargetError):
        check_target(url, production=True, resolver=resolver)


def test_a_host_name_resolving_to_loopback_is_refused_in_production() -> None:
    with pytest.raises(TargetError, match="loopback"):
        check_target("https://localhost/x", production=True)


def test_production_accepts_https_to_public_addresses_and_development_this_machine() -> None:
    target = check_target(
        "https://hooks.example.com:8443/in?x=1",
        production=True,
        resolver=_fake(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]),
    )
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/in?x=1")
    assert target.addresses[0] == "93.184.216.34"
    assert check_target("http://localhost:8000/x", production=False).port == 8000
    with pytest.raises(TargetError):
        check_target("http://10.0.0.1/x", production=False)


def test_registration_refuses_a_private_target_naming_the_url(
    world: World, db: Database, clock: FrozenClock
) -> None:
    with pytest.raises(InvalidRequestError) as refused, db.transaction() as s:
        create_endpoint(
            s,
            world.customer_id,
            url="https://10.0.0.1/x",
            events=["invoice.paid"],
            actor="test",
            now=clock.now(),
            production=True,
        )
    assert "url" in refused.value.errors


def test_an_issued_invoice_is_posted_as_its_get_shows_it(
    app: Flask,
    db: Database,
    clock: FrozenClock,
    backend: str,
    hooks: Receiver,
    client: FlaskClient,
) -> None:
    """The whole path: issuing records invoice.issued once the PDF is stored, and the webhook
    carries the invoice as GET /invoices/{number} shows it."""
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        service = factories.active_service(
            s, now=clock.now(), mrc=Decimal("2000"), ready_for_service=date(2026, 11, 1)
        )
        customer = service.customer_id
    settle_events(db, clock.now())
    with db.transaction() as s:
        create_endpoint(
            s,
            customer,
            url=hooks.url,
            events=["invoice.issued"],
            actor="test",
            now=clock.now(),
            production=False,
        )
    seller = Seller("tests", None)
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=seller,
        clock=clock.now,
    )
    with app.app_context():
        with db.transaction() as s:
            draft = s.scalars(select(Invoice.id).where(Invoice.customer_id == customer)).one()
            invoice = issue_invoice(s, draft, actor=seller, now=clock.now(), render=render_invoices)
            number = invoice.number
        if backend == "postgres":
            run_worker(app, wait=False)  # the PDF, then the event's dispatch, then the POST
    (sent,) = hooks.requests
    body = json.loads(sent.body)
    assert body["type"] == "invoice.issued"
    shown = client.get(f"/api/v1/invoices/{number}", headers=bearer(make_api_key(app, customer)))
    assert shown.status_code == 200, shown.text
    assert body["data"] == shown.get_json()


def test_a_redirect_is_not_followed_but_a_failure(world: World, hooks: Receiver) -> None:
    world.endpoint(hooks.url)
    hooks.answer_with(302)
    world.happen()
    (delivery,) = world.deliveries()
    assert (delivery.status, delivery.last_response_code) == ("pending", 302)
    assert len(hooks.requests) == 1


def test_flask_webhooks_retry_sends_what_is_due(
    world: World, hooks: Receiver, app: Flask, clock: FrozenClock, backend: str
) -> None:
    world.endpoint(hooks.url)
    hooks.answer_with(500)
    world.happen()
    clock.advance(timedelta(seconds=30))
    if backend == "postgres":
        # The workers' sweep queues a job for each due delivery; the job sends it.
        with app.app_context():
            assert queue_due() == 1
        world.work()
    else:
        result = app.test_cli_runner().invoke(args=["webhooks", "retry"])
        assert result.exit_code == 0, result.output
        assert "1 succeeded" in result.output
    (delivery,) = world.deliveries()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
