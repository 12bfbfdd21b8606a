"""Customers read their issued invoices and credit notes and download the PDFs (SPEC 9, issue 8):
only their own, never a draft, the stored bytes with their SHA-256, and nothing can change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import credit_invoice, issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.queries import get_invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from billing.sales.models import Contract
from tests import factories
from tests.helpers import api_error, bearer, error_fields, make_api_key

INVOICES = "/api/v1/invoices"
ADMIN = Seller("admin", None)


@pytest.fixture
def seed() -> str:
    return "reference"


@dataclass(frozen=True)
class World:
    key: dict[str, str]  # customer A's
    other_key: dict[str, str]  # customer B's
    october: str  # A's October invoice, issued on 2 October, partly credited: overdue now
    november: str  # A's November invoice, issued today
    credit_note: str  # against `october`
    others: str  # B's October invoice
    draft_id: int  # A's December draft


def _run(db: Database, clock: FrozenClock, month: str) -> tuple[int, ...]:
    summary = run_billing(
        db.transaction, period=parse_period(month), issuer_code=None, actor=ADMIN, clock=clock.now
    )
    return summary.invoice_ids


def _issue(db: Database, clock: FrozenClock, invoice_id: int) -> str:
    with db.transaction() as s:
        invoice = issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=render_invoices)
        assert invoice.number is not None
        return invoice.number


def _of(db: Database, ids: tuple[int, ...], customer_id: int) -> int:
    with db.transaction() as s:
        (found,) = [i for i in ids if get_invoice(s, i).customer_id == customer_id]
        return found


@pytest.fixture
def world(app: Flask, db: Database, clock: FrozenClock) -> World:
    clock.set(datetime(2026, 10, 1, 9, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        mine = factories.active_service(
            s,
            now=clock.now(),
            mrc=Decimal("3000"),
            nrc=Decimal("500"),
            ready_for_service=date(2026, 10, 1),
        )
        theirs = factories.active_service(
            s, now=clock.now(), mrc=Decimal("1000"), ready_for_service=date(2026, 10, 1)
        )
        a, b = mine.customer_id, theirs.customer_id
    october_ids = _run(db, clock, "2026-10")
    clock.set(datetime(2026, 10, 2, 9, tzinfo=UTC))
    october = _issue(db, clock, _of(db, october_ids, a))
    others = _issue(db, clock, _of(db, october_ids, b))
    clock.set(datetime(2026, 11, 25, 9, tzinfo=UTC))
    november = _issue(db, clock, _of(db, _run(db, clock, "2026-11"), a))
    draft_id = _of(db, _run(db, clock, "2026-12"), a)
    with db.transaction() as s:
        invoice = s.execute(select(Invoice).where(Invoice.number == october)).scalar_one()
        note = credit_invoice(
            s,
            invoice.id,
            amounts={invoice.lines[0].id: Decimal("100")},
            reason="goodwill",
            actor=ADMIN,
            now=clock.now(),
            render=render_invoices,
        )
        assert note.number is not None
        credit_note = note.number
    return World(
        bearer(make_api_key(app, a)),
        bearer(make_api_key(app, b)),
        october,
        november,
        credit_note,
        others,
        draft_id,
    )


def _numbers(client: FlaskClient, key: dict[str, str], **query: str) -> list[str]:
    response = client.get(INVOICES, query_string=query, headers=key)
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.get_json()["items"]]


def test_a_customer_lists_only_its_own_issued_documents(client: FlaskClient, world: World) -> None:
    listed = client.get(INVOICES, headers=world.key).get_json()
    numbers = [item["number"] for item in listed["items"]]
    # Newest first; the December draft and the other customer's invoice are not there.
    assert numbers == [world.credit_note, world.november, world.october]
    assert listed["meta"] == {"page": 1, "per_page": 50, "total": 3, "pages": 1}
    assert _numbers(client, world.other_key) == [world.others]
    assert all(item["status"] != "draft" for item in listed["items"])
    note = listed["items"][0]
    assert note["kind"] == "credit_note"
    assert note["credited_invoice"] == world.october
    assert note["links"] == {
        "self": f"{INVOICES}/{world.credit_note}",
        "pdf": f"{INVOICES}/{world.credit_note}/pdf",
    }


def test_the_list_filters_by_status_kind_period_and_overdue(
    client: FlaskClient, world: World
) -> None:
    assert _numbers(client, world.key, kind="credit_note") == [world.credit_note]
    assert _numbers(client, world.key, kind="invoice") == [world.november, world.october]
    assert _numbers(client, world.key, period="2026-11") == [world.november]
    assert _numbers(client, world.key, period="2026-10") == [world.credit_note, world.october]
    assert _numbers(client, world.key, period="2026-12") == []  # the draft's month
    # Issued on 2 October with 30 days' terms, partly credited: overdue on 25 November.
    assert _numbers(client, world.key, overdue="true") == [world.october]
    assert _numbers(client, world.key, overdue="false") == [world.credit_note, world.november]
    assert _numbers(client, world.key, status="issued", kind="invoice") == [
        world.november,
        world.october,
    ]
    assert _numbers(client, world.key, status="paid") == []
    assert _numbers(client, world.key, per_page="1", page="2") == [world.november]


def test_the_list_filters_by_issue_dates_both_ends_included(
    client: FlaskClient, world: World
) -> None:
    listed = client.get(INVOICES, headers=world.key).get_json()["items"]
    issued = {item["number"]: item["issue_date"] for item in listed}
    assert issued[world.october] == "2026-10-02"
    assert issued[world.november] == "2026-11-25"
    assert _numbers(client, world.key, issued_from="2026-10-02", issued_to="2026-10-02") == [
        world.october
    ]
    assert _numbers(client, world.key, issued_to="2026-10-31") == [
        n for n in (world.credit_note, world.october) if issued[n] <= "2026-10-31"
    ]
    assert world.november in _numbers(client, world.key, issued_from="2026-11-25")
    assert world.october not in _numbers(client, world.key, issued_from="2026-10-03")
    assert _numbers(client, world.key, issued_from="2026-12-01") == []
    backwards = {"issued_from": "2026-11-02", "issued_to": "2026-11-01"}
    body = api_error(client.get(INVOICES, query_string=backwards, headers=world.key), 422)
    assert body["errors"] == {"issued_to": ["must not be before issued_from"]}


def test_a_list_links_its_neighbouring_pages(client: FlaskClient, world: World) -> None:
    first = client.get(
        INVOICES, query_string={"per_page": "1", "kind": "invoice"}, headers=world.key
    )
    assert first.headers["Link"] == (
        f'<http://localhost{INVOICES}?per_page=1&kind=invoice&page=2>; rel="next"'
    )
    second = client.get(
        INVOICES, query_string={"per_page": "1", "kind": "invoice", "page": "2"}, headers=world.key
    )
    assert second.headers["Link"] == (
        f'<http://localhost{INVOICES}?per_page=1&kind=invoice&page=1>; rel="prev"'
    )
    middle = client.get(INVOICES, query_string={"per_page": "1", "page": "2"}, headers=world.key)
    assert 'page=3>; rel="next"' in middle.headers["Link"]
    assert 'page=1>; rel="prev"' in middle.headers["Link"]
    assert "Link" not in client.get(INVOICES, headers=world.key).headers  # one page: no link
    # Following next from the first page reaches every item once, in the same order.
    seen, url = [], f"{INVOICES}?per_page=1"
    while url:
        page = client.get(url, headers=world.key)
        seen += [item["number"] for item in page.get_json()["items"]]
        nxt = [p for p in page.headers.get("Link", "").split(", ") if 'rel="next"' in p]
        url = nxt[0][1 : nxt[0].index(">")].removeprefix("http://localhost") if nxt else ""
    assert seen == [world.credit_note, world.november, world.october]


@pytest.mark.parametrize(
    "query",
    [
        {"status": "draft"},
        {"period": "2026-13"},
        {"period": "11-2026"},
        {"period": "0000-01"},
        {"overdue": "yes"},
        {"issued_from": "2026-02-30"},
        {"issued_to": "yesterday"},
    ],
)
def test_a_bad_filter_is_refused(client: FlaskClient, world: World, query: dict[str, str]) -> None:
    body = api_error(client.get(INVOICES, query_string=query, headers=world.key), 422)
    assert set(query) <= error_fields(body["errors"])


def test_an_unknown_query_parameter_answers_400_naming_it(
    client: FlaskClient, world: World
) -> None:
    body = api_error(client.get(INVOICES, query_string={"customer": "1"}, headers=world.key), 400)
    assert "customer" in body["message"]
    api_error(client.get(f"{INVOICES}/{world.october}?x=1", headers=world.key), 400)


def test_one_invoice_shows_lines_taxes_totals_dates_and_its_pdf(
    client: FlaskClient, db: Database, world: World
) -> None:
    response = client.get(f"{INVOICES}/{world.october}", headers=world.key)
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["number"] == world.october
    assert (body["kind"], body["status"], body["issuer"]) == ("invoice", "issued", "AZT")
    assert (body["issue_date"], body["due_date"]) == ("2026-10-02", "2026-11-01")
    assert body["overdue"] is True
    # October in advance at 3,000 and the NRC of 500: a German customer pays no Azerbaijani VAT.
    lines = body["lines"]
    assert [
        (line["circuit_id"], line["description"], line["period_start"], line["period_end"])
        for line in lines
    ] == [
        ("TCF-WL-000001", "Monthly recurring charge, October 2026", "2026-10-01", "2026-10-31"),
        ("TCF-WL-000001", "Installation (one-time charge)", "2026-10-01", "2026-10-01"),
    ]
    assert [line["amount"] for line in lines] == [
        {"amount": "3000.00", "currency": "USD"},
        {"amount": "500.00", "currency": "USD"},
    ]
    assert body["subtotal"] == {"amount": "3500.00", "currency": "USD"}
    assert body["tax"] == {"amount": "0.00", "currency": "USD"}
    assert body["total"] == {"amount": "3500.00", "currency": "USD"}
    assert body["credited"] == {"amount": "100.00", "currency": "USD"}
    assert body["amount_due"] == {"amount": "3400.00", "currency": "USD"}
    (tax,) = body["taxes"]
    assert tax["rate_percent"] == "0"
    assert tax["base"] == {"amount": "3500.00", "currency": "USD"}
    assert "Export of services" in tax["legal_notes"]
    assert body["fx_rate"] is None  # priced and invoiced in USD
    assert body["links"]["pdf"] == f"{INVOICES}/{world.october}/pdf"
    assert len(body["pdf_sha256"]) == 64
    # What the PDF says of the account, frozen at issue (issue 17).
    with db.transaction() as s:
        mine = select(Invoice.customer_id).where(Invoice.number == world.october)
        contract = s.execute(
            select(Contract.number).where(Contract.customer_id == mine.scalar_subquery())
        ).scalar_one()
    assert body["payment_terms_days"] == 30
    assert body["contract_numbers"] == [contract]
    assert body["billing_contact"] is None  # the customer has no billing contact
    assert body["account_currency"] == "USD"
    assert body["language"] == "en"  # a German customer's invoices print English alone


def test_a_credit_note_names_the_invoice_it_credits_and_why(
    client: FlaskClient, world: World
) -> None:
    body = client.get(f"{INVOICES}/{world.credit_note}", headers=world.key).get_json()
    assert body["kind"] == "credit_note"
    assert body["credited_invoice"] == world.october
    assert body["reason"] == "goodwill"
    assert body["amount_due"] == {"amount": "0.00", "currency": "USD"}
    assert body["number"].startswith("AZT-CN-2026-")


def test_the_pdf_is_the_stored_bytes_with_their_sha256(
    client: FlaskClient, db: Database, world: World
) -> None:
    with db.transaction() as s:
        stored, digest = s.execute(
            select(Invoice.pdf, Invoice.pdf_sha256).where(Invoice.number == world.october)
        ).one()
    url = f"{INVOICES}/{world.october}/pdf"
    first, second = client.get(url, headers=world.key), client.get(url, headers=world.key)
    assert first.status_code == 200
    assert first.mimetype == "application/pdf"
    assert first.data == bytes(stored) == second.data
    assert first.data.startswith(b"%PDF")
    assert hashlib.sha256(first.data).hexdigest() == digest
    assert first.headers["ETag"] == f'"{digest}"'
    assert f"{world.october}.pdf" in first.headers["Content-Disposition"]
    again = client.get(url, headers={**world.key, "If-None-Match": f'"{digest}"'})
    assert again.status_code == 304 and not again.data
    assert again.headers["ETag"] == f'"{digest}"'  # RFC 9110: a 304 repeats the ETag


def test_another_customers_invoice_and_pdf_are_not_found(client: FlaskClient, world: World) -> None:
    for url in (f"{INVOICES}/{world.others}", f"{INVOICES}/{world.others}/pdf"):
        api_error(client.get(url, headers=world.key), 404)
        assert client.get(url, headers=world.other_key).status_code == 200
    for bad in ("AZT-INV-2026-999999", "nonsense", "draft"):
        api_error(client.get(f"{INVOICES}/{bad}", headers=world.key), 404)
        api_error(client.get(f"{INVOICES}/{bad}/pdf", headers=world.key), 404)


def test_a_draft_is_invisible(client: FlaskClient, db: Database, world: World) -> None:
    with db.transaction() as s:
        draft = get_invoice(s, world.draft_id)
        assert draft.is_draft and draft.lines  # December, billed in advance
        draft_id = draft.id
    listed = client.get(INVOICES, query_string={"per_page": "100"}, headers=world.key)
    assert draft_id not in {item.get("id") for item in listed.get_json()["items"]}
    assert len(listed.get_json()["items"]) == 3
    for ref in (str(draft_id), f"{draft_id}/pdf"):
        api_error(client.get(f"{INVOICES}/{ref}", headers=world.key), 404)


@pytest.mark.parametrize("method", ["put", "patch", "delete", "post"])
def test_an_issued_invoice_cannot_be_changed_through_the_api(
    client: FlaskClient, db: Database, world: World, method: str
) -> None:
    def snapshot() -> tuple[Any, ...]:
        with db.transaction() as s:
            inv = s.execute(select(Invoice).where(Invoice.number == world.october)).scalar_one()
            return (inv.status, inv.total, inv.credited_total, inv.pdf_sha256, len(inv.lines))

    before = snapshot()
    for url in (f"{INVOICES}/{world.october}", f"{INVOICES}/{world.october}/pdf", INVOICES):
        response = getattr(client, method)(url, json={"total": "0"}, headers=world.key)
        api_error(response, 405)
        assert "GET" in response.headers["Allow"]
        assert method.upper() not in response.headers["Allow"]
    assert snapshot() == before
