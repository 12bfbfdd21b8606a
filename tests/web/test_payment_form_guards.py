"""The bank-transfer form closed against misuse (SPEC 6, issue 14), on both databases: an
allocation naming anything but an open invoice of the customer refuses the whole payment with
the reason beside it, one submitted form records at most one payment (sequentially and ten posts
at once), and amounts in other digits than 0-9 are refused."""

from __future__ import annotations

import html
import re
import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.money import Money
from billing.payments.models import Payment, PaymentApplication
from billing.payments.queries import ledger_balance
from tests.helpers import csrf_token, login
from tests.web.test_payment_pages import FINANCE, SYSTEM, Billed, billed, form_key

URL = "/finance/customers/{}/payments/new"


def _written(db: Database) -> tuple[int, int, int]:
    with db.transaction() as s:
        return (
            s.execute(select(func.count()).select_from(Payment)).scalar_one(),
            s.execute(select(func.count()).select_from(PaymentApplication)).scalar_one(),
            s.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action.like("payment.%"))
            ).scalar_one(),
        )


def _form(client: FlaskClient, customer_id: int) -> dict[str, str]:
    page = client.get(URL.format(customer_id))
    assert page.status_code == 200, page.text
    issuer = re.search(r'<option (?:selected )?value="(\d+)"(?: selected)?>AZT<', page.text)
    assert issuer, page.text
    return {
        "issuer": issuer.group(1),
        "currency": "USD",
        "value_date": "2026-11-24",
        "reference": "SWIFT 777",
        "csrf_token": csrf_token(page.text),
        "idempotency_key": form_key(page.text),
    }


def _set_status(db: Database, invoice_id: int, status: str) -> None:
    with db.transaction() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.status = status


def _draft(db: Database, clock: FrozenClock, customer_id: int) -> int:
    """A draft invoice of the customer (December's run)."""
    clock.set(clock.now().replace(month=12, day=2))
    ids = run_billing(
        db.transaction,
        period=parse_period("2026-12"),
        issuer_code="AZT",
        actor=SYSTEM,
        clock=clock.now,
    ).invoice_ids
    with db.transaction() as s:
        (draft,) = [i for i in ids if s.get(Invoice, i).customer_id == customer_id]  # type: ignore[union-attr]
        return draft


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("another customer's", "another customer's invoice"),
        ("unknown", "no invoice 99999"),
        ("paid", "not an open invoice (it is paid)"),
        ("credited", "not an open invoice (it is credited)"),
        ("draft", "not an open invoice (it is draft)"),
        ("other currency", "is in USD; the payment is in EUR"),
    ],
)
def test_an_allocation_to_anything_but_an_open_invoice_of_the_customer_refuses_it_whole(
    client: FlaskClient, db: Database, clock: FrozenClock, target: str, message: str
) -> None:
    mine, theirs = billed(db, clock), billed(db, clock)
    login(client, FINANCE)
    data = _form(client, mine.customer_id)  # the form as shown: only mine is listed
    named = {"another customer's": theirs.invoice_id, "unknown": 99999}.get(target, mine.invoice_id)
    if target in ("paid", "credited", "void"):
        _set_status(db, mine.invoice_id, target)
    elif target == "draft":
        login(client, FINANCE)
        named = _draft(db, clock, mine.customer_id)
        login(client, FINANCE)  # the clock moved: a fresh session
        data = _form(client, mine.customer_id)
    elif target == "other currency":
        data["currency"] = "EUR"  # the payment's currency; the invoice is in USD
    before = _written(db)
    response = client.post(
        URL.format(mine.customer_id),
        data={**data, "amount": "100", f"invoice_{named}": "100"},
    )
    assert response.status_code == 422, response.text
    assert message in html.unescape(response.text)
    # The reason stands beside the allocation's field, and the form is shown again.
    assert re.search(
        rf'name="invoice_{named}"[^>]*>\s*<span class="field-error" role="alert">[^<]*'
        rf"{re.escape(message.split('(')[0].strip()[:20])}",
        html.unescape(response.text),
    ), response.text
    assert "Payment recorded" not in response.text
    assert _written(db) == before
    # The open invoice this form also listed was not paid either.
    with db.transaction() as s:
        assert s.get(Invoice, mine.invoice_id).paid_total == 0  # type: ignore[union-attr]


def test_an_allocation_that_names_no_invoice_id_is_refused(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    bill = billed(db, clock)
    login(client, FINANCE)
    data = _form(client, bill.customer_id)
    for key in ("invoice_abc", "invoice_99999999999999999999", "invoice_0", "invoice_１"):
        response = client.post(
            URL.format(bill.customer_id), data={**data, "amount": "100", key: "100"}
        )
        assert response.status_code == 422, key
        assert "names no invoice" in response.text
    assert _written(db) == (0, 0, 0)


def test_the_same_form_posted_twice_records_one_payment(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    bill = billed(db, clock)
    login(client, FINANCE)
    data = {**_form(client, bill.customer_id), "amount": "250"}
    first = client.post(URL.format(bill.customer_id), data=data)
    again = client.post(URL.format(bill.customer_id), data=data, follow_redirects=True)
    assert first.status_code == 302
    assert again.status_code == 200
    assert first.headers["Location"] == again.request.path
    assert "This form was sent already" in again.text
    assert _written(db) == (1, 1, 2)  # one payment, one application, its two audit rows
    # A new form (a new key) records a new payment.
    fresh = client.post(
        URL.format(bill.customer_id), data={**_form(client, bill.customer_id), "amount": "5"}
    )
    assert fresh.status_code == 302 and fresh.headers["Location"] != first.headers["Location"]
    with db.transaction() as s:
        ledger = ledger_balance(s, bill.customer_id, int(data["issuer"]), "USD")
        assert ledger.received == Money(Decimal("255"), "USD") and ledger.balanced


@pytest.mark.parametrize("key", [None, "", "short", "x" * 65, "bad key with spaces!!"])
def test_a_form_without_its_one_time_key_records_nothing(
    client: FlaskClient, db: Database, clock: FrozenClock, key: str | None
) -> None:
    bill = billed(db, clock)
    login(client, FINANCE)
    data: dict[str, Any] = {**_form(client, bill.customer_id), "amount": "250"}
    if key is None:
        del data["idempotency_key"]
    else:
        data["idempotency_key"] = key
    response = client.post(URL.format(bill.customer_id), data=data)
    assert response.status_code == 422
    assert "This form has expired" in response.text
    assert _written(db) == (0, 0, 0)


def test_a_key_used_for_another_customer_records_nothing(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    mine, theirs = billed(db, clock), billed(db, clock)
    login(client, FINANCE)
    data = {**_form(client, mine.customer_id), "amount": "10"}
    assert client.post(URL.format(mine.customer_id), data=data).status_code == 302
    other = {**_form(client, theirs.customer_id), "amount": "10"}
    other["idempotency_key"] = data["idempotency_key"]
    response = client.post(URL.format(theirs.customer_id), data=other)
    assert response.status_code == 422
    assert "this form was used for another payment" in response.text
    assert _written(db)[0] == 1


def test_ten_concurrent_posts_of_one_form_record_one_payment(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    """On PostgreSQL the ten requests run in parallel transactions (the customer lock and the
    UNIQUE key decide); SQLite serialises writers, and the same must hold."""
    bill: Billed = billed(db, clock)
    login(client, FINANCE)
    data = {**_form(client, bill.customer_id), "amount": str(bill.due + 1000)}
    cookie = client.get_cookie("session")
    assert cookie is not None
    start = threading.Barrier(10)
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            c = app.test_client()
            c.set_cookie(cookie.key, cookie.value)
            start.wait()
            r = c.post(URL.format(bill.customer_id), data=data)
            answers.append((r.status_code, r.headers.get("Location", "")))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert [status for status, _ in answers] == [302] * 10, answers
    assert len({location for _, location in answers}) == 1
    assert _written(db) == (1, 1, 2)
    with db.transaction() as s:
        invoice = s.get(Invoice, bill.invoice_id)
        assert invoice is not None and invoice.status == "paid"
        ledger = ledger_balance(s, bill.customer_id, int(data["issuer"]), "USD")
        assert ledger.credit == Money(Decimal("1000"), "USD"), ledger
        assert ledger.balanced, ledger.problems


@pytest.mark.parametrize("amount", ["１０", "١٠٠", "1_000", "10.５"])
def test_an_amount_in_other_digits_is_refused_in_the_form(
    client: FlaskClient, db: Database, clock: FrozenClock, amount: str
) -> None:
    bill = billed(db, clock)
    login(client, FINANCE)
    data = {**_form(client, bill.customer_id), "amount": amount}
    response = client.post(URL.format(bill.customer_id), data=data)
    assert response.status_code == 422
    assert "digits 0-9" in response.text
    # And in an allocation field.
    data = {**data, "amount": "10", f"invoice_{bill.invoice_id}": amount}
    response = client.post(URL.format(bill.customer_id), data=data)
    assert response.status_code == 422
    assert "digits 0-9" in response.text
    assert _written(db) == (0, 0, 0)


@pytest.mark.parametrize("value", ["²", "١", "１", "0", "1_0"])
def test_applying_credit_with_an_id_in_other_digits_is_a_400_not_a_500(
    client: FlaskClient, db: Database, clock: FrozenClock, value: str
) -> None:
    bill = billed(db, clock)
    login(client, FINANCE)
    page = client.get("/finance/credit-balances")
    response = client.post(
        "/finance/credit-balances/apply",
        data={
            "customer_id": str(bill.customer_id),
            "issuer_id": value,
            "currency": "USD",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 400
