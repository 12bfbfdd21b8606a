"""The finance invoice pages (SPEC 4, 10): the list, a draft and an issued invoice, what finance
does to them, the PDF, credit notes, the other party's invoices, and the dashboard's figures."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from tests import factories
from tests.helpers import csrf_token, login

ADMIN = "admin@azertelecom.az"
AZT_FINANCE = "finance@azertelecom.az"
KTC_FINANCE = "finance@kazakhtelecom.kz"
SALES = "sales@azertelecom.az"
LIST = "/finance/invoices"
SYSTEM = Seller("tests", None)


@dataclass
class Billed:
    invoice_id: int
    customer_id: int
    customer: str
    line_ids: list[int]


def bill(
    db: Database,
    clock: FrozenClock,
    *,
    owner: str = "AZT",
    currency: str = "USD",
    mrc: str = "3000",
    nrc: str = "500",
    name: str | None = None,
) -> Billed:
    """A new customer with one active service since the 1st, billed for November (a draft)."""
    now = clock.now()
    with db.transaction() as s:
        customer = factories.customer(s, now=now, owner=owner, currency=currency)
        if name:
            customer.legal_name = name
        factories.active_service(
            s,
            now=now,
            customer=customer,
            owner=owner,
            mrc=Decimal(mrc),
            nrc=Decimal(nrc),
            ready_for_service=date(2026, 11, 1),
        )
        customer_id, legal_name = customer.id, customer.legal_name
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code=owner,
        actor=SYSTEM,
        clock=clock.now,
    )
    with db.transaction() as s:
        invoice = s.execute(
            select(Invoice).where(Invoice.customer_id == customer_id, Invoice.status == "draft")
        ).scalar_one()
        return Billed(invoice.id, customer_id, legal_name, [line.id for line in invoice.lines])


def issue(db: Database, clock: FrozenClock, invoice_id: int) -> str:
    with db.transaction() as s:
        number = issue_invoice(
            s, invoice_id, actor=SYSTEM, now=clock.now(), render=render_invoices
        ).number
    assert number
    return number


def snapshot(db: Database, invoice_id: int) -> tuple[object, ...]:
    """What a refused action must leave alone: the invoice, its lines, the notes and the audit."""
    with db.transaction() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        return (
            invoice.status,
            invoice.number,
            invoice.credited_total,
            tuple((ln.description, ln.price_amount, ln.amount) for ln in invoice.lines),
            s.execute(select(func.count()).select_from(Invoice)).scalar_one(),
            s.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
        )


def page_of(client: FlaskClient, invoice_id: int) -> str:
    response = client.get(f"{LIST}/{invoice_id}")
    assert response.status_code == 200
    return response.text


def post(client: FlaskClient, url: str, invoice_id: int, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(f"{LIST}/{invoice_id}").text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def rows(html: str) -> list[str]:
    body = html.split('<table id="invoices">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr id="invoice-(\d+)"', body)


# --- The list ---


def test_the_list_is_for_finance_and_admins_and_filters(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    azt = bill(db, clock, name="Aardvark Networks")
    other = bill(db, clock, name="Zebra Carrier")
    ktc = bill(db, clock, owner="KTC", name="Steppe Link")
    number = issue(db, clock, azt.invoice_id)

    login(client, SALES)
    assert client.get(LIST).status_code == 403
    assert f'href="{LIST}"' not in client.get("/").text
    login(client, AZT_FINANCE)
    html = client.get(LIST).text
    assert f'href="{LIST}"' in html
    assert {str(azt.invoice_id), str(other.invoice_id), str(ktc.invoice_id)} <= set(rows(html))
    row = html.split(f'id="invoice-{azt.invoice_id}"')[1].split("</tr>")[0]
    assert number in row and "Aardvark Networks" in row and "AZT" in row and "2026-11" in row
    assert "$3,500.00" in row and "issued" in row
    draft_row = html.split(f'id="invoice-{other.invoice_id}"')[1].split("</tr>")[0]
    assert ">Draft<" in draft_row

    def ids(query: str) -> set[str]:
        response = client.get(f"{LIST}?{query}")
        assert response.status_code == 200, query
        return set(rows(response.text))

    assert str(ktc.invoice_id) in ids("issuer=KTC")
    assert str(azt.invoice_id) not in ids("issuer=KTC")
    assert ids(f"customer_id={other.customer_id}") == {str(other.invoice_id)}
    assert str(azt.invoice_id) in ids("status=issued")
    assert str(other.invoice_id) not in ids("status=issued")
    assert ids("kind=credit_note") == set()
    assert str(azt.invoice_id) in ids("period=2026-11")
    assert ids("period=2026-10") == set()
    assert ids("q=Zebra") == {str(other.invoice_id)}
    assert ids(f"q={number}") == {str(azt.invoice_id)}
    # Not overdue today; 40 days on, past its due date, it is.
    assert ids("overdue=1") == set()
    clock.set(clock.now() + timedelta(days=40))
    login(client, AZT_FINANCE)  # the idle session ended meanwhile
    assert str(azt.invoice_id) in ids("overdue=1")
    assert str(other.invoice_id) not in ids("overdue=1")
    assert "Overdue</span>" in client.get(f"{LIST}?overdue=1").text

    # Sorting by customer, both ways.
    by_name = rows(client.get(f"{LIST}?sort=customer&customer_id=").text)
    assert by_name.index(str(azt.invoice_id)) < by_name.index(str(other.invoice_id))
    reverse = rows(client.get(f"{LIST}?sort=-customer").text)
    assert reverse.index(str(other.invoice_id)) < reverse.index(str(azt.invoice_id))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("issuer=XYZ", "issuer filter was ignored"),
        ("status=lost", "status filter was ignored"),
        ("kind=receipt", "kind filter was ignored"),
        ("period=2026-13", "period filter was ignored"),
        ("period=November", "period filter was ignored"),
        ("customer_id=abc", "customer filter was ignored"),
        ("customer_id=99999999999999999999", "customer filter was ignored"),
    ],
)
def test_a_bad_filter_is_a_message_not_an_error(
    client: FlaskClient, query: str, message: str
) -> None:
    login(client, AZT_FINANCE)
    response = client.get(f"{LIST}?{query}&page=abc&sort=nonsense")
    assert response.status_code == 200
    assert message in response.text


def test_the_list_pages(client: FlaskClient, db: Database, clock: FrozenClock) -> None:
    for _ in range(3):
        bill(db, clock)
    login(client, ADMIN)
    from billing.web import frame

    original = frame.PAGE_SIZE
    frame.PAGE_SIZE = 2
    try:
        first = client.get(f"{LIST}?sort=customer").text
        second = client.get(f"{LIST}?sort=customer&page=2").text
    finally:
        frame.PAGE_SIZE = original
    assert len(rows(first)) == 2
    assert "next →" in first and "page 1 of" in first
    assert rows(second) and not set(rows(second)) & set(rows(first))


# --- A draft ---


def test_a_draft_shows_its_lines_an_estimate_and_what_finance_may_do(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock, mrc="3000", nrc="500")
    login(client, AZT_FINANCE)
    html = page_of(client, draft.invoice_id)
    assert draft.customer in html and "AzerTelecom" in html
    assert "$3,000.00" in html and "$500.00" in html
    assert "If issued today (2026-11-25)" in html and "$3,500.00" in html
    assert 'id="issue-invoice"' in html and "data-confirm=" in html
    assert html.count(">Delete line") == 2 and 'id="delete-draft"' in html
    assert "Download PDF" not in html
    # Another party's finance sees the draft but no button.
    login(client, KTC_FINANCE)
    html = page_of(client, draft.invoice_id)
    assert 'id="issue-invoice"' not in html and "Delete line" not in html


def test_a_draft_that_cannot_be_priced_says_why(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock, currency="KZT")
    login(client, AZT_FINANCE)
    html = page_of(client, draft.invoice_id)
    assert "Cannot be issued yet" in html and "USD/KZT" in html
    assert 'id="issue-invoice"' not in html


def test_finance_edits_and_deletes_a_draft_line(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock)
    first, second = draft.line_ids
    login(client, AZT_FINANCE)
    url = f"{LIST}/{draft.invoice_id}/lines/{first}"
    prefix = f"line-{first}-"
    refused = post(
        client,
        url,
        draft.invoice_id,
        {prefix + "description": "MRC", prefix + "amount": "12.345", prefix + "note": "x"},
    )
    assert refused.status_code == 422
    before = snapshot(db, draft.invoice_id)
    no_reason = post(
        client,
        url,
        draft.invoice_id,
        {prefix + "description": "MRC", prefix + "amount": "10", prefix + "note": ""},
    )
    assert no_reason.status_code == 422 and snapshot(db, draft.invoice_id) == before
    saved = post(
        client,
        url,
        draft.invoice_id,
        {
            prefix + "description": "MRC, agreed discount",
            prefix + "amount": "2700",
            prefix + "note": "discount agreed on the phone",
        },
    )
    assert saved.status_code == 302
    html = page_of(client, draft.invoice_id)
    assert "MRC, agreed discount" in html and "$2,700.00" in html
    assert "discount agreed on the phone" in html

    deleted = post(client, f"{LIST}/{draft.invoice_id}/lines/{second}/delete", draft.invoice_id)
    assert deleted.status_code == 302
    with db.transaction() as s:
        assert [ln.id for ln in s.get(Invoice, draft.invoice_id).lines] == [first]  # type: ignore[union-attr]
    # The last line takes the draft with it.
    gone = post(client, f"{LIST}/{draft.invoice_id}/lines/{first}/delete", draft.invoice_id)
    assert gone.status_code == 302 and gone.headers["Location"].endswith(LIST)
    with db.transaction() as s:
        assert s.get(Invoice, draft.invoice_id) is None


def test_a_line_is_acted_on_through_its_own_invoice_only(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    one, two = bill(db, clock), bill(db, clock)
    login(client, AZT_FINANCE)
    before = snapshot(db, two.invoice_id)
    response = post(
        client, f"{LIST}/{one.invoice_id}/lines/{two.line_ids[0]}/delete", one.invoice_id
    )
    assert response.status_code == 404
    assert snapshot(db, two.invoice_id) == before


def test_finance_deletes_a_draft(client: FlaskClient, db: Database, clock: FrozenClock) -> None:
    draft = bill(db, clock)
    login(client, AZT_FINANCE)
    response = post(client, f"{LIST}/{draft.invoice_id}/delete", draft.invoice_id)
    assert response.status_code == 302
    assert client.get(f"{LIST}/{draft.invoice_id}").status_code == 404


# --- Issuing, the PDF, credit notes ---


def test_issuing_numbers_the_invoice_and_its_pdf_downloads_the_same_twice(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock)
    login(client, AZT_FINANCE)
    response = post(client, f"{LIST}/{draft.invoice_id}/issue", draft.invoice_id)
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).text
    number = re.search(r"AZT-INV-2026-\d{6}", html)
    assert number, html
    assert f"Invoice {number.group(0)} issued" in html
    assert "Issue date" in html and "2026-11-25" in html
    # Frozen: no edit form, no issue button; a credit note form instead.
    assert "Delete line" not in html and 'id="issue-invoice"' not in html
    assert 'id="issue-credit"' in html
    first = client.get(f"{LIST}/{draft.invoice_id}/pdf")
    second = client.get(f"{LIST}/{draft.invoice_id}/pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert first.headers["Content-Disposition"] == f'attachment; filename="{number.group(0)}.pdf"'
    assert first.data == second.data
    assert hashlib.sha256(first.data).hexdigest() in html
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(first.data)).pages)
    assert number.group(0) in text and draft.customer in text


def test_an_issued_invoice_refuses_line_changes(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft = bill(db, clock)
    issue(db, clock, draft.invoice_id)
    login(client, AZT_FINANCE)
    html = page_of(client, draft.invoice_id)
    assert "Save line" not in html
    before = snapshot(db, draft.invoice_id)
    line = draft.line_ids[0]
    prefix = f"line-{line}-"
    edit = post(
        client,
        f"{LIST}/{draft.invoice_id}/lines/{line}",
        draft.invoice_id,
        {prefix + "description": "changed", prefix + "amount": "1", prefix + "note": "why not"},
    )
    assert edit.status_code == 409 and "cannot change" in edit.text
    delete = post(client, f"{LIST}/{draft.invoice_id}/lines/{line}/delete", draft.invoice_id)
    assert delete.status_code == 409
    assert post(client, f"{LIST}/{draft.invoice_id}/delete", draft.invoice_id).status_code == 409
    assert snapshot(db, draft.invoice_id) == before


def test_a_whole_credit_note_and_one_per_line(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    whole, part = bill(db, clock), bill(db, clock)
    whole_number = issue(db, clock, whole.invoice_id)
    issue(db, clock, part.invoice_id)
    login(client, AZT_FINANCE)

    no_reason = post(
        client,
        f"{LIST}/{whole.invoice_id}/credit",
        whole.invoice_id,
        {"scope": "whole", "reason": ""},
    )
    assert no_reason.status_code == 422
    response = post(
        client,
        f"{LIST}/{whole.invoice_id}/credit",
        whole.invoice_id,
        {"scope": "whole", "reason": "service never delivered"},
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).text
    assert "Credit note" in html and "issued" in html
    with db.transaction() as s:
        notes = (
            s.execute(select(Invoice).where(Invoice.credited_invoice_id == whole.invoice_id))
            .scalars()
            .all()
        )
        assert len(notes) == 1 and notes[0].total == Decimal("-3500.00")
        note_id, note_number = notes[0].id, notes[0].number
    assert note_number and note_number != whole_number and note_number in html
    assert f'href="{LIST}/{note_id}"' in html
    assert "$0.00" in html.split('id="amount-due"')[1][:80]
    note_html = page_of(client, note_id)
    assert whole_number in note_html and "service never delivered" in note_html

    # Per line: more than the line is refused and writes nothing; within it, credited.
    line = part.line_ids[0]
    before = snapshot(db, part.invoice_id)
    too_much = post(
        client,
        f"{LIST}/{part.invoice_id}/credit",
        part.invoice_id,
        {"scope": "lines", f"line_{line}": "3000.01", "reason": "too much"},
    )
    assert too_much.status_code == 422
    assert "larger than what is left" in too_much.text
    assert snapshot(db, part.invoice_id) == before
    done = post(
        client,
        f"{LIST}/{part.invoice_id}/credit",
        part.invoice_id,
        {"scope": "lines", f"line_{line}": "1000", "reason": "outage in November"},
    )
    assert done.status_code == 302
    html = client.get(done.headers["Location"]).text
    assert "$2,500.00" in html.split('id="amount-due"')[1][:80]


def test_ktc_finance_cannot_act_on_an_azt_invoice(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    draft, issued = bill(db, clock), bill(db, clock)
    issue(db, clock, issued.invoice_id)
    login(client, KTC_FINANCE)
    html = page_of(client, issued.invoice_id)
    assert 'id="issue-credit"' not in html
    line = draft.line_ids[0]
    prefix = f"line-{line}-"
    before_draft, before_issued = snapshot(db, draft.invoice_id), snapshot(db, issued.invoice_id)
    attempts = [
        (f"{LIST}/{draft.invoice_id}/issue", draft.invoice_id, {}),
        (
            f"{LIST}/{draft.invoice_id}/lines/{line}",
            draft.invoice_id,
            {prefix + "description": "x", prefix + "amount": "1", prefix + "note": "y"},
        ),
        (f"{LIST}/{draft.invoice_id}/lines/{line}/delete", draft.invoice_id, {}),
        (f"{LIST}/{draft.invoice_id}/delete", draft.invoice_id, {}),
        (
            f"{LIST}/{issued.invoice_id}/credit",
            issued.invoice_id,
            {"scope": "whole", "reason": "no"},
        ),
    ]
    for url, invoice_id, data in attempts:
        response = post(client, url, invoice_id, data)
        assert response.status_code == 403, url
        assert "only AZT" in response.text, url
    assert snapshot(db, draft.invoice_id) == before_draft
    assert snapshot(db, issued.invoice_id) == before_issued


# --- The dashboard ---


def test_the_dashboard_shows_the_month_billed_and_the_overdue_invoices(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    paid_late = bill(db, clock, mrc="3000", nrc="500", name="Late Payer Ltd")
    number = issue(db, clock, paid_late.invoice_id)
    bill(db, clock, mrc="1000", nrc="0")  # a draft: not billed revenue
    login(client, SALES)
    assert 'id="finance-figures"' not in client.get("/").text
    login(client, AZT_FINANCE)
    assert client.get("/").location.endswith("/finance")  # finance land on their dashboard
    html = client.get("/?view=map").text  # which links to the map with these figures
    revenue = html.split('id="billed-revenue"')[1].split("</table>")[0]
    assert "AZT" in revenue and "$3,500.00" in revenue
    overdue = html.split('id="overdue-invoices"')[1].split("</table>")[0]
    assert "No invoice is overdue" in overdue
    with db.transaction() as s:
        due = s.get(Invoice, paid_late.invoice_id).due_date  # type: ignore[union-attr]
    assert due is not None
    clock.set(clock.now() + (due - date(2026, 11, 25)) + timedelta(days=3))
    login(client, AZT_FINANCE)  # the idle session ended meanwhile
    html = client.get("/?view=map").text
    overdue = html.split('id="overdue-invoices"')[1].split("</table>")[0]
    assert number in overdue and "Late Payer Ltd" in overdue and due.isoformat() in overdue
    assert f'href="{LIST}/{paid_late.invoice_id}"' in overdue
    assert "$3,500.00" in overdue and ">3<" in overdue
