"""Finance's payment pages and the customer portal (SPEC 6, 8, 10; issue 10): a bank transfer
applied through the form, bad input refused with nothing written, the credit balance applied from
the invoice page, receivables with ageing, portal logins scoped to one customer, and the pay
button only when card payment is on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.access.services import create_portal_login
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.queries import get_invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from billing.payments.models import Payment, PaymentApplication
from tests import factories
from tests.helpers import FAST_HASH, PASSWORD, csrf_token, login
from tests.stripe_fakes import SECRET_KEY, FakeStripeHttp

FINANCE = "finance@azertelecom.az"
ADMIN = "admin@azertelecom.az"
SYSTEM = Seller("tests", None)


def _render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF-1.7 {d.number}".encode() for d in documents]


@dataclass(frozen=True)
class Billed:
    invoice_id: int
    number: str
    customer_id: int
    due: Decimal


def billed(db: Database, clock: FrozenClock, *, mrc: str = "3000") -> Billed:
    """A new AZT customer with one service since 1 November, its November invoice issued."""
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now())
        factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal(mrc),
            nrc=Decimal("0"),
            ready_for_service=date(2026, 11, 1),
        )
        customer_id = customer.id
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=SYSTEM,
        clock=clock.now,
    )
    with db.transaction() as s:
        draft = s.execute(select(Invoice.id).where(Invoice.customer_id == customer_id)).scalar_one()
        invoice = issue_invoice(s, draft, actor=SYSTEM, now=clock.now(), render=_render)
        assert invoice.number is not None
        return Billed(invoice.id, invoice.number, customer_id, invoice.amount_due)


def _invoice(db: Database, invoice_id: int) -> Invoice:
    with db.transaction() as s:
        return get_invoice(s, invoice_id)


def _payments(db: Database) -> tuple[int, int]:
    with db.transaction() as s:
        return (
            s.execute(select(func.count()).select_from(Payment)).scalar_one(),
            s.execute(select(func.count()).select_from(PaymentApplication)).scalar_one(),
        )


def _record(client: FlaskClient, customer_id: int, **fields: str) -> object:
    url = f"/finance/customers/{customer_id}/payments/new"
    form = client.get(url)
    assert form.status_code == 200, form.text
    issuer = re.search(r'<option (?:selected )?value="(\d+)"(?: selected)?>AZT<', form.text)
    assert issuer, form.text
    data = {
        "issuer": issuer.group(1),
        "currency": "USD",
        "value_date": "2026-11-24",
        "reference": "SWIFT 123",
        "csrf_token": csrf_token(form.text),
        "idempotency_key": form_key(form.text),
        **fields,
    }
    return client.post(url, data=data)


def form_key(html: str) -> str:
    """The payment form's one-time key (a hidden field)."""
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html)
    assert key, "no one-time key on the payment form"
    return key.group(1)


def test_finance_records_a_transfer_applied_to_an_invoice_and_the_invoice_page_shows_it(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    bill = billed(db, clock)
    login(client, FINANCE)
    response = _record(
        client, bill.customer_id, amount="1000", **{f"invoice_{bill.invoice_id}": "1000"}
    )
    assert response.status_code == 302, response.text  # type: ignore[attr-defined]
    invoice = _invoice(db, bill.invoice_id)
    assert (invoice.status, invoice.paid_total) == ("partially_paid", Decimal("1000.00"))
    page = client.get(f"/finance/invoices/{bill.invoice_id}").text
    assert 'id="invoice-payments"' in page and "SWIFT 123" in page
    due = f"{bill.due - 1000:,.2f}"
    assert re.search(rf'id="payments-amount-due">\${re.escape(due)}', page), page
    receivables = client.get("/finance/receivables?q=" + bill.number).text
    assert bill.number in receivables and "current" in receivables


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "100", "currency": "EUR"}, "is in USD; the payment is in EUR"),
        ({"amount": "-100"}, "above zero"),
        ({"amount": "100.001"}, "decimal"),
        ({"amount": "10", "applied": "20"}, "more than the"),
    ],
)
def test_bad_payments_in_the_form_are_refused_and_write_nothing(
    client: FlaskClient, db: Database, clock: FrozenClock, fields: dict[str, str], message: str
) -> None:
    bill = billed(db, clock)
    login(client, FINANCE)
    fields = dict(fields)
    applied = fields.pop("applied", fields["amount"].lstrip("-"))
    response = _record(
        client, bill.customer_id, **fields, **{f"invoice_{bill.invoice_id}": applied}
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert message in response.text  # type: ignore[attr-defined]
    assert _payments(db) == (0, 0)


def test_an_overpayment_is_credit_applied_from_the_next_invoice_page(
    client: FlaskClient, app: Flask, db: Database, clock: FrozenClock
) -> None:
    first = billed(db, clock, mrc="1000")
    login(client, FINANCE)
    _record(client, first.customer_id, amount=str(first.due + 400))
    assert _invoice(db, first.invoice_id).status == "paid"
    balances = client.get("/finance/credit-balances").text
    assert "400.00" in balances
    # A second invoice of the same customer (a December run) takes the credit from its page.
    clock.set(clock.now().replace(month=12, day=2))
    december = run_billing(
        db.transaction,
        period=parse_period("2026-12"),
        issuer_code="AZT",
        actor=SYSTEM,
        clock=clock.now,
    ).invoice_ids
    with db.transaction() as s:
        (draft,) = [i for i in december if get_invoice(s, i).customer_id == first.customer_id]
        issue_invoice(s, draft, actor=SYSTEM, now=clock.now(), render=_render)
    login(client, FINANCE)  # a week later: the idle session has ended
    page = client.get(f"/finance/invoices/{draft}")
    assert "Apply the customer" in page.text
    applied = client.post(
        "/finance/credit-balances/apply",
        data={
            "customer_id": first.customer_id,
            "issuer_id": _invoice(db, draft).issuer_party_id,
            "currency": "USD",
            "invoice_id": draft,
            "back": "invoice",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert applied.status_code == 302
    assert _invoice(db, draft).paid_total == Decimal("400.00")


def test_issuing_the_next_invoice_from_its_page_takes_the_credit_balance(
    client: FlaskClient, app: Flask, db: Database, clock: FrozenClock
) -> None:
    first = billed(db, clock, mrc="1000")
    login(client, FINANCE)
    _record(client, first.customer_id, amount=str(first.due + 400))
    clock.set(clock.now().replace(month=12, day=2))
    december = run_billing(
        db.transaction,
        period=parse_period("2026-12"),
        issuer_code="AZT",
        actor=SYSTEM,
        clock=clock.now,
    ).invoice_ids
    with db.transaction() as s:
        (draft,) = [i for i in december if get_invoice(s, i).customer_id == first.customer_id]
    login(client, FINANCE)  # a week later: the idle session has ended
    page = client.get(f"/finance/invoices/{draft}")
    issued = client.post(
        f"/finance/invoices/{draft}/issue", data={"csrf_token": csrf_token(page.text)}
    )
    assert issued.status_code == 302
    invoice = _invoice(db, draft)
    assert (invoice.status, invoice.paid_total) == ("partially_paid", Decimal("400.00"))
    assert "400.00" not in client.get("/finance/credit-balances").text


def test_sales_cannot_reach_the_payment_pages(client: FlaskClient) -> None:
    login(client, "sales@azertelecom.az")
    for url in ("/finance/payments", "/finance/receivables", "/finance/credit-balances"):
        assert client.get(url).status_code == 403


# --- The portal ---


def _portal_login(app: Flask, customer_id: int, email: str) -> None:
    db: Database = app.extensions["billing.db"]
    with db.transaction() as s:
        create_portal_login(
            s,
            customer_id=customer_id,
            email=email,
            name="Customer Staff",
            password=PASSWORD,
            actor="tests",
            now=app.extensions["billing.clock"].now(),
            hash_method=FAST_HASH,
        )


def test_an_admin_creates_a_portal_login_that_sees_only_its_customer(
    client: FlaskClient, app: Flask, db: Database, clock: FrozenClock
) -> None:
    mine, theirs = billed(db, clock), billed(db, clock)
    login(client, ADMIN)
    url = f"/admin/customers/{mine.customer_id}/portal-logins"
    made = client.post(
        url,
        data={
            "email": "ops@carrier.example",
            "name": "Ops",
            "password": "short",
            "csrf_token": csrf_token(client.get(url).text),
        },
    )
    assert made.status_code == 422  # the staff password rule
    made = client.post(
        url,
        data={
            "email": "ops@carrier.example",
            "name": "Ops",
            "password": PASSWORD,
            "csrf_token": csrf_token(client.get(url).text),
        },
    )
    assert made.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})

    portal = app.test_client()
    login(portal, "ops@carrier.example")
    home = portal.get("/portal/")
    assert home.status_code == 200
    assert mine.number in home.text and theirs.number not in home.text
    page = portal.get(f"/portal/invoices/{mine.number}").text
    # No Stripe key: no pay button.
    assert "by card" not in page and f"/invoices/{mine.number}/pay" not in page
    assert "Pay by bank transfer" in page
    pdf = portal.get(f"/portal/invoices/{mine.number}/pdf")
    assert (pdf.status_code, pdf.data[:4]) == (200, b"%PDF")
    assert portal.get(f"/portal/invoices/{theirs.number}").status_code == 404
    assert portal.get(f"/portal/invoices/{theirs.number}/pdf").status_code == 404
    for staff_page in (
        "/",
        "/finance/invoices",
        f"/finance/invoices/{mine.invoice_id}",
        "/customers",
    ):
        assert portal.get(staff_page).status_code == 403, staff_page
    # And staff are refused the portal.
    assert client.get("/portal/").status_code in (302, 403)
    login(client, FINANCE)
    assert client.get("/portal/").status_code == 403


def test_with_card_payment_on_the_portal_pays_through_stripe_checkout(
    client: FlaskClient, app: Flask, db: Database, clock: FrozenClock
) -> None:
    bill = billed(db, clock)
    _portal_login(app, bill.customer_id, "payer@carrier.example")
    fake = FakeStripeHttp()
    app.config["STRIPE_SECRET_KEY"] = SECRET_KEY
    app.extensions["billing.stripe_http"] = fake
    login(client, "payer@carrier.example")
    page = client.get(f"/portal/invoices/{bill.number}")
    assert "by card" in page.text
    paid = client.post(
        f"/portal/invoices/{bill.number}/pay", data={"csrf_token": csrf_token(page.text)}
    )
    assert paid.status_code == 303
    assert paid.headers["Location"] == "https://checkout.stripe.com/c/pay/cs_test_1"
    assert fake.requests[0]["form"]["metadata[invoice_number]"] == bill.number
