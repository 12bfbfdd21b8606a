"""Each invoice, payment, settlement statement and contract page shows its history in words, with
names, newest first, in the viewer's party's time (SPEC 10); an invoice's history takes in its
credit notes and the payments applied to it. (The service page: tests/web/test_sales_pages.py;
the audit log: tests/web/test_pages.py; axe: tests/web/test_accessibility.py opens these pages.)"""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

from flask import Flask
from flask.testing import FlaskClient

from billing.invoicing.rendering import render_invoices
from billing.money import Money
from billing.parties.customers import Seller
from billing.payments.issuing import credit_invoice
from billing.payments.services import record_bank_payment
from billing.settlement.services import build_statement
from tests import factories
from tests.helpers import login

AZT_FINANCE = "finance@azertelecom.az"


def _history(html: str) -> list[str]:
    """The history's sentences as read, without their times."""
    part = html.split('id="history"', 1)[1].split("</ol>", 1)[0]
    items = re.findall(r'<li id="history-\d+">(.*?)</li>', part, re.S)
    text = [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", i))).strip() for i in items]
    return [re.sub(r"^[0-9-]+ [0-9:]+ ", "", t) for t in text]


def test_invoice_payment_statement_and_contract_pages_tell_their_history(
    app: Flask, client: FlaskClient
) -> None:
    db = app.extensions["billing.db"]
    clock = app.extensions["billing.clock"]
    finance = Seller("finance@azertelecom.az (finance, AZT)", 1)
    with db.transaction() as s:
        service = factories.active_service(s, now=clock.now())
        customer_id, contract_id = service.customer_id, service.contract_id
        name = service.customer.legal_name
    invoice = factories.bill_and_issue(db, clock, customer_id)
    with db.transaction() as s:
        paid = record_bank_payment(
            s,
            customer_id=customer_id,
            issuer_id=invoice.issuer_party_id,
            amount=Money(Decimal("100.00"), invoice.currency),
            value_date=clock.now().date(),
            reference="HIST-1",
            applications={invoice.id: Decimal("100.00")},
            actor=finance,
            now=clock.now(),
        ).payment.id
        note = credit_invoice(
            s,
            invoice.id,
            amounts=None,
            reason="outage in November",
            actor=finance,
            now=clock.now(),
            render=render_invoices,
        ).number
        statement = build_statement(s, "2026-11", "invoiced", actor=finance, now=clock.now()).id
    login(client, AZT_FINANCE)
    total = f"{invoice.currency} {invoice.total:,.2f}"

    said = _history(client.get(f"/finance/invoices/{invoice.id}").text)
    assert f"A test issued invoice {invoice.number} for {total}." in said
    assert (
        f"AZT Finance (AZT finance) credited invoice {invoice.number} with credit note {note} "
        f"for {invoice.currency} -{invoice.total:,.2f} (reason: “outage in November”)."
    ) in said
    assert (
        f"AZT Finance (AZT finance) recorded a bank payment of {invoice.currency} 100.00 from "
        f"{name}, value date {clock.now().date()}."
    ) in said
    assert said[0].startswith("AZT Finance (AZT finance) moved USD 100.00 of the payment")
    assert not any("{" in line for line in said)

    said = _history(client.get(f"/finance/payments/{paid}").text)
    assert any(s.startswith("AZT Finance (AZT finance) recorded a bank payment") for s in said)
    assert any("to the customer's credit balance" in s for s in said)  # after the credit note
    assert (
        f"AZT Finance (AZT finance) applied {invoice.currency} 100.00 of the payment of "
        f"{invoice.currency} 100.00 from {name} to invoice {invoice.number}."
    ) in said

    said = _history(client.get(f"/finance/settlements/{statement}").text)
    assert said == [
        "AZT Finance (AZT finance) built the settlement statement of November 2026 (invoiced)."
    ]

    page = client.get(f"/contracts/{contract_id}").text
    said = _history(page)
    assert any(
        re.fullmatch(r".* accepted quote Q-\d{4}-\d{6}, making contract .*", s) for s in said
    )
    assert any(f"activated service {service.circuit_id}" in s for s in said)
    assert "times in Asia/Baku time" in page
    assert re.search(r"<time [^>]*>2026-11-25 13:00</time>", page)  # 09:00 UTC in Baku
    login(client, "finance@kazakhtelecom.kz")  # the viewer's party's time: Almaty's
    page = client.get(f"/contracts/{contract_id}").text
    assert "times in Asia/Almaty time" in page
    assert re.search(r"<time [^>]*>2026-11-25 14:00</time>", page)


def test_the_audit_log_and_its_csv_read_in_words(app: Flask, client: FlaskClient) -> None:
    db = app.extensions["billing.db"]
    clock = app.extensions["billing.clock"]
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), legal_name="Worded Carrier AG")
    login(client, "admin@azertelecom.az")
    page = client.get("/admin/audit?action=customer.create").text
    assert "created customer Worded Carrier AG." in unescape(page)
    assert f"customer {customer.id}" in page  # the raw entity stays beside the sentence
    csv = client.get("/admin/audit?action=customer.create&format=csv").text
    header, *rows = csv.splitlines()
    assert header == "at_utc,actor,action,entity_type,entity_id,description,before,after"
    assert any("created customer Worded Carrier AG." in row for row in rows)
