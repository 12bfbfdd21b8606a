"""Draft tools and the complete invoice (issue 17): a draft's PDF preview marked DRAFT that takes
no number and stores nothing, its expected due date, one-off lines with a reason and their
split, and the payment terms, contracts, PO, billing contact and account currency frozen at issue
and printed on the PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.access.services import get_party
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.invoicing.issuing import (
    IssueError,
    OneOffLine,
    add_draft_line,
    delete_draft_line,
    draft_preview,
    expected_due_date,
)
from billing.invoicing.models import Invoice, InvoiceLine
from billing.invoicing.queries import get_invoice, invoice_pdf
from billing.invoicing.rendering import render_invoice, render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.mail.services import add_contact
from billing.parties.customers import Seller
from billing.payments.issuing import credit_invoice, issue_invoice
from billing.sales.models import Contract, Service
from billing.sequences import Sequence
from tests import factories

ADMIN = Seller("admin@example.test (admin)", None)


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def rules(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())


def at(clock: FrozenClock, *args: int) -> datetime:
    clock.set(datetime(*args, tzinfo=UTC))  # type: ignore[misc]
    return clock.now()


def text_of(pdf: bytes) -> str:
    reader = PdfReader(BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _draft(
    db: Database,
    clock: FrozenClock,
    *,
    services: int = 1,
    terms: int = 45,
    currency: str = "USD",
    contacts: tuple[tuple[str, str, tuple[str, ...]], ...] = (),
) -> tuple[int, list[int]]:
    """A November draft of a new AZT customer with `services` services, each on its own
    contract; answers the draft's id and the services' ids."""
    with db.transaction() as s:
        customer = factories.customer(
            s, now=clock.now(), payment_terms_days=terms, currency=currency
        )
        service_ids = []
        for n in range(services):
            service = factories.active_service(
                s,
                now=clock.now(),
                mrc=Decimal("3000"),
                nrc=Decimal("0"),
                customer=customer,
                ready_for_service=date(2026, 11, 1),
            )
            service.contract.purchase_order = f"45000123{n}"
            service_ids.append(service.id)
        for name, email, documents in contacts:
            add_contact(
                s,
                customer.id,
                {"name": name, "email": email, "documents": list(documents)},
                editor=ADMIN,
                now=clock.now(),
            )
        customer_id = customer.id
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=ADMIN,
        clock=clock.now,
    )
    with db.transaction() as s:
        draft = s.execute(select(Invoice.id).where(Invoice.customer_id == customer_id))
        return int(draft.scalar_one()), service_ids


def _sequences(db: Database) -> list[tuple[str, int]]:
    with db.transaction() as s:
        return [tuple(row) for row in s.execute(select(Sequence.name, Sequence.value))]  # type: ignore[misc]


def test_issuing_freezes_and_prints_the_terms_contracts_po_contact_and_currency(
    db: Database, clock: FrozenClock, rules: None
) -> None:
    at(clock, 2026, 12, 1, 8)
    draft, _ = _draft(
        db,
        clock,
        services=2,
        contacts=(
            ("Zoe Reminders", "zoe@carrier.example", ("reminders",)),
            ("Anna Payables", "ap@carrier.example", ("invoices", "credit_notes")),
            ("Bob Payables", "bob@carrier.example", ("invoices",)),
        ),
    )
    with db.transaction() as s:
        invoice = issue_invoice(s, draft, actor=ADMIN, now=clock.now(), render=render_invoices)
        contracts = sorted(
            s.scalars(
                select(Contract.number)
                .join(Service, Service.contract_id == Contract.id)
                .join(InvoiceLine, InvoiceLine.service_id == Service.id)
                .where(InvoiceLine.invoice_id == draft)
                .distinct()
            )
        )
    assert len(contracts) == 2
    assert invoice.payment_terms_days == 45
    assert invoice.contract_numbers == "\n".join(contracts)
    assert (invoice.billing_contact_name, invoice.billing_contact_email) == (
        "Anna Payables",
        "ap@carrier.example",
    )
    assert invoice.account_currency == "USD"
    with db.transaction() as s:
        text = text_of(invoice_pdf(s, get_invoice(s, draft)))
        # The customer's terms change later: the issued invoice keeps what it said.
        get_invoice(s, draft).customer.payment_terms_days = 10
    for expected in (
        "Payment terms: 45 days net",
        f"Contracts: {contracts[0]}, {contracts[1]}",
        "Your POs: 450001230, 450001231",
        "Billing contact: Anna Payables <ap@carrier.example>",
        "Account currency: USD",
    ):
        assert expected in text, expected
    assert "DRAFT" not in text

    with db.transaction() as s:
        note = credit_invoice(
            s,
            draft,
            amounts=None,
            reason="cancelled",
            actor=ADMIN,
            now=clock.now(),
            render=render_invoices,
        )
        assert get_invoice(s, draft).payment_terms_days == 45
        note_text = text_of(invoice_pdf(s, get_invoice(s, note.id)))
    assert f"Contracts: {contracts[0]}, {contracts[1]}" in note_text
    assert "Billing contact: Anna Payables <ap@carrier.example>" in note_text
    assert "Payment terms" not in note_text  # a credit note is not paid


def test_an_invoice_with_no_contact_or_contract_leaves_them_out(
    db: Database, clock: FrozenClock, rules: None
) -> None:
    at(clock, 2026, 12, 1, 8)
    draft, _ = _draft(db, clock, services=1, terms=0)
    with db.transaction() as s:
        # Only a one-off line is left: no service, so no contract and no PO.
        line = get_invoice(s, draft).lines[0]
        add_draft_line(
            s,
            draft,
            OneOffLine("Cross-connect fee", Decimal(1), Decimal("150.00"), None, "agreed"),
            actor=ADMIN,
            now=clock.now(),
        )
    with db.transaction() as s:
        delete_draft_line(s, line.id, actor=ADMIN, now=clock.now())
        invoice = issue_invoice(s, draft, actor=ADMIN, now=clock.now(), render=render_invoices)
        assert invoice.contract_numbers is None and invoice.billing_contact_email is None
        text = text_of(invoice_pdf(s, invoice))
    assert "Payment terms: due on receipt" in text
    for absent in ("Contract", "Your PO", "Billing contact"):
        assert absent not in text


def test_a_draft_preview_is_marked_draft_takes_no_number_and_stores_nothing(
    db: Database, clock: FrozenClock, rules: None
) -> None:
    at(clock, 2026, 12, 1, 8)
    draft, _ = _draft(db, clock, contacts=(("Anna", "ap@carrier.example", ("invoices",)),))
    before = _sequences(db)
    with db.transaction() as s:
        document = draft_preview(s, draft, now=clock.now())
        pdf = render_invoice(document)
    text = text_of(pdf)
    assert "DRAFT" in text and "Invoice DRAFT — not yet numbered" in text
    assert "AZT-INV" not in text
    assert "Payment terms: 45 days net" in text
    assert "Due date: 2027-01-15" in text
    assert "USD 3,000.00" in text or "3,000.00" in text
    assert _sequences(db) == before
    with db.transaction() as s:
        stored = get_invoice(s, draft)
        assert stored.is_draft and stored.number is None and stored.pdf_sha256 is None
        assert stored.issue_date is None and stored.payment_terms_days is None
        assert all(line.amount is None for line in stored.lines)
        assert stored.taxes == []
        assert expected_due_date(stored, clock.now()) == date(2027, 1, 15)

    with db.transaction() as s:
        invoice = issue_invoice(s, draft, actor=ADMIN, now=clock.now(), render=render_invoices)
        issued = text_of(invoice_pdf(s, invoice))
    assert invoice.number == "AZT-INV-2026-000001"
    assert "DRAFT" not in issued and "Invoice AZT-INV-2026-000001" in issued


def test_a_draft_that_cannot_be_priced_has_no_preview(
    db: Database, clock: FrozenClock, rules: None
) -> None:
    at(clock, 2026, 12, 1, 8)
    draft, _ = _draft(db, clock, currency="KZT")  # USD prices, and no USD/KZT rate
    before = _sequences(db)
    with pytest.raises(IssueError, match="exchange rate"), db.transaction() as s:
        draft_preview(s, draft, now=clock.now())
    assert _sequences(db) == before


def test_one_off_lines_split_by_their_service_or_stay_whole_with_the_issuer(
    db: Database, clock: FrozenClock, rules: None
) -> None:
    at(clock, 2026, 12, 1, 8)
    draft, (service_id,) = _draft(db, clock)
    with db.transaction() as s:
        on_service = add_draft_line(
            s,
            draft,
            OneOffLine("Extra testing", Decimal("3"), Decimal("333.33"), service_id, "asked for"),
            actor=ADMIN,
            now=clock.now(),
        )
        whole = add_draft_line(
            s,
            draft,
            OneOffLine("Courier", Decimal("1"), Decimal("0.03"), None, "documents sent"),
            actor=ADMIN,
            now=clock.now(),
        )
        ids = (on_service.id, whole.id)
        assert (on_service.position, whole.position) == (2, 3)
        assert on_service.price_amount == Decimal("999.99")
        assert on_service.circuit_id and whole.circuit_id == ""
        assert (on_service.period_start, on_service.period_end) == (
            date(2026, 11, 1),
            date(2026, 11, 30),
        )
        audit = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "invoice_line.add")
            .order_by(AuditEntry.id)
        ).all()
        assert [a.after["reason"] for a in audit] == ["asked for", "documents sent"]  # type: ignore[index]
    with db.transaction() as s:
        issue_invoice(s, draft, actor=ADMIN, now=clock.now(), render=render_invoices)
        azt = get_party(s, "AZT").id
        split, kept = (s.get_one(InvoiceLine, i) for i in ids)
        assert split.amount == Decimal("999.99")
        # Split by the service's route, to the cent: both parties have a part of it.
        assert split.first_party_amount is not None and split.second_party_amount is not None
        assert split.first_party_amount + split.second_party_amount == Decimal("999.99")
        assert split.first_party_amount != 0 and split.second_party_amount != 0
        # No service, no spectrum: the issuer keeps it whole.
        parts = {kept.first_party_id: kept.first_party_amount}
        parts[kept.second_party_id] = kept.second_party_amount
        assert parts[azt] == Decimal("0.03") and sum(p or 0 for p in parts.values()) == Decimal(
            "0.03"
        )
        total = s.execute(
            select(func.sum(InvoiceLine.amount)).where(InvoiceLine.invoice_id == draft)
        ).scalar_one()
        assert Decimal(total) == Decimal("3000.00") + Decimal("999.99") + Decimal("0.03")


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        (OneOffLine("", Decimal(1), Decimal(1), None, ""), {"description", "reason"}),
        (OneOffLine("x", Decimal(0), Decimal(1), None, "r"), {"quantity"}),
        (OneOffLine("x", Decimal("0.0001"), Decimal(1), None, "r"), {"quantity"}),
        (OneOffLine("x", Decimal(1), Decimal("0.001"), None, "r"), {"unit_price"}),
        (OneOffLine("x", Decimal(1), Decimal("-5"), None, "r"), {"unit_price"}),
        (OneOffLine("x", Decimal(1), Decimal("NaN"), None, "r"), {"unit_price"}),
        (OneOffLine("x", Decimal(10**8), Decimal(10**7), None, "r"), {"quantity"}),
        (OneOffLine("x", Decimal(1), Decimal(1), 999999, "r"), {"service_id"}),
    ],
)
def test_a_bad_one_off_line_is_refused_naming_its_fields_and_writes_nothing(
    db: Database, clock: FrozenClock, rules: None, line: OneOffLine, fields: set[str]
) -> None:
    at(clock, 2026, 12, 1, 8)
    draft, _ = _draft(db, clock)
    with pytest.raises(InvalidRequestError) as refused, db.transaction() as s:
        add_draft_line(s, draft, line, actor=ADMIN, now=clock.now())
    assert set(refused.value.errors) == fields
    with db.transaction() as s:
        assert len(get_invoice(s, draft).lines) == 1


def test_a_one_off_line_for_another_customers_service_is_refused(
    db: Database, clock: FrozenClock, rules: None
) -> None:
    at(clock, 2026, 12, 1, 8)
    draft, _ = _draft(db, clock)
    _, (other,) = _draft(db, clock)
    with pytest.raises(InvalidRequestError) as refused, db.transaction() as s:
        add_draft_line(
            s,
            draft,
            OneOffLine("x", Decimal(1), Decimal(1), other, "r"),
            actor=ADMIN,
            now=clock.now(),
        )
    assert set(refused.value.errors) == {"service_id"}
