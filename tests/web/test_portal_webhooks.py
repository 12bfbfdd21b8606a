"""The portal's Webhooks pages (SPEC 13): a customer's staff add an endpoint (the secret shown
once), read its delivery log, replay a delivery, enable a disabled endpoint and delete one (with
confirmation); another customer's endpoint is not found; bad input is a form message."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from billing.access.services import create_portal_login
from billing.clock import FrozenClock
from billing.db import Database
from billing.events import record_event
from billing.jobs.queue import run_worker
from billing.outbound.models import WebhookDelivery, WebhookEndpoint
from billing.outbound.services import create_endpoint
from tests import factories
from tests.helpers import FAST_HASH, PASSWORD, csrf_token, login, post_form
from tests.receiver import Receiver, event_key, receiver, settle_events
from tests.web.test_accessibility import WCAG_AA

EMAIL = "ops@hooks-portal.example"


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as server:
        yield server


class Portal:
    def __init__(self, db: Database, clock: FrozenClock) -> None:
        with db.transaction() as s:
            service = factories.active_service(s, now=clock.now())
            self.customer_id, self.service_id = service.customer_id, service.id
            other = factories.customer(s, now=clock.now())
            theirs = create_endpoint(
                s,
                other.id,
                url="http://127.0.0.1:9/theirs",
                events=["invoice.paid"],
                actor="test",
                now=clock.now(),
                production=False,
            )
            self.theirs = theirs.public_id
            create_portal_login(
                s,
                customer_id=self.customer_id,
                email=EMAIL,
                name="Hooks Ops",
                password=PASSWORD,
                actor="tests",
                now=clock.now(),
                hash_method=FAST_HASH,
            )
        settle_events(db, clock.now())


@pytest.fixture
def portal(client: FlaskClient, db: Database, clock: FrozenClock) -> Portal:
    world = Portal(db, clock)
    login(client, EMAIL)
    return world


def _add(client: FlaskClient, url: str, *events: str) -> tuple[int, str]:
    page = client.get("/portal/webhooks")
    answer = client.post(
        "/portal/webhooks",
        data={"url": url, "events": list(events), "csrf_token": csrf_token(page.text)},
    )
    return answer.status_code, answer.text


def test_adding_an_endpoint_shows_its_secret_once(
    client: FlaskClient, portal: Portal, db: Database
) -> None:
    page = client.get("/portal/webhooks")
    assert page.status_code == 200
    assert "No webhook endpoints yet." in page.text
    assert 'href="/portal/webhooks"' in page.text  # in the portal's navigation
    status, text = _add(client, "http://127.0.0.1:8000/in", "invoice.issued", "service.activated")
    assert status == 201
    with db.transaction() as s:
        endpoint = s.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.customer_id == portal.customer_id)
        ).one()
        assert endpoint.events == ["invoice.issued", "service.activated"]
        secret, public_id = endpoint.secret, endpoint.public_id
    assert secret in text and "not shown again" in text
    again = client.get("/portal/webhooks")
    assert public_id in again.text and secret not in again.text
    detail = client.get(f"/portal/webhooks/{public_id}")
    assert detail.status_code == 200 and secret not in detail.text
    assert portal.theirs not in again.text


@pytest.mark.parametrize(
    ("url", "events", "message"),
    [
        ("https://10.0.0.1/x", ["invoice.paid"], "public addresses only"),
        # NUL is refused by the app's input guard before any form: 400, saying so.
        ("http://127.0.0.1/\x00", ["invoice.paid"], "NUL"),
        ("http://127.0.0.1/" + "a" * 3000, ["invoice.paid"], "at most 2048"),
        ("http://127.0.0.1/x", [], "at least one event"),
        ("http://127.0.0.1/x", ["invoice.eaten"], "unknown event type"),
        ("", ["invoice.paid"], "A URL is required"),
    ],
)
def test_bad_input_is_a_form_message(
    client: FlaskClient, portal: Portal, db: Database, url: str, events: list[str], message: str
) -> None:
    status, text = _add(client, url, *events)
    assert status == (400 if "\x00" in url else 422)
    assert message in text
    with db.transaction() as s:
        mine = select(WebhookEndpoint).where(WebhookEndpoint.customer_id == portal.customer_id)
        assert s.scalars(mine).all() == []


def test_production_refuses_this_machine(app: Flask, client: FlaskClient, portal: Portal) -> None:
    app.config["BILLING_ENV"] = "production"
    status, text = _add(client, "http://127.0.0.1:8000/in", "invoice.paid")
    assert status == 422 and "https://" in text


def test_the_delivery_log_replay_enable_and_delete(
    app: Flask,
    client: FlaskClient,
    portal: Portal,
    db: Database,
    clock: FrozenClock,
    backend: str,
    hooks: Receiver,
) -> None:
    _add(client, hooks.url, "service.activated")
    with db.transaction() as s:
        public_id = s.scalars(
            select(WebhookEndpoint.public_id).where(
                WebhookEndpoint.customer_id == portal.customer_id
            )
        ).one()
    hooks.answer_with(500)
    with app.app_context():
        with db.transaction() as s:
            record_event(
                s,
                "service.activated",
                subject_type="service",
                subject_id=portal.service_id,
                customer_id=portal.customer_id,
                now=clock.now(),
                key=event_key("service.activated"),
            )
        if backend == "postgres":
            run_worker(app, wait=False)
    page_url = f"/portal/webhooks/{public_id}"
    log = client.get(page_url)
    assert "service.activated" in log.text and "answered 500" in log.text
    delivery_id = re.search(r'id="delivery-(whd_[0-9a-f]+)"', log.text)
    assert delivery_id is not None
    replay = post_form(client, f"{page_url}/deliveries/{delivery_id.group(1)}/replay", page_url, {})
    if backend == "postgres":
        run_worker(app, wait=False)
    assert replay.status_code == 302
    assert len(hooks.requests) == 2
    with db.transaction() as s:
        assert s.scalars(select(WebhookDelivery.status)).one() == "succeeded"

    # Disabled (as 3 days of failures would), it is enabled again from its page.
    with db.transaction() as s:
        endpoint = s.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.public_id == public_id)
        ).one()
        endpoint.status, endpoint.disabled_reason = "disabled", "No successful delivery"
    disabled = client.get(page_url)
    assert "Enable again" in disabled.text and "No successful delivery" in disabled.text
    assert ">Replay<" not in disabled.text
    assert post_form(client, f"{page_url}/enable", page_url, {}).status_code == 302
    with db.transaction() as s:
        endpoint = s.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.public_id == public_id)
        ).one()
        assert (endpoint.status, endpoint.disabled_reason) == ("enabled", None)

    # Delete asks first (data-confirm), then the endpoint and its log are gone.
    assert f'data-confirm="Delete endpoint {public_id}' in client.get(page_url).text
    deleted = post_form(client, f"{page_url}/delete", page_url, {})
    assert deleted.status_code == 302
    assert client.get(page_url).status_code == 404


def test_another_customers_endpoint_is_not_found(client: FlaskClient, portal: Portal) -> None:
    theirs = f"/portal/webhooks/{portal.theirs}"
    assert client.get(theirs).status_code == 404
    token = csrf_token(client.get("/portal/webhooks").text)
    for action in ("delete", "enable", f"deliveries/whd_{'0' * 24}/replay"):
        answer = client.post(f"{theirs}/{action}", data={"csrf_token": token})
        assert answer.status_code == 404, action
    for bad in ("we_%00", "x" * 3000, "we_zz"):
        assert client.get(f"/portal/webhooks/{bad}").status_code == 404


def test_a_post_without_csrf_is_refused(client: FlaskClient, portal: Portal, db: Database) -> None:
    answer = client.post(
        "/portal/webhooks", data={"url": "http://127.0.0.1/x", "events": ["invoice.paid"]}
    )
    assert answer.status_code == 400
    with db.transaction() as s:
        mine = select(WebhookEndpoint).where(WebhookEndpoint.customer_id == portal.customer_id)
        assert s.scalars(mine).all() == []


def test_staff_are_not_let_into_the_portal_webhooks(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        factories.staff_user(s, now=clock.now(), email="finance-hooks@azt.example", role="finance")
    login(client, "finance-hooks@azt.example")
    assert client.get("/portal/webhooks").status_code in {302, 403}


@pytest.mark.browser
def test_the_webhooks_pages_meet_wcag_21_aa_and_fit_a_phone(
    browser: Browser, live_server: str, db: Database, clock: FrozenClock, app: Flask
) -> None:
    world = Portal(db, clock)
    with db.transaction() as s:
        endpoint = create_endpoint(
            s,
            world.customer_id,
            url="https://hooks.carrier-with-a-long-name.example/tcf/webhooks/" + "x" * 60,
            events=["invoice.issued", "service.activated"],
            actor="test",
            now=clock.now(),
            production=False,
            resolver=lambda host, port: ["93.184.216.34"],
        )
        public_id = endpoint.public_id
    with app.app_context():
        with db.transaction() as s:
            record_event(
                s,
                "service.activated",
                subject_type="service",
                subject_id=world.service_id,
                customer_id=world.customer_id,
                now=clock.now(),
                key=event_key("service.activated"),
            )
    axe = Axe()
    for width in (1280, 390):
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": 844}
        )
        context.set_default_timeout(5_000)
        page = context.new_page()
        try:
            page.goto("/login")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/portal/")
            page.wait_for_load_state("domcontentloaded")  # nav.js has set the menu up
            if width == 390:  # on a phone the portal menu opens from its Menu button
                page.get_by_role("button", name="Menu").click()
            page.get_by_role("link", name="Webhooks").click()
            page.get_by_label("URL").fill("http://127.0.0.1:9/new")
            page.get_by_label("invoice.paid").check()
            page.get_by_role("button", name="Add endpoint").click()
            expect(page.locator("#new-secret")).to_contain_text("whsec_")
            found = {}
            for path in ("/portal/webhooks", f"/portal/webhooks/{public_id}"):
                page.goto(path)
                result = axe.run(page, options=WCAG_AA)
                assert result.response["passes"], path
                problems = [v["id"] for v in result.response["violations"]]
                if problems:
                    found[path] = problems
                assert page.evaluate("document.documentElement.scrollWidth") <= width, path
            assert found == {}
            # Delete asks first; dismissed, nothing is deleted.
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.get_by_role("button", name="Delete endpoint").click()
            expect(
                page.get_by_role("heading", name=f"Webhook endpoint {public_id}")
            ).to_be_visible()
        finally:
            context.close()
