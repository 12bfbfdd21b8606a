"""No input makes a 500 on the staff pages (issue 7, SPEC 9 and 10), on both databases.

The property test finds the forms itself: it fills every GET route of the app's url_map with the
ids of a small world (a customer, quotes, a hold, services, a price-book version, users, keys),
reads every POST form off the rendered pages, and sends each one hostile values in one field at
a time. Whatever it sends, no answer is a 500, and a refused POST writes nothing. The same goes
for the query parameters of every list page. Plain tests below pin each case the issue lists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billing.audit import AuditEntry, record
from billing.calendar import billing_period
from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.services import SpectrumRequest
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice, TaxRuleRecord
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import flag_dispute
from billing.invoicing.sla_credits import decide_credit
from billing.mail.documents import queue_test_mail
from billing.mail.services import Recipient, add_contact
from billing.money import Money
from billing.parties.customers import Seller
from billing.payments.services import record_bank_payment
from billing.payments.webhooks import StripeEventIn, read_event, record_event
from billing.reminders.services import unsubscribe_token
from billing.sales.lifecycle import transition_service
from billing.sales.models import Quote, QuoteLine, Service
from billing.sales.spectrum import hold_for_customer
from billing.settlement.services import approve_statement, build_statement
from billing.sla.outages import record_outage
from billing.web.auth import _safe_next
from tests import factories
from tests.helpers import csrf_token, login, make_api_key, post_form

ADMIN = "admin@azertelecom.az"
HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02\x1f\x7f",
    "line\r\nSet-Cookie: x=1",
    "\t",
    "x" * 5000,
    "é" * 300,
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e30",
    "-1e30",
    "1E+2",
    "-0",
    "0E-1000000",
    "1e-1000000",
    "12.9",
    "1.9",
    "-1",
    "0",
    "99999999999999999999",
    "-99999999999999999999",
    "9" * 45,
    "9" * 5000,
    "2147483648",
    "0x10",
    "1_000",
    "١٢",  # Arabic-Indic digits: int() takes them, the rules do not
    "１２３",  # full-width digits: so do these
    "１２.５",
    "=cmd|' /C calc'!A0",  # a spreadsheet formula, for whatever CSV the value ends up in
    "@SUM(1+1)",
    "1e999999",
    "-1e999999",
    "\ud800",  # a lone surrogate: decodes, cannot be encoded to UTF-8
    "a\udfffb",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%",
    "_",
]
# Raw fragments of a form body, sent as they are: escapes that are not %XX or not UTF-8.
RAW_ESCAPES = ["%zz", "%", "%f", "%ff%fe", "%c3%28", "%ed%a0%80", "%00", "%0d%0a"]
EXAMPLES_PER_FORM = 15
# What every field gets, whatever hypothesis draws: the values that made 500s or were truncated.
SWEEP = [
    "9" * 5000,
    "１２",
    "=cmd|' /C calc'!A0",
    "\x00",
    "1e999999",
    "\ud800",
    "NaN",
    "Infinity",
    "1e30",
    "99999999999999999999",
    "0E-1000000",
    "12.9",
    "-0",
    "a\x01b",
    "x" * 5000,
    " ",
]
NOT_CRAWLED = {
    "/logout",  # posting it ends the session the test runs in
    # Stripe's signed JSON, not a form: tests/integration/test_payments.py sends it bad input.
    "/stripe/webhook",
    # A portal login's button (the crawler is an admin, refused the portal); only a CSRF token:
    # tests/web/test_payment_pages.py posts it.
    "/portal/invoices/<number>/pay",
    # Buttons that carry only a CSRF token and show only in a state this world has not (a run
    # queued or running, a run abandoned, failed or cancelled, a failed job):
    # tests/web/test_billing_run_pages.py and test_jobs_pages.py post them, and tests/web/
    # test_route_ids.py sends their ids hostile values.
    "/finance/billing-runs/<id:run_id>/cancel",
    "/finance/billing-runs/<id:run_id>/resume",
    "/admin/jobs/<id:job_id>/retry",
    # The portal's webhook pages (the crawler is an admin, refused the portal):
    # tests/web/test_portal_webhooks.py posts them bad input.
    "/portal/webhooks",
    "/portal/webhooks/<endpoint_id>/delete",
    "/portal/webhooks/<endpoint_id>/deliveries/<delivery_id>/replay",
    "/portal/webhooks/<endpoint_id>/enable",
    # The portal's billing contacts (the crawler is an admin, refused the portal):
    # tests/web/test_portal_pages.py posts them bad input and another customer's ids.
    "/portal/contacts/new",
    "/portal/contacts/<id:contact_id>/edit",
    "/portal/contacts/<id:contact_id>/remove",
    # Issuing selected drafts: the form shows on a list filtered to drafts, its ids in checkboxes;
    # tests/web/test_draft_pages.py posts both steps hostile and foreign selections.
    "/finance/invoices/issue-selected",
    "/finance/invoices/issue-selected/confirm",
}


def url_quote(value: str) -> str:
    """%-escaped as a browser would, a lone surrogate as the bytes a sloppy client sends."""
    return quote(value, safe="", errors="surrogatepass")


def hostile_values() -> st.SearchStrategy[tuple[str, bool]]:
    """(value, raw): a value to url-encode, or a raw fragment to put in the body as it is."""
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
    listed = st.tuples(st.sampled_from(HOSTILE), st.just(False))
    return st.one_of(
        listed,
        listed,  # twice: the listed values are the ones known to have hurt
        st.tuples(text, st.just(False)),
        st.tuples(st.sampled_from(RAW_ESCAPES), st.just(True)),
    )


# --- What the pages offer ---------------------------------------------------------------------


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class FormReader(HTMLParser):
    """Every form of a page with the value each field would be sent with."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = a.get("action") or self.page_url
            self._form = Form(a.get("method", "get").lower(), action)
            self.forms.append(self._form)
            return
        form, name = self._form, a.get("name")
        if form is not None and tag == "option" and self._select:
            if self._select not in form.fields or "selected" in a:
                form.fields[self._select] = a.get("value", "")
            return
        if form is None or not name:
            return
        if tag == "input" and a.get("type") not in ("checkbox", "radio", "submit"):
            form.fields.setdefault(name, a.get("value", ""))
        elif tag in ("button", "input") and name not in form.fields:
            form.fields[name] = a.get("value", "")
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            form.fields.setdefault(name, "")

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_on(html: str, page_url: str) -> list[Form]:
    reader = FormReader(page_url)
    reader.feed(html)
    return reader.forms


@dataclass
class World:
    ids: dict[str, list[str]]  # for each argument of a route, the values to fill it with


def build_world(app: Flask, clock: FrozenClock) -> World:
    """A little of everything a page can show: an open quote, a hold, an active service, one
    ended early (its charge can be waived), a scheduled price-book version, a disabled user."""
    db: Database = app.extensions["billing.db"]
    now = clock.now()
    with db.transaction() as s:
        customer = factories.customer(s, now=now)
        offer = factories.quote(s, now=now, customer=customer)
        active = factories.active_service(
            s, now=now, customer=customer, ready_for_service=now.date() - timedelta(days=30)
        )
        ended = factories.active_service(
            s, now=now, customer=customer, ready_for_service=now.date() - timedelta(days=30)
        )
        transition_service(
            s,
            ended.circuit_id,
            "terminate",
            effective_date=now.date(),
            seller=factories.party_seller(s),
            now=now,
        )
        held = hold_for_customer(
            s,
            SpectrumRequest("main", "unprotected", "WL100G"),
            customer_id=customer.id,
            days=14,
            seller=factories.party_seller(s),
            now=now,
        )
        version = factories.price_book_version(
            s, now=now, effective_from=now.date() + timedelta(days=10)
        )
        # An IRU ready in three weeks: its payment plan can still change (the page's form).
        iru = factories.active_service(
            s, now=now, model="iru", term_months=120, ready_for_service=now.date() + timedelta(21)
        )
        user = factories.staff_user(s, now=now)
        disabled = factories.staff_user(s, now=now)
        disabled.active = False
        ids = {
            "customer_id": [str(customer.id)],
            "quote_id": [str(offer.id)],
            "circuit_id": [active.circuit_id, ended.circuit_id],
            "contract_id": [str(active.contract_id), str(iru.contract_id)],
            "reservation_id": [str(held.id)],
            "version_id": [str(version.id)],
            "user_id": [str(user.id)],
            "party_id": [str(customer.owner_party_id)],
        }
        customer_id = customer.id
        ended_id = ended.id
        billed = [
            factories.active_service(
                s, now=now, ready_for_service=now.date().replace(day=1)
            ).contract.customer_id
            for _ in range(3)
        ]
    make_api_key(app, customer_id)  # the keys page shows its Revoke form
    # A billing contact (its edit and remove forms) and a mail (its page's Resend form).
    with app.app_context(), db.transaction() as s:
        contact = add_contact(
            s,
            customer_id,
            {"name": "Hostile Contact", "email": "hostile@example.com"},
            editor=factories.party_seller(s),
            now=now,
        )
        mail = queue_test_mail(
            s,
            customer.owner_party_id,
            Recipient("Desk", "desk@example.com"),
            actor="tests",
            now=now,
        )
        ids["contact_id"] = [str(contact.id)]
        # Its payment reminders' unsubscribe link (a public page with a form).
        ids["token"] = [unsubscribe_token(app.config["SECRET_KEY"], contact)]
        ids["public_id"] = [mail.public_id]
    ids["invoice_id"] = _invoices(db, clock, billed)
    ids["outage_id"] = _outage_and_decision(db, clock, ended_id)
    ids["payment_id"] = _payments(db, clock, billed[1], int(ids["invoice_id"][1]))
    ids["statement_id"] = _statements(db, clock)
    # A tax rule (its legal notes per language have a page with a form).
    with app.app_context(), db.transaction() as s:
        ids["rule_id"] = [
            str(s.scalars(select(TaxRuleRecord.id).order_by(TaxRuleRecord.id)).first())
        ]
    return World(ids)


def _outage_and_decision(db: Database, clock: FrozenClock, service_id: int) -> list[str]:
    """An ongoing outage (its edit form with Close now, its removal question) and last month's
    SLA credit of a service waived (the service page's Undo beside the other months' forms)."""
    now = clock.now()
    last_month = billing_period(now.date().replace(day=1) - timedelta(days=1))
    with db.transaction() as s:
        outage = record_outage(
            s,
            {"segment": "S1", "start": "2026-11-24T06:00Z", "cause": "Cut", "ticket": "CRAWL-1"},
            actor="tests",
            now=now,
        )
        service = s.get(Service, service_id)
        assert service is not None
        decide_credit(
            s,
            service,
            last_month,
            kind="waive",
            credit_percent=None,
            reason="the crawler's",
            actor=Seller("tests", None),
            now=now,
        )
        return [str(outage.id)]


def _payments(db: Database, clock: FrozenClock, customer_id: int, invoice_id: int) -> list[str]:
    """A bank transfer, more than the issued invoice: its refund form, a credit balance to apply
    (the credit-balances page's form), and the customer's payment form; and a flagged one."""
    with db.transaction() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        done = record_bank_payment(
            s,
            customer_id=customer_id,
            issuer_id=invoice.issuer_party_id,
            amount=Money(Decimal("100.00"), invoice.currency),
            value_date=clock.now().date(),
            reference="hostile world",
            applications={invoice_id: Decimal("50.00")},
            actor=Seller("tests", None),
            now=clock.now(),
        )
        # A card payment of the wrong amount, flagged for review: the page's Accept form.
        flagged = record_event(
            s,
            event_of(
                {
                    "id": "evt_hostile_world",
                    "type": "payment_intent.succeeded",
                    "data": {
                        "object": {
                            "id": "pi_hostile_world",
                            "amount_received": 1,
                            "currency": invoice.currency.lower(),
                            "metadata": {"invoice_number": invoice.number},
                        }
                    },
                }
            ),
            now=clock.now(),
        )
        return [str(done.payment.id), str(flagged.payment_id)]


def event_of(event: dict[str, Any]) -> StripeEventIn:
    """A Stripe event as the webhook reads it from its body."""
    return read_event(json.dumps(event).encode())


def _invoices(db: Database, clock: FrozenClock, customer_ids: list[int]) -> list[str]:
    """A draft (its line, delete and issue forms), an issued invoice (its credit and dispute
    forms) and a disputed one (its resolve form)."""
    seller = Seller("tests", None)
    run_billing(
        db.transaction,
        period=parse_period(clock.now().strftime("%Y-%m")),
        issuer_code="AZT",
        actor=seller,
        clock=clock.now,
    )
    with db.transaction() as s:
        draft, issued, disputed = (
            s.execute(
                select(Invoice.id).where(Invoice.customer_id == c, Invoice.status == "draft")
            ).scalar_one()
            for c in customer_ids
        )
        issue_invoice(s, issued, actor=seller, now=clock.now(), render=render_invoices)
        issue_invoice(s, disputed, actor=seller, now=clock.now(), render=render_invoices)
        flag_dispute(s, disputed, reason="the crawler's dispute", actor=seller, now=clock.now())
    return [str(draft), str(issued), str(disputed)]


def _statements(db: Database, clock: FrozenClock) -> list[str]:
    """Last month's settlement statements (it has ended in both calendars, so they can be
    approved): a draft (its approve form) and an approved one (its mark-settled form)."""
    admin = Seller("tests", None)
    month = (clock.now().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    with db.transaction() as s:
        draft = build_statement(s, month, "invoiced", actor=admin, now=clock.now())
        approved = build_statement(s, month, "collected", actor=admin, now=clock.now())
        for party in ("AZT", "KTC"):
            approve_statement(
                s, approved.id, actor=factories.party_seller(s, party), now=clock.now()
            )
        return [str(draft.id), str(approved.id)]


def get_pages(app: Flask, world: World) -> list[str]:
    """Every GET page of the staff UI (api/ and static files aside), its arguments filled in."""
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        if rule.rule.startswith(("/api/", "/healthz", "/readyz")) or rule.rule.endswith(
            ("/pdf", ".pdf")
        ):
            continue
        if any(arg not in world.ids for arg in rule.arguments):
            continue
        urls = [rule.rule]
        for arg in rule.arguments:
            pattern = rf"<(?:[a-z]+:)?{arg}>"
            urls = [re.sub(pattern, value, url) for url in urls for value in world.ids[arg]]
        pages.extend(urls)
    return sorted(set(pages))


def post_forms(client: FlaskClient, pages: list[str]) -> dict[str, Form]:
    """The POST forms on these pages, one per action (the one with most fields)."""
    found: dict[str, Form] = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code < 500, url
        for form in forms_on(response.text, url):
            action = urlsplit(form.action).path
            if form.method != "post" or action in NOT_CRAWLED:
                continue
            if len(form.fields) > len(found.get(action, Form("post", action)).fields):
                found[action] = form
    return found


def list_pages(app: Flask) -> list[str]:
    return [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and not rule.arguments
        and rule.endpoint != "static"
        and not rule.rule.startswith(("/api/", "/healthz", "/readyz"))
    ]


def representatives(form: Form) -> list[str]:
    """One field of each kind: lines-2-quantity is lines-0-quantity again, e56-mrc is e55-mrc."""
    kinds: dict[str, str] = {}
    for name in sorted(form.fields):
        if name != "csrf_token":
            kinds.setdefault(re.sub(r"\d+", "#", name), name)
    return sorted(kinds.values()) or ["csrf_token"]


def body(fields: dict[str, str], target: str, value: str, raw: bool) -> bytes:
    parts = []
    for name, current in fields.items():
        sent = value if name == target else current
        encoded = sent if (raw and name == target) else url_quote(sent)
        parts.append(f"{url_quote(name)}={encoded}")
    return "&".join(parts).encode()


def audit_actions(db: Database, after: int = 0) -> list[str]:
    """The audit log's actions, oldest first; with `after`, those of entries past that id."""
    with db.transaction() as s:
        return list(
            s.execute(
                select(AuditEntry.action).where(AuditEntry.id > after).order_by(AuditEntry.id)
            ).scalars()
        )


def last_audit_id(db: Database) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.coalesce(func.max(AuditEntry.id), 0))).scalar_one())


# --- The property -----------------------------------------------------------------------------


def test_no_hostile_value_in_any_form_field_makes_a_500_or_writes_on_refusal(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    world = build_world(app, clock)
    login(client, ADMIN)
    pages = get_pages(app, world)
    forms = post_forms(client, pages)
    posted_rules = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")
    }
    # Every POST route of the staff UI is found on a page (logout aside).
    reached = {
        rule
        for rule in posted_rules
        for action in forms
        if re.fullmatch(re.sub(r"<[^>]+>", "[^/]+", rule), action)
    }
    assert reached == posted_rules - NOT_CRAWLED, sorted(posted_rules - NOT_CRAWLED - reached)
    builder = forms["/quotes/new"].fields
    assert {"customer_id", "lines-0-product", "lines-0-discount_percent"} <= set(builder)
    token = csrf_token(client.get("/customers/new").text)

    def post_hostile_value(action: str, name: str, value: str, raw: bool = False) -> None:
        fields = {**forms[action].fields, "csrf_token": token}
        # Only what this POST writes is read back (the log grows as the crawl goes on).
        before = last_audit_id(db)
        response = client.post(
            action,
            data=body(fields, name, value, raw),
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code < 500, (action, name, value, response.text[:2000])
        if response.status_code >= 400:
            written = audit_actions(db, after=before)
            # A throttled login is audited on purpose (SPEC 8); nothing else may be written.
            assert set(written) <= {"user.login_throttled"}, (action, name, value, written)

    # Every field of every form (one of each kind: lines-1-x is lines-0-x again) gets the values
    # that have hurt before ...
    for action, form in sorted(forms.items()):
        for name in representatives(form):
            for value in SWEEP:
                post_hostile_value(action, name, value)

    # ... and then whatever hypothesis makes of them: a form, then one of its fields, so that
    # every form gets its share however many fields it has.
    targets = st.sampled_from(sorted(forms)).flatmap(
        lambda action: st.tuples(st.just(action), st.sampled_from(representatives(forms[action])))
    )

    @settings(
        max_examples=len(forms) * EXAMPLES_PER_FORM,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(target=targets, hostile=hostile_values())
    def post_hostile(target: tuple[str, str], hostile: tuple[str, bool]) -> None:
        post_hostile_value(*target, *hostile)

    post_hostile()


def test_no_hostile_query_parameter_on_any_list_page_makes_a_500(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    world = build_world(app, clock)
    login(client, ADMIN)
    pages = list_pages(app)
    names = {"page", "q", "sort", "customer_id", "status", "state", "action", "entity_type"}
    for url in pages:  # and whatever the pages' own GET forms send
        for form in forms_on(client.get(url).text, url):
            if form.method == "get":
                names |= set(form.fields)
    assert {"/customers", "/quotes", "/services", "/admin/audit", "/admin/users"} <= set(pages)
    assert world.ids

    @settings(
        max_examples=len(pages) * 10,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        url=st.sampled_from(sorted(pages)),
        name=st.sampled_from(sorted(names)),
        hostile=hostile_values(),
    )
    def get_hostile(url: str, name: str, hostile: tuple[str, bool]) -> None:
        value, raw = hostile
        query = f"{quote(name)}={value if raw else url_quote(value)}"
        before = audit_actions(db)
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query, response.text[:2000])
        assert audit_actions(db) == before  # a GET never writes

    get_hostile()


# --- The cases of the issue, one by one -------------------------------------------------------


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    login(client, ADMIN)
    return client


def quote_count(db: Database) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(Quote)).scalar_one())


def field_errors(html: str) -> list[str]:
    return [m.strip() for m in re.findall(r'class="field-error"[^>]*>([^<]*)<', html)]


def builder_line(db: Database, clock: FrozenClock, **line: str) -> dict[str, str]:
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now())
        customer_id = customer.id
    data = {"customer_id": str(customer_id), "valid_days": "14", "notes": "", "action": "save"}
    first = {
        "route": "main",
        "protection": "unprotected",
        "product": "WL100G",
        "model": "lease",
        "term_months": "12",
        "quantity": "1",
        "discount_percent": "0",
        "width_ghz": "",
        **line,
    }
    data.update({f"lines-0-{k}": v for k, v in first.items()})
    for row in (1, 2):  # the builder's blank rows, as a browser sends them
        blank = {**first, "product": "", "discount_percent": "", "width_ghz": ""}
        data.update({f"lines-{row}-{k}": v for k, v in blank.items()})
    return data


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("discount_percent", "NaN", "must be a finite number"),
        ("discount_percent", "Infinity", "must be a finite number"),
        ("discount_percent", "1e30", "must be less than 1000"),
        ("discount_percent", "12.345", "at most 2 decimal places"),
        ("discount_percent", "101", "must be between 0 and 100"),
        ("width_ghz", "NaN", "must be a finite number"),
        ("width_ghz", "Infinity", "must be a finite number"),
        ("width_ghz", "1e30", "must be less than 100000"),
        ("term_months", "12.9", "must be a whole number"),
        ("quantity", "1.9", "must be a whole number"),
        ("quantity", "99999999999999999999", "must be between"),
        ("discount_percent", "１２", "must be a number written with the digits 0-9"),
        ("discount_percent", "1e999999", "must be less than 1000"),
        ("quantity", "１２", "must be a whole number"),
        ("term_months", "9" * 5000, "must be a whole number"),
    ],
)
def test_a_quote_line_refuses_a_number_beside_its_field_and_saves_nothing(
    admin: FlaskClient, db: Database, clock: FrozenClock, name: str, value: str, message: str
) -> None:
    data = builder_line(db, clock, **{name: value})
    if name == "width_ghz":
        data["lines-0-product"] = "SPECTRUM"
    before, actions = quote_count(db), audit_actions(db)
    response = post_form(admin, "/quotes/new", "/quotes/new", data)
    assert response.status_code == 422
    assert any(message in e for e in field_errors(response.text)), field_errors(response.text)
    assert quote_count(db) == before and audit_actions(db) == actions


@pytest.mark.parametrize("value", ["-0", "0E-1000000", "0.00"])
def test_a_zero_discount_however_written_is_stored_as_zero(
    admin: FlaskClient, db: Database, clock: FrozenClock, value: str
) -> None:
    response = post_form(
        admin, "/quotes/new", "/quotes/new", builder_line(db, clock, discount_percent=value)
    )
    assert response.status_code == 302, field_errors(response.text)
    with db.transaction() as s:
        stored = s.execute(select(QuoteLine.discount_percent).order_by(QuoteLine.id.desc()))
        discount = stored.scalars().first()
    assert discount == Decimal(0) and str(discount) in ("0", "0.00")


@pytest.mark.parametrize("width", ["NaN", "Infinity", "1e30", "-1"])
def test_the_hold_and_the_availability_query_refuse_a_width_beside_the_field(
    admin: FlaskClient, db: Database, clock: FrozenClock, width: str
) -> None:
    query = admin.get(f"/availability?route=main&product=SPECTRUM&width_ghz={quote(width)}")
    assert query.status_code in (200, 422)
    assert field_errors(query.text), query.text
    with db.transaction() as s:
        customer_id = factories.customer(s, now=clock.now()).id
    actions = audit_actions(db)
    hold = post_form(
        admin,
        "/availability/hold",
        "/availability",
        {
            "route": "main",
            "protection": "unprotected",
            "product": "SPECTRUM",
            "width_ghz": width,
            "customer_id": str(customer_id),
            "hold_days": "14",
        },
    )
    assert hold.status_code == 422
    assert "spectrum.hold" not in " ".join(audit_actions(db)[len(actions) :])
    assert audit_actions(db) == actions


def test_a_nul_in_a_text_field_is_refused_before_anything_is_written(
    admin: FlaskClient, db: Database
) -> None:
    actions = audit_actions(db)
    response = post_form(
        admin,
        "/customers/new",
        "/customers/new",
        {"legal_name": "Evil\x00Carrier", "country": "DE", "payment_terms_days": "30"},
    )
    assert response.status_code == 400
    assert audit_actions(db) == actions


def test_a_control_character_in_a_text_field_gets_a_message_beside_it(
    admin: FlaskClient, db: Database
) -> None:
    actions = audit_actions(db)
    response = post_form(
        admin,
        "/customers/new",
        "/customers/new",
        {
            "legal_name": "Evil\x07Carrier",
            "country": "DE",
            "billing_currency": "USD",
            "payment_terms_days": "30",
            "owner_party": "AZT",
            "contact_name": "x" * 201,
        },
    )
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert "must not contain control characters" in errors
    assert "at most 200 characters" in errors
    assert audit_actions(db) == actions


def test_a_nul_in_an_address_is_not_found(admin: FlaskClient) -> None:
    assert admin.get("/services/%00").status_code == 404


def test_a_nul_in_the_audit_filter_is_a_400(admin: FlaskClient) -> None:
    response = admin.get("/admin/audit?action=%00")
    assert response.status_code == 400
    assert "NUL" in response.text


LIST_PAGES = [
    "/customers",
    "/quotes",
    "/services",
    "/admin/audit",
    "/admin/users",
    "/admin/api-keys",
    "/pricebook",
    "/finance/invoices",
]


ODD_QUERIES = [
    "page=99999999999999999999",
    "page=-1",
    "page=abc",
    "page=",
    "customer_id=",
    "customer_id=abc",
    "customer_id=99999999999999999999",
    "status=nonsense&state=nonsense&sort=nonsense",
    "sort=-",
    "q=%25_%5C",
]


def test_list_pages_take_any_paging_or_filter_with_a_page(admin: FlaskClient) -> None:
    for url in LIST_PAGES:
        for query in ODD_QUERIES:
            response = admin.get(f"{url}?{query}")
            assert response.status_code == 200, (url, query, response.text[:500])


def test_a_page_past_the_end_shows_the_last_page(
    admin: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        for i in range(120):
            record(
                s,
                actor="test",
                action="test.filler",
                entity_type="test",
                entity_id=i,
                now=clock.now(),
            )
    total = len(audit_actions(db))
    last = -(-total // 50)
    for url in ("/admin/audit?page=99999999999999999999", f"/admin/audit?page={last + 5}"):
        response = admin.get(url)
        assert response.status_code == 200
        assert f"page {last} of {last}" in response.text
        assert "<code>" in response.text  # entries shown, not an empty page
    assert f"page 1 of {last}" in admin.get("/admin/audit?page=-1").text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/quotes?status=open", "/quotes?status=open"),
        ("/services/AZT-1", "/services/AZT-1"),
        ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),  # still escaped: harmless
        ("/\r\nSet-Cookie: x=1", "/"),
        ("/quotes\n", "/"),
        ("/a b", "/"),
        ("/a\tb", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("quotes", "/"),
        ("", "/"),
        (None, "/"),
        ("/" + "x" * 3000, "/"),
    ],
)
def test_the_login_goes_on_only_to_a_path_of_this_site(
    app: Flask, target: str | None, expected: str
) -> None:
    with app.test_request_context():
        assert _safe_next(target) == expected


def test_crlf_in_next_logs_in_and_goes_to_the_dashboard(client: FlaskClient) -> None:
    page = client.get("/login")
    response = client.post(
        "/login?next=/quotes%0d%0aSet-Cookie:%20evil=1",
        data={
            "email": ADMIN,
            "password": "caspian-demo-2026",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "evil" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert client.get("/").status_code == 200  # logged in


# --- Search and sort --------------------------------------------------------------------------


def names_in(html: str, table: str) -> list[str]:
    body_ = html.split(f'<table id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'data-customer="([^"]+)"', body_)


def test_customers_can_be_searched_and_sorted(
    admin: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        for name in ("Zeta 100% Fibre", "Alpha_Net", "alphabet Carrier"):
            factories.customer(s, now=clock.now(), legal_name=name)
    found = names_in(admin.get("/customers?q=ALPHA").text, "customers")
    assert found == ["Alpha_Net", "alphabet Carrier"]
    # % and _ are letters in a search, not wildcards.
    assert names_in(admin.get("/customers?q=100%25").text, "customers") == ["Zeta 100% Fibre"]
    assert names_in(admin.get("/customers?q=a_n").text, "customers") == ["Alpha_Net"]
    descending = names_in(admin.get("/customers?sort=-name").text, "customers")
    assert descending == sorted(descending, reverse=True) and len(descending) > 3
    ascending = names_in(admin.get("/customers?sort=name").text, "customers")
    assert ascending == list(reversed(descending))


def test_quotes_services_audit_users_and_keys_can_be_searched(
    admin: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        wanted = factories.customer(s, now=clock.now(), legal_name="Needle Telecom")
        other = factories.customer(s, now=clock.now(), legal_name="Haystack Telecom")
        needle_quote = factories.quote(s, now=clock.now(), customer=wanted).number
        hay_quote = factories.quote(s, now=clock.now(), customer=other).number
        needle_service = factories.active_service(s, now=clock.now(), customer=wanted).circuit_id
        hay_service = factories.active_service(s, now=clock.now(), customer=other).circuit_id
        factories.staff_user(s, now=clock.now(), name="Needle Person")
    quotes = admin.get("/quotes?q=needle").text
    assert needle_quote in quotes and hay_quote not in quotes
    assert hay_quote in admin.get(f"/quotes?q={hay_quote}").text
    services = admin.get("/services?q=NEEDLE").text
    assert needle_service in services and hay_service not in services
    users = admin.get("/admin/users?q=needle").text
    table = users.split('<table id="users"', 1)[1].split("</table>", 1)[0]
    assert "Needle Person" in table and ADMIN not in table
    audit = admin.get("/admin/audit?q=Needle%20Telecom").text
    assert "Needle Telecom" in audit and "Haystack" not in audit


def test_quotes_sort_by_number_both_ways(
    admin: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        numbers = [factories.quote(s, now=clock.now()).number for _ in range(3)]
    ascending = [
        n for n in re.findall(r">(Q-\d{4}-\d{6})</a>", admin.get("/quotes?sort=number").text)
    ]
    descending = [
        n for n in re.findall(r">(Q-\d{4}-\d{6})</a>", admin.get("/quotes?sort=-number").text)
    ]
    assert set(numbers) <= set(ascending)
    assert ascending == sorted(ascending) and descending == list(reversed(ascending))


def test_price_book_versions_can_be_searched_and_sorted(
    admin: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        for days, name in ((10, "Spring tariff"), (20, "Autumn tariff")):
            factories.price_book_version(
                s,
                now=clock.now(),
                effective_from=clock.now().date() + timedelta(days=days),
                name=name,
            )

    def versions(url: str) -> list[str]:
        return re.findall(r'data-version="([^"]+)"', admin.get(url).text)

    assert versions("/pricebook?q=TARIFF") == [
        "Autumn tariff",
        "Spring tariff",
    ]  # latest start first
    assert versions("/pricebook?q=tariff&sort=name") == ["Autumn tariff", "Spring tariff"]
    assert versions("/pricebook?q=tariff&sort=effective_from") == ["Spring tariff", "Autumn tariff"]
    assert versions("/pricebook?q=spring") == ["Spring tariff"]


def test_api_keys_can_be_searched(admin: FlaskClient, db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        needle = factories.customer(s, now=clock.now(), legal_name="Needle Telecom").id
        hay = factories.customer(s, now=clock.now(), legal_name="Haystack Telecom").id
    make_api_key(admin.application, needle)
    make_api_key(admin.application, hay)
    keys = admin.get("/admin/api-keys?q=needle").text
    table = keys.split('<table id="keys"', 1)[1].split("</table>", 1)[0]
    assert "Needle Telecom" in table and "Haystack Telecom" not in table
