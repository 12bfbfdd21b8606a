"""Billing through the services (SPEC 4), on both databases: runs, issuing, numbering, tax, FX,
credit notes, and the parties' rights. The rule modules have their own unit tests; these check
what reaches the stored invoices."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.agreement.services import add_version
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError, PermissionDeniedError
from billing.invoicing import runs
from billing.invoicing.document import InvoiceDocument
from billing.invoicing.issuing import (
    IssueError,
    credit_invoice,
    delete_draft_line,
    edit_draft_line,
    issue_invoice,
)
from billing.invoicing.models import (
    BillingRun,
    FrozenInvoiceError,
    Invoice,
    InvoiceLine,
)
from billing.invoicing.queries import get_invoice, invoice_pdf
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import RunSummary, parse_period, run_billing
from billing.invoicing.services import record_fx_rate
from billing.parties.customers import Seller
from billing.sales.lifecycle import transition_service, waive_early_termination
from billing.sales.models import Service
from tests import factories


@pytest.fixture
def seed() -> str:
    return "reference"


ADMIN = Seller("admin@example.test (admin)", None)


def azt(s: Session) -> Seller:
    return factories.party_seller(s, "AZT")


def ktc(s: Session) -> Seller:
    return factories.party_seller(s, "KTC")


def at(clock: FrozenClock, *args: int) -> datetime:
    clock.set(datetime(*args, tzinfo=UTC))  # type: ignore[misc]
    return clock.now()


def bill(
    db: Database, clock: FrozenClock, month: str, *, issuer: str | None = None, **kw: object
) -> RunSummary:
    return run_billing(
        db.transaction,
        period=parse_period(month),
        issuer_code=issuer,
        actor=ADMIN,
        clock=clock.now,
        **kw,  # type: ignore[arg-type]
    )


def lines_of(db: Database, service_id: int) -> list[tuple[str, date, Decimal]]:
    with db.transaction() as s:
        rows = s.execute(
            select(InvoiceLine.charge_kind, InvoiceLine.period_start, InvoiceLine.price_amount)
            .where(InvoiceLine.service_id == service_id, InvoiceLine.charge_kind.is_not(None))
            .order_by(InvoiceLine.period_start, InvoiceLine.charge_kind)
        ).all()
    return [(str(k), p, a) for k, p, a in rows]


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def tax_rules(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())


# -- runs ------------------------------------------------------------------------------------


def test_spec_proration_example_reaches_the_draft(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    # SPEC 4: MRC USD 3,000 ready on 17 November → 14 of 30 days = USD 1,400.00.
    now = at(clock, 2026, 11, 17, 8)
    with db.transaction() as s:
        service = factories.active_service(s, now=now, mrc=Decimal("3000"), nrc=Decimal("0"))
        sid = service.id
    summary = bill(db, clock, "2026-11")
    assert lines_of(db, sid) == [("mrc", date(2026, 11, 17), Decimal("1400.00"))]
    assert summary.invoices == 1 and summary.charges == 1
    assert [str(t) for t in summary.totals] == ["USD 1,400.00"]


def test_re_running_a_month_creates_nothing(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    now = at(clock, 2026, 11, 2, 8)
    with db.transaction() as s:
        for _ in range(3):
            factories.active_service(s, now=now, mrc=Decimal("1000"), nrc=Decimal("250"))
    first = bill(db, clock, "2026-11")
    assert (first.invoices, first.charges) == (3, 6)
    before = (count(db, Invoice), count(db, InvoiceLine))
    again = bill(db, clock, "2026-11")
    assert (again.invoices, again.charges) == (0, 0)
    assert (count(db, Invoice), count(db, InvoiceLine)) == before


def test_a_run_that_fails_half_way_and_is_rerun_bills_every_service_once(
    db: Database, clock: FrozenClock, tax_rules: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = at(clock, 2026, 11, 2, 8)
    with db.transaction() as s:
        ids = [
            factories.active_service(s, now=now, mrc=Decimal("900"), nrc=Decimal("0")).id
            for _ in range(5)
        ]
    real = runs.bill_group
    calls = {"n": 0}

    def failing(*args: object, **kwargs: object) -> runs.GroupOutcome:
        calls["n"] += 1
        if calls["n"] == 4:  # after 3 of 5 customers
            raise RuntimeError("injected: the machine went away")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runs, "bill_group", failing)
    with pytest.raises(RuntimeError, match="injected"):
        bill(db, clock, "2026-11", batch_size=1)
    billed = [sid for sid in ids if lines_of(db, sid)]
    assert len(billed) == 3
    with db.transaction() as s:
        failed = s.execute(select(BillingRun).order_by(BillingRun.id)).scalars().one()
        assert failed.state == "failed" and "injected" in failed.error
    monkeypatch.setattr(runs, "bill_group", real)
    rerun = bill(db, clock, "2026-11")
    assert rerun.charges == 2
    for sid in ids:
        assert lines_of(db, sid) == [("mrc", date(2026, 11, 2), Decimal("870.00"))]


def test_a_service_ready_that_evening_in_baku_is_billed_from_1_december(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    # 2026-11-30T21:30Z is already 01:30 on 1 December in Baku: "today" there is 1 December.
    now = at(clock, 2026, 11, 30, 21, 30)
    with db.transaction() as s:
        service = factories.active_service(s, now=now, mrc=Decimal("3100"), nrc=Decimal("0"))
        assert service.ready_for_service_date == date(2026, 12, 1)
        sid = service.id
    assert bill(db, clock, "2026-11").charges == 0
    bill(db, clock, "2026-12")
    assert lines_of(db, sid) == [("mrc", date(2026, 12, 1), Decimal("3100.00"))]


def test_a_scheduled_ready_for_service_date_is_billed_by_its_date(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    now = at(clock, 2026, 11, 5, 8)
    with db.transaction() as s:
        service = factories.active_service(
            s, now=now, mrc=Decimal("3000"), nrc=Decimal("0"), ready_for_service=date(2026, 11, 21)
        )
        sid = service.id
    bill(db, clock, "2026-11")  # run before the day: the service is still pending
    assert lines_of(db, sid) == [("mrc", date(2026, 11, 21), Decimal("1000.00"))]


def test_early_termination_after_10_of_24_months_bills_the_charge_and_credits_unused_days(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    now = at(clock, 2026, 1, 1, 8)
    with db.transaction() as s:
        service = factories.active_service(
            s, now=now, mrc=Decimal("1000"), nrc=Decimal("0"), term_months=24
        )
        sid, circuit = service.id, service.circuit_id
    at(clock, 2026, 11, 2, 8)
    bill(db, clock, "2026-11")  # January to November, November in advance
    assert len(lines_of(db, sid)) == 11
    now = at(clock, 2026, 11, 3, 8)
    with db.transaction() as s:
        transition_service(
            s,
            circuit,
            "terminate",
            effective_date=date(2026, 10, 31),
            seller=azt(s),
            now=now,
            note="customer's notice received late",
        )
        etc = s.get(Service, sid).early_termination  # type: ignore[union-attr]
        assert etc is not None and etc.months_remaining == 14 and etc.amount == Decimal("14000")
    at(clock, 2026, 12, 1, 8)
    bill(db, clock, "2026-12")
    new = [line for line in lines_of(db, sid) if line[1] >= date(2026, 11, 1)]
    assert sorted(new) == sorted(
        [
            ("mrc", date(2026, 11, 1), Decimal("1000.00")),
            ("mrc_credit", date(2026, 11, 1), Decimal("-1000.00")),
            ("early_termination", date(2026, 11, 1), Decimal("14000.00")),
        ]
    )


def test_a_waived_early_termination_charge_bills_nothing(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    now = at(clock, 2026, 1, 1, 8)
    with db.transaction() as s:
        service = factories.active_service(
            s, now=now, mrc=Decimal("1000"), nrc=Decimal("0"), term_months=24
        )
        sid, circuit = service.id, service.circuit_id
    now = at(clock, 2026, 10, 31, 8)
    with db.transaction() as s:
        transition_service(
            s, circuit, "terminate", effective_date=date(2026, 10, 31), seller=azt(s), now=now
        )
        waive_early_termination(s, circuit, reason="goodwill, new contract", seller=ADMIN, now=now)
    at(clock, 2026, 11, 2, 8)
    bill(db, clock, "2026-11")
    kinds = {kind for kind, _, _ in lines_of(db, sid)}
    assert kinds == {"mrc"} and len(lines_of(db, sid)) == 10


def test_bad_run_input_is_refused_and_writes_nothing(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 20, 8)
    for text in ("2026-13", "November", "2026-1", "", "2026-11-01", "０２０２-11", "1999-12"):
        with pytest.raises(InvalidRequestError):
            parse_period(text)
    with pytest.raises(InvalidRequestError, match="too far ahead"):
        bill(db, clock, "2027-01")
    bill(db, clock, "2026-12")  # next month, in advance, is allowed
    with pytest.raises(InvalidRequestError, match="not a party"):
        bill(db, clock, "2026-11", issuer="XYZ")
    assert count(db, BillingRun) == 1


def test_each_partys_staff_run_billing_only_for_their_own_party(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 20, 8)
    with db.transaction() as s:
        seller = ktc(s)
    for issuer in ("AZT", None):
        with pytest.raises(PermissionDeniedError):
            run_billing(
                db.transaction,
                period=parse_period("2026-11"),
                issuer_code=issuer,
                actor=seller,
                clock=clock.now,
            )
    assert count(db, BillingRun) == 0


# -- issuing ---------------------------------------------------------------------------------


def _draft(
    db: Database,
    clock: FrozenClock,
    *,
    owner: str = "AZT",
    mrc: str = "3000",
    nrc: str = "0",
    currency: str = "USD",
    country: str = "DE",
    purchase_order: str | None = None,
    ready: date | None = None,
) -> int:
    with db.transaction() as s:
        customer = factories.customer(
            s, now=clock.now(), owner=owner, currency=currency, country=country
        )
        service = factories.active_service(
            s,
            now=clock.now(),
            mrc=Decimal(mrc),
            nrc=Decimal(nrc),
            customer=customer,
            owner=owner,
            ready_for_service=ready or clock.now().date().replace(day=1),
        )
        if purchase_order:
            service.contract.purchase_order = purchase_order
        customer_id = customer.id
    bill(db, clock, f"{clock.now():%Y-%m}")
    with db.transaction() as s:
        return int(
            s.execute(select(Invoice.id).where(Invoice.customer_id == customer_id)).scalar_one()
        )


def _rate(db: Database, clock: FrozenClock, quote: str, rate: str, on: date) -> None:
    with db.transaction() as s:
        record_fx_rate(
            s, base="USD", quote=quote, rate=Decimal(rate), on=on, actor="finance", now=clock.now()
        )


def _issue(db: Database, clock: FrozenClock, invoice_id: int, actor: Seller = ADMIN) -> Invoice:
    with db.transaction() as s:
        return issue_invoice(s, invoice_id, actor=actor, now=clock.now(), render=render_invoices)


def test_issuing_numbers_dates_and_stores_the_pdf_once(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock, mrc="3000", nrc="500", purchase_order="PO-7781/2026")
    invoice = _issue(db, clock, draft)
    assert invoice.number == "AZT-INV-2026-000001"
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 11, 2), date(2026, 12, 2))
    assert invoice.total == Decimal("3500.00") and invoice.tax_total == 0
    with db.transaction() as s:
        stored = get_invoice(s, draft)
        pdf_once, pdf_twice = invoice_pdf(s, stored), invoice_pdf(s, stored)
        assert pdf_once == pdf_twice
        import hashlib

        assert hashlib.sha256(pdf_once).hexdigest() == stored.pdf_sha256
        customer = stored.customer.legal_name
        circuit = stored.lines[0].circuit_id
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf_once)).pages)
    for expected in (
        "AZT-INV-2026-000001",
        "2026-11-02",
        "2026-12-02",
        "AzerTelecom",
        "1400057421",  # the issuer's tax id
        customer,
        circuit,
        "Installation",
        "3,500.00",
        "Export of services",
        "PO-7781/2026",
    ):
        assert expected in text, expected
    with db.transaction() as s:
        audit = s.execute(
            select(AuditEntry).where(AuditEntry.action == "invoice.issue")
        ).scalar_one()
        assert "AZT-INV-2026-000001" in str(audit.after)


def test_an_invoice_issued_in_the_almaty_evening_is_dated_1_december(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 20, 8)
    draft = _draft(db, clock, owner="KTC")
    at(clock, 2026, 11, 30, 20)  # 01:00 on 1 December in Almaty (UTC+5)
    invoice = _issue(db, clock, draft)
    assert invoice.number == "KTC-INV-2026-000001"
    assert invoice.issue_date == date(2026, 12, 1)
    assert invoice.due_date == date(2026, 12, 31)


def test_numbers_are_per_issuer_type_and_year(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 12, 20, 8)
    drafts = [_draft(db, clock) for _ in range(2)] + [_draft(db, clock, owner="KTC")]
    numbers = [_issue(db, clock, d).number for d in drafts[:1]]
    at(clock, 2027, 1, 2, 8)
    numbers += [_issue(db, clock, d).number for d in drafts[1:]]
    assert numbers == ["AZT-INV-2026-000001", "AZT-INV-2027-000001", "KTC-INV-2027-000001"]


def test_the_other_partys_finance_cannot_issue_edit_or_credit(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock)
    issued = _draft(db, clock)
    _issue(db, clock, issued)
    with db.transaction() as s:
        other = ktc(s)
        line_id = get_invoice(s, draft).lines[0].id
    for attempt in (
        lambda s: issue_invoice(s, draft, actor=other, now=clock.now(), render=render_invoices),
        lambda s: edit_draft_line(
            s, line_id, description="x", amount=Decimal(1), note="n", actor=other, now=clock.now()
        ),
        lambda s: delete_draft_line(s, line_id, actor=other, now=clock.now()),
        lambda s: credit_invoice(
            s,
            issued,
            amounts=None,
            reason="r",
            actor=other,
            now=clock.now(),
            render=render_invoices,
        ),
    ):
        with pytest.raises(PermissionDeniedError), db.transaction() as s:
            attempt(s)
    with db.transaction() as s:
        assert get_invoice(s, draft).is_draft
        assert get_invoice(s, issued).credited_total == 0


def test_an_issued_invoice_cannot_be_changed_through_the_services_or_the_orm(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock)
    _issue(db, clock, draft)
    with db.transaction() as s:
        line_id = get_invoice(s, draft).lines[0].id
    with pytest.raises(FrozenInvoiceError), db.transaction() as s:
        edit_draft_line(
            s, line_id, description="x", amount=Decimal(1), note="n", actor=ADMIN, now=clock.now()
        )
    with pytest.raises(FrozenInvoiceError), db.transaction() as s:
        delete_draft_line(s, line_id, actor=ADMIN, now=clock.now())
    with pytest.raises(FrozenInvoiceError), db.transaction() as s:
        _issue_again = issue_invoice(s, draft, actor=ADMIN, now=clock.now(), render=render_invoices)
    with pytest.raises(FrozenInvoiceError), db.transaction() as s:
        get_invoice(s, draft).total = Decimal("1")
        s.flush()
    with pytest.raises(FrozenInvoiceError), db.transaction() as s:
        get_invoice(s, draft).lines[0].description = "changed behind the service's back"
        s.flush()
    with pytest.raises(FrozenInvoiceError), db.transaction() as s:
        s.delete(get_invoice(s, draft))
        s.flush()
    with db.transaction() as s:
        invoice = get_invoice(s, draft)
        assert invoice.total == Decimal("3000.00") and "behind" not in invoice.lines[0].description


def test_editing_and_deleting_draft_lines(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock, mrc="3000", nrc="500")
    with db.transaction() as s:
        mrc_line, nrc_line = (line.id for line in get_invoice(s, draft).lines)
        service_id = get_invoice(s, draft).lines[0].service_id
    with db.transaction() as s:
        edit_draft_line(
            s,
            mrc_line,
            description="Monthly charge, November 2026 (agreed discount)",
            amount=Decimal("2700.00"),
            note="discount agreed by email",
            actor=ADMIN,
            now=clock.now(),
        )
    with pytest.raises(InvalidRequestError), db.transaction() as s:
        edit_draft_line(
            s,
            mrc_line,
            description="",
            amount=Decimal("0.001"),
            note="",
            actor=ADMIN,
            now=clock.now(),
        )
    with db.transaction() as s:
        delete_draft_line(s, nrc_line, actor=ADMIN, now=clock.now())
    invoice = _issue(db, clock, draft)
    assert invoice.total == Decimal("2700.00")
    # The deleted installation charge is billed again by the next run.
    bill(db, clock, "2026-11")
    assert ("nrc", date(2026, 11, 1), Decimal("500.00")) in lines_of(db, service_id or 0)


# -- tax and FX ------------------------------------------------------------------------------


def test_a_kz_customer_of_ktc_pays_12_percent_for_2025_and_16_for_2026_rounded_once_per_rate(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 1, 10, 8)  # 15 Dec 2025 is within the 90 days a date may be back-dated
    draft = _draft(db, clock, owner="KTC", country="KZ", mrc="1000.05", ready=date(2025, 12, 15))
    _rate(db, clock, "KZT", "505.1", date(2026, 1, 9))  # for the VAT in KZT
    with db.transaction() as s:  # December 2025 is split by an agreement in effect then
        add_version(
            s,
            name="Cooperation agreement 2025",
            effective_from=date(2025, 1, 1),
            commission_percent=Decimal(5),
            shares={code: {"AZT": Decimal(50), "KTC": Decimal(50)} for code in ("S1", "S2")},
            actor=ADMIN,
            now=clock.now(),
        )
    invoice = _issue(db, clock, draft)
    by_rate = {t.rate_percent: t for t in invoice.taxes}
    assert set(by_rate) == {Decimal("16"), Decimal("12")}
    december, january = Decimal("548.41"), Decimal("1000.05")  # 17/31 of December; January
    assert by_rate[Decimal("12")].base == december
    assert by_rate[Decimal("12")].tax == Decimal("65.81")  # 65.8092 once on the base
    assert by_rate[Decimal("16")].base == january
    assert by_rate[Decimal("16")].tax == Decimal("160.01")  # 160.008
    assert invoice.total == december + january + Decimal("65.81") + Decimal("160.01")
    assert "Kazakhstan VAT at 16%" in by_rate[Decimal("16")].legal_notes


def test_a_foreign_customer_pays_no_vat_and_the_invoice_says_why(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    invoice = _issue(db, clock, _draft(db, clock, owner="KTC", country="TR"))
    assert [(t.rate_percent, t.tax) for t in invoice.taxes] == [(Decimal("0.000"), Decimal("0"))]
    assert "outside Kazakhstan" in invoice.taxes[0].legal_notes


def test_a_kzt_invoice_converts_at_the_stored_rate_and_shows_it(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    now = at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock, owner="KTC", country="KZ", currency="KZT", mrc="1000.00")
    with pytest.raises(IssueError, match="no USD/KZT exchange rate"):
        _issue(db, clock, draft)
    with db.transaction() as s:
        record_fx_rate(
            s,
            base="USD",
            quote="KZT",
            rate=Decimal("512.34"),
            on=date(2026, 11, 1),
            actor="finance",
            now=now,
        )
    invoice = _issue(db, clock, draft)
    assert invoice.currency == "KZT"
    assert invoice.fx_rate == Decimal("512.34") and invoice.fx_rate_date == date(2026, 11, 1)
    assert invoice.subtotal == Decimal("512340.00")
    assert invoice.tax_total == Decimal("81974.40")  # 16%
    assert invoice.tax_local is None or invoice.tax_local_currency == "KZT"
    with db.transaction() as s:
        text = PdfReader(BytesIO(invoice_pdf(s, get_invoice(s, draft)))).pages[0].extract_text()
    assert "512.34" in text and "512,340.00" in text


def test_an_azn_issuer_shows_the_vat_of_a_usd_invoice_in_azn(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    now = at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock, owner="AZT", country="AZ", mrc="1000.00")
    with db.transaction() as s:
        record_fx_rate(
            s,
            base="USD",
            quote="AZN",
            rate=Decimal("1.7"),
            on=date(2026, 11, 2),
            actor="finance",
            now=now,
        )
    invoice = _issue(db, clock, draft)
    assert invoice.tax_total == Decimal("180.00")
    assert (invoice.tax_local, invoice.tax_local_currency) == (Decimal("306.00"), "AZN")


# -- credit notes ----------------------------------------------------------------------------


def test_a_credit_note_reverses_lines_and_tax_with_its_own_gapless_series(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock, owner="AZT", country="AZ", mrc="1000.00", nrc="200.00")
    _rate(db, clock, "AZN", "1.7", date(2026, 11, 1))
    invoice = _issue(db, clock, draft)
    assert invoice.tax_total == Decimal("216.00")
    with db.transaction() as s:
        mrc_line = get_invoice(s, draft).lines[0].id
    with db.transaction() as s:
        first = credit_invoice(
            s,
            draft,
            amounts={mrc_line: Decimal("333.33")},
            reason="outage credit",
            actor=ADMIN,
            now=clock.now(),
            render=render_invoices,
        )
        assert first.number == "AZT-CN-2026-000001"
        assert [line.amount for line in first.lines] == [Decimal("-333.33")]
        assert [t.tax for t in first.taxes] == [Decimal("-60.00")]  # 59.9994 rounded once
    with pytest.raises(IssueError, match="larger"), db.transaction() as s:
        credit_invoice(
            s,
            draft,
            amounts={mrc_line: Decimal("666.68")},
            reason="too much",
            actor=ADMIN,
            now=clock.now(),
            render=render_invoices,
        )
    with db.transaction() as s:
        rest = credit_invoice(
            s,
            draft,
            amounts=None,
            reason="contract cancelled",
            actor=ADMIN,
            now=clock.now(),
            render=render_invoices,
        )
        assert rest.number == "AZT-CN-2026-000002"
        assert sum(line.amount or 0 for line in rest.lines) == Decimal("-866.67")
        assert [t.tax for t in rest.taxes] == [Decimal("-156.00")]  # what is left, exactly
    with db.transaction() as s:
        credited = get_invoice(s, draft)
        assert credited.status == "credited" and credited.amount_due == 0
        assert credited.credited_total == invoice.total
        pdf = invoice_pdf(s, s.get(Invoice, rest.id))  # type: ignore[arg-type]
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    assert "AZT-CN-2026-000002" in text and "AZT-INV-2026-000001" in text
    assert "contract cancelled" in text
    with pytest.raises(IssueError, match="Nothing is left"), db.transaction() as s:
        credit_invoice(
            s,
            draft,
            amounts=None,
            reason="again",
            actor=ADMIN,
            now=clock.now(),
            render=render_invoices,
        )


def test_a_credit_without_a_reason_or_with_a_bad_amount_writes_nothing(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock)
    _issue(db, clock, draft)
    with db.transaction() as s:
        line = get_invoice(s, draft).lines[0].id
    for amounts, reason in (
        (None, " "),
        ({line: Decimal("-1")}, "r"),
        ({line: Decimal("0.001")}, "r"),
        ({line: Decimal("NaN")}, "r"),
        ({line + 999: Decimal("1")}, "r"),
    ):
        with pytest.raises(IssueError), db.transaction() as s:
            credit_invoice(
                s,
                draft,
                amounts=amounts,
                reason=reason,
                actor=ADMIN,
                now=clock.now(),
                render=render_invoices,
            )
    assert count(db, Invoice) == 1


# -- numbering under concurrency ---------------------------------------------------------------


def _drafts(db: Database, clock: FrozenClock, n: int) -> list[int]:
    with db.transaction() as s:
        for _ in range(n):
            factories.active_service(s, now=clock.now(), mrc=Decimal("100"), nrc=Decimal("0"))
    bill(db, clock, f"{clock.now():%Y-%m}")
    with db.transaction() as s:
        return list(s.execute(select(Invoice.id).order_by(Invoice.id)).scalars())


def _numbers(db: Database) -> list[int]:
    with db.transaction() as s:
        numbers = s.execute(select(Invoice.number).where(Invoice.number.is_not(None))).scalars()
        return sorted(int(str(n).rsplit("-", 1)[1]) for n in numbers)


def _quick_render(documents: Sequence[InvoiceDocument]) -> list[bytes]:
    # The numbering race is about the counter, not WeasyPrint: a stand-in PDF keeps it short.
    return [f"%PDF-1.7 {d.number}".encode() for d in documents]


def test_30_drafts_issued_concurrently_get_numbers_1_to_30(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    # On PostgreSQL the counter's row lock orders them; on SQLite the serialised writes do.
    at(clock, 2026, 11, 2, 8)
    drafts = _drafts(db, clock, 30)
    barrier = threading.Barrier(len(drafts))
    errors: list[BaseException] = []

    def worker(invoice_id: int) -> None:
        try:
            barrier.wait()
            with db.transaction() as s:
                issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=_quick_render)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert _numbers(db) == list(range(1, 31))


def test_an_issue_that_fails_after_taking_its_number_leaves_no_gap(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    at(clock, 2026, 11, 2, 8)
    first, second = _drafts(db, clock, 2)

    def broken(documents: Sequence[InvoiceDocument]) -> list[bytes]:
        assert documents[0].number == "AZT-INV-2026-000001"  # the number was taken
        raise OSError("injected: the renderer crashed")

    with pytest.raises(OSError, match="injected"), db.transaction() as s:
        issue_invoice(s, first, actor=ADMIN, now=clock.now(), render=broken)
    with db.transaction() as s:
        assert get_invoice(s, first).is_draft and get_invoice(s, first).number is None
    assert _issue(db, clock, second).number == "AZT-INV-2026-000001"
    assert _issue(db, clock, first).number == "AZT-INV-2026-000002"


def test_a_eur_invoice_of_azt_converts_through_the_azn_rates_of_that_day(
    db: Database, clock: FrozenClock, tax_rules: None
) -> None:
    now = at(clock, 2026, 11, 2, 8)
    draft = _draft(db, clock, owner="AZT", country="DE", currency="EUR", mrc="1000.00")
    with db.transaction() as s:
        for base, rate in (("USD", "1.7000"), ("EUR", "1.9650")):
            record_fx_rate(
                s,
                base=base,
                quote="AZN",
                rate=Decimal(rate),
                on=date(2026, 11, 2),
                actor="finance",
                now=now,
            )
    invoice = _issue(db, clock, draft)
    assert invoice.fx_rate == Decimal("0.86513995")  # 1.7 / 1.965, kept to 8 places
    assert (invoice.fx_base, invoice.currency) == ("USD", "EUR")
    assert invoice.subtotal == Decimal("865.14")
