"""Settlement statements on both databases (SPEC 5): a month with invoices from both issuers in
USD and KZT, a credit note and a disputed invoice nets to what each issuer holds for the other,
line by line; approvals per party; a settled statement never changes; CSV and PDF; bad input."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.agreement.services import add_version
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError, InvalidRequestError, PermissionDeniedError
from billing.invoicing.issuing import credit_invoice, issue_invoice
from billing.invoicing.models import Invoice, InvoiceLine
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import flag_dispute, record_fx_rate
from billing.money import Money, allocate
from billing.parties.customers import Seller
from billing.parties.models import Customer, Party
from billing.payments.services import record_bank_payment
from billing.settlement.document import statement_pdf
from billing.settlement.models import FrozenStatementError, SettlementStatement
from billing.settlement.queries import (
    documents_not_in,
    get_statement,
    is_stale,
    split_statement_csv,
)
from billing.settlement.revenue import revenue_csv, revenue_report
from billing.settlement.services import approve_statement, build_statement, mark_settled
from tests import factories

ADMIN = Seller("admin@example.test (admin)", None)
CENT = Decimal("0.01")


@pytest.fixture
def seed() -> str:
    return "reference"


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF {d.number}".encode() for d in documents]


def at(clock: FrozenClock, *args: int) -> datetime:
    clock.set(datetime(*args, tzinfo=UTC))  # type: ignore[misc]
    return clock.now()


def party_id(s: Session, code: str) -> int:
    return int(s.execute(select(Party.id).where(Party.code == code)).scalar_one())


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _service(s: Session, now: datetime, owner: str, currency: str, country: str, mrc: str) -> int:
    customer = factories.customer(s, now=now, owner=owner, currency=currency, country=country)
    factories.active_service(
        s,
        now=now,
        mrc=Decimal(mrc),
        nrc=Decimal("0"),
        customer=customer,
        owner=owner,
        ready_for_service=date(2026, 11, 1),
    )
    return customer.id


@pytest.fixture
def november(db: Database, clock: FrozenClock) -> dict[str, int]:
    """November 2026: AZT bills two USD customers (one invoice later disputed, one partly
    credited), KTC bills a KZT customer at a stored rate of 512.34 and a USD one."""
    now = at(clock, 2026, 10, 1, 8)
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
    now = at(clock, 2026, 11, 2, 8)
    with db.transaction() as s:
        record_fx_rate(
            s, base="USD", quote="KZT", rate=Decimal("512.34"), on=date(2026, 11, 1),
            actor="finance", now=now,
        )  # fmt: skip
        customers = {
            "azt": _service(s, now, "AZT", "USD", "DE", "10000.00"),
            "azt_disputed": _service(s, now, "AZT", "USD", "DE", "3000.00"),
            "ktc_kzt": _service(s, now, "KTC", "KZT", "KZ", "1234.57"),
            "ktc_usd": _service(s, now, "KTC", "USD", "DE", "777.77"),
        }
    summary = run_billing(
        db.transaction, period=parse_period("2026-11"), issuer_code=None, actor=ADMIN,
        clock=clock.now,
    )  # fmt: skip
    with db.transaction() as s:
        for invoice_id in summary.invoice_ids:
            issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=fake_render)
    ids = {}
    with db.transaction() as s:
        for key, customer_id in customers.items():
            ids[key] = int(
                s.execute(select(Invoice.id).where(Invoice.customer_id == customer_id)).scalar_one()
            )
    now = at(clock, 2026, 11, 10, 9)
    with db.transaction() as s:
        line = s.execute(
            select(InvoiceLine).where(InvoiceLine.invoice_id == ids["azt"])
        ).scalar_one()
        credit = credit_invoice(
            s, ids["azt"], amounts={line.id: Decimal("1000.00")}, reason="outage",
            actor=ADMIN, now=now, render=fake_render,
        )  # fmt: skip
        ids["credit"] = credit.id
        flag_dispute(s, ids["azt_disputed"], reason="wrong circuit", actor=ADMIN, now=now)
    at(clock, 2026, 11, 30, 12)
    return ids


def expected_holdings(db: Database) -> dict[str, Decimal]:
    """What each issuer holds for the other in November, recomputed line by line from the
    stored splits: the other party's part, in USD at the invoice's rate, rounded half-up."""
    held = {"AZT": Decimal(0), "KTC": Decimal(0)}
    with db.transaction() as s:
        rows = s.execute(
            select(InvoiceLine, Invoice)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(
                Invoice.issue_date >= date(2026, 11, 1), Invoice.issue_date <= date(2026, 11, 30)
            )
        ).all()
        for line, invoice in rows:
            if invoice.disputed_at is not None:
                continue
            issuer = invoice.issuer.code
            other = line.second_party_amount if issuer == "AZT" else line.first_party_amount
            assert other is not None
            rate = Decimal(1) if invoice.currency == "USD" else invoice.fx_rate
            assert rate is not None
            held[issuer] += (other / rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return held


def test_a_statement_nets_what_each_issuer_holds_for_the_other(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    with db.transaction() as s:
        statement = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        sid = statement.id
    held = expected_holdings(db)
    # Every kind of line is there: KZT at a stored rate, a negative credit note, a withheld one.
    assert held["AZT"] > 0 and held["KTC"] > 0
    with db.transaction() as s:
        statement = get_statement(s, sid)
        figures = {f.issuer.code: f for f in statement.figures}
        assert figures["AZT"].other_share == held["AZT"]
        assert figures["KTC"].other_share == held["KTC"]
        net = held["AZT"] - held["KTC"]
        assert statement.net_amount == abs(net)
        assert statement.payer is not None and statement.payee is not None
        assert statement.payer.code == ("AZT" if net > 0 else "KTC")
        assert [w.invoice_id for w in statement.withheld] == [november["azt_disputed"]]
        assert statement.withheld[0].billed == Decimal("3000.00")
        # The credit note counts negative: AZT billed 10,000 - 1,000 + KTC's not included.
        assert figures["AZT"].billed == Decimal("9000.00")
        kzt = s.get(Invoice, november["ktc_kzt"])
        assert kzt is not None and kzt.fx_rate == Decimal("512.34")
        # The CSV lists every line of the month, the disputed and the credit note's too.
        head, rows = split_statement_csv(statement.csv)
        assert head["status"] == "provisional"  # built on 30 November: the month is open
        lines = s.execute(
            select(func.count())
            .select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.issue_date.is_not(None))
        ).scalar_one()
        assert len(rows) == lines == 5
        assert {r["withheld"] for r in rows} == {"", "disputed"}
        kzt_row = next(r for r in rows if r["currency"] == "KZT")
        assert kzt_row["usd_rate"] == "512.34"
        assert statement.csv_sha256 == hashlib.sha256(statement.csv.encode()).hexdigest()
        # The other party can recompute the net from the CSV alone.
        from_csv = {"AZT": Decimal(0), "KTC": Decimal(0)}
        for r in rows:
            if not r["withheld"]:
                from_csv[r["issuer"]] += Decimal(r["other_party_share_usd"])
        assert from_csv == held
        text = "".join(p.extract_text() for p in PdfReader(BytesIO(statement_pdf(statement))).pages)
    assert statement.csv_sha256 in text.replace("\n", "")
    assert f"{abs(net):,.2f}" in text
    assert "wrong circuit" in text


def test_collected_basis_counts_only_what_was_paid(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    with db.transaction() as s:
        invoice = s.get(Invoice, november["azt"])
        assert invoice is not None and invoice.total == Decimal("10000.00")  # export: VAT 0%
        record_bank_payment(
            s,
            customer_id=invoice.customer_id,
            issuer_id=invoice.issuer_party_id,
            amount=Money(Decimal("4500.00"), "USD"),
            value_date=date(2026, 11, 20),
            reference="TT-45",
            applications={invoice.id: Decimal("4500.00")},
            actor=ADMIN,
            now=clock.now(),
        )
    with db.transaction() as s:
        statement = build_statement(s, "2026-11", "collected", actor=ADMIN, now=clock.now())
        figures = {f.issuer.code: f for f in statement.figures}
        # 45% of the 10,000 line (5,250 AZT / 4,750 KTC); the credit note collects nothing,
        # nothing of KTC's invoices is paid.
        assert (figures["AZT"].billed, figures["AZT"].other_share) == (
            Decimal("4500.00"),
            Decimal("2137.50"),
        )
        assert figures["KTC"].billed == 0
        assert statement.payer is not None and statement.payer.code == "AZT"
        assert statement.net_amount == Decimal("2137.50")


def test_approvals_per_party_then_settled_and_frozen(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 12, 1, 6)  # November has ended in Baku and in Almaty
    with db.transaction() as s:
        sid = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now()).id
        ktc = factories.party_seller(s, "KTC")
        azt = factories.party_seller(s, "AZT")
        payer = get_statement(s, sid).payer
        assert payer is not None and payer.code == "AZT"
    with pytest.raises(PermissionDeniedError), db.transaction() as s:
        approve_statement(s, sid, actor=ktc, party_code="AZT", now=clock.now())
    # A user of no party (the CLI, a test's system actor) approves for nobody.
    with pytest.raises(PermissionDeniedError), db.transaction() as s:
        approve_statement(s, sid, actor=ADMIN, party_code="KTC", now=clock.now())
    with pytest.raises(ConflictError), db.transaction() as s:
        mark_settled(s, sid, "TT-1", actor=ADMIN, now=clock.now())
    with db.transaction() as s:
        assert approve_statement(s, sid, actor=ktc, now=clock.now()).state == "draft"
    with pytest.raises(ConflictError), db.transaction() as s:
        approve_statement(s, sid, actor=ktc, now=clock.now())
    with db.transaction() as s:
        assert approve_statement(s, sid, actor=azt, now=clock.now()).state == "approved"
    # Each party's approval is announced to the other party's finance (SPEC 13), once.
    approvals = factories.events_recorded(db, "settlement.")
    assert approvals == [("settlement.approved", str(sid))] * 2
    with pytest.raises(ConflictError), db.transaction() as s:
        build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
    # KTC is paid, it does not pay: only AZT marks it settled.
    with pytest.raises(PermissionDeniedError), db.transaction() as s:
        mark_settled(s, sid, "TT-KTC", actor=ktc, now=clock.now())
    with pytest.raises(PermissionDeniedError), db.transaction() as s:
        mark_settled(s, sid, "TT-ADMIN", actor=ADMIN, now=clock.now())
    with db.transaction() as s:
        statement = mark_settled(s, sid, " SWIFT-2026-11 ", actor=azt, now=clock.now())
        assert statement.payment_reference == "SWIFT-2026-11"
    with pytest.raises(ConflictError), db.transaction() as s:
        mark_settled(s, sid, "again", actor=ADMIN, now=clock.now())
    # The ORM refuses too, whatever goes around the services.
    with pytest.raises(FrozenStatementError), db.transaction() as s:
        get_statement(s, sid).net_amount = Decimal("1.00")
    with pytest.raises(FrozenStatementError), db.transaction() as s:
        s.delete(get_statement(s, sid))
    with pytest.raises(FrozenStatementError), db.transaction() as s:
        get_statement(s, sid).figures[0].billed = Decimal(0)
    with pytest.raises(FrozenStatementError), db.transaction() as s:
        settled = get_statement(s, sid)
        settled.approvals.clear()
    with db.transaction() as s:
        statement = get_statement(s, sid)
        assert statement.state == "settled"
        assert [a.party.code for a in statement.approvals] == ["KTC", "AZT"]
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.entity_type == "settlement_statement")
        ).scalars()
        assert sorted(actions) == sorted(
            ["settlement.built", "settlement.approved", "settlement.approved", "settlement.settled"]
        )


def test_a_draft_is_rebuilt_in_place(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        first = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        sid, before = first.id, first.net_amount
        approve_statement(s, sid, actor=factories.party_seller(s, "KTC"), now=clock.now())
    with db.transaction() as s:
        again = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        assert again.id == sid and again.net_amount == before
        assert again.approvals == []  # the figures were rebuilt: approvals start over
    assert count(db, SettlementStatement) == 1


@pytest.mark.parametrize(
    ("period", "basis", "field"),
    [
        ("2026-13", "invoiced", "period"),
        ("November", "invoiced", "period"),
        ("2027-01", "invoiced", "period"),
        ("2026-11", "accrued", "basis"),
        ("2026-11", "", "basis"),
    ],
)
def test_bad_input_gets_a_clear_error_and_writes_nothing(
    db: Database, clock: FrozenClock, november: dict[str, int], period: str, basis: str, field: str
) -> None:
    audit = count(db, AuditEntry)
    with pytest.raises(InvalidRequestError) as refused, db.transaction() as s:
        build_statement(s, period, basis, actor=ADMIN, now=clock.now())
    assert field in refused.value.errors
    assert count(db, SettlementStatement) == 0 and count(db, AuditEntry) == audit


# -- revenue recognition -------------------------------------------------------------------


def test_revenue_recognition_per_party_with_an_iru_deferred_over_its_term(
    db: Database, clock: FrozenClock
) -> None:
    now = at(clock, 2026, 10, 1, 8)
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
    now = at(clock, 2026, 11, 17, 8)
    with db.transaction() as s:
        iru = factories.active_service(
            s, now=now, model="iru", term_months=180, ready_for_service=date(2026, 11, 17)
        )
        circuit = iru.circuit_id
    summary = run_billing(
        db.transaction, period=parse_period("2026-11"), issuer_code=None, actor=ADMIN,
        clock=clock.now,
    )  # fmt: skip
    with db.transaction() as s:
        for invoice_id in summary.invoice_ids:
            issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=fake_render)
    with db.transaction() as s:
        fee = s.execute(
            select(InvoiceLine).where(
                InvoiceLine.circuit_id == circuit, InvoiceLine.charge_kind == "iru_fee"
            )
        ).scalar_one()
        parts = {
            fee.first_party_id: fee.first_party_amount,
            fee.second_party_id: fee.second_party_amount,
        }
        azt, ktc = party_id(s, "AZT"), party_id(s, "KTC")
        report = revenue_report(s, "2026-11")
        # Recomputed independently: every line of the month (the IRU fee and its first year's
        # O&M, all USD), each party's part by day over its span up to 30 November.
        expected = {azt: [Decimal(0), Decimal(0)], ktc: [Decimal(0), Decimal(0)]}
        for line in s.execute(select(InvoiceLine).where(InvoiceLine.amount.is_not(None))).scalars():
            start, end = line.period_start, line.period_end
            if line.charge_kind == "iru_fee":
                start, end = date(2026, 11, 17), date(2041, 11, 16)
            span = (end - start).days + 1
            covered = (min(end, date(2026, 11, 30)) - start).days + 1
            # The line is recognised once (rounded), then split by largest remainder.
            assert line.amount is not None
            recognised = (line.amount * covered / span).quantize(CENT, rounding=ROUND_HALF_UP)
            who_parts = [
                (line.first_party_id, line.first_party_amount),
                (line.second_party_id, line.second_party_amount),
            ]
            split = allocate(Money(recognised, "USD"), [abs(p or 0) for _, p in who_parts])
            for (who, part), share in zip(who_parts, split, strict=True):
                assert who is not None and part is not None
                expected[who][0] += part
                expected[who][1] += share.amount
    days = Decimal(15 * 365 + 4)
    by_party = {p.party.code: p for p in report.parties}
    for code, pid in (("AZT", azt), ("KTC", ktc)):
        billed, recognised = expected[pid]
        figures = by_party[code]
        assert (figures.billed.amount, figures.recognised.amount) == (billed, recognised)
        assert figures.deferred.amount == billed - recognised
    [balance] = report.irus
    assert balance.circuit_id == circuit
    total = sum(p for p in parts.values() if p is not None)
    assert balance.billed.amount == total
    assert balance.recognised.amount == (total * 14 / days).quantize(CENT, rounding=ROUND_HALF_UP)
    assert balance.deferred.amount == total - balance.recognised.amount


def test_the_database_refuses_a_statement_that_breaks_its_rules(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    with db.transaction() as s:
        sid = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now()).id
    for change in (
        "state = 'settled'",  # settled with no payment reference
        "net_amount = -1",
        "payer_party_id = NULL",  # someone owes, but nobody pays
        "basis = 'accrued'",
    ):
        with pytest.raises(IntegrityError), db.transaction() as s:
            update = f"UPDATE settlement_statements SET {change} WHERE id = :id"  # noqa: S608
            s.execute(text(update), {"id": sid})
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO settlement_statements (period_start, basis, currency, state, "
                "net_amount, line_count, csv, csv_sha256, built_at, built_by) VALUES "
                "('2026-11-01', 'invoiced', 'USD', 'draft', 0, 0, '', '', :at, 'x')"
            ),
            {"at": clock.now().replace(tzinfo=None)},
        )


# -- closing a month: provisional, stale, each party for itself, who pays whom by when --------


def _issue_new(db: Database, clock: FrozenClock, owner: str, mrc: str, **customer: str) -> int:
    """A new customer of `owner` with a service ready on 1 November, billed for the month of
    the clock's date and issued at the clock's time: the new document's id."""
    now = clock.now()
    with db.transaction() as s:
        buyer = factories.customer(
            s, now=now, owner=owner, currency="USD", country="DE", **customer
        )
        factories.active_service(
            s, now=now, mrc=Decimal(mrc), nrc=Decimal("0"), customer=buyer, owner=owner,
            ready_for_service=date(2026, 11, 1),
        )  # fmt: skip
        buyer_id = buyer.id
    summary = run_billing(
        db.transaction, period=parse_period(f"{now:%Y-%m}"), issuer_code=owner, actor=ADMIN,
        clock=clock.now,
    )  # fmt: skip
    with db.transaction() as s:
        draft = s.execute(
            select(Invoice.id).where(
                Invoice.customer_id == buyer_id, Invoice.id.in_(summary.invoice_ids)
            )
        ).scalar_one()
        issue_invoice(s, draft, actor=ADMIN, now=clock.now(), render=fake_render)
    return int(draft)


def test_a_statement_built_while_its_month_is_open_is_provisional_and_cannot_be_approved(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    with db.transaction() as s:
        azt, ktc = factories.party_seller(s, "AZT"), factories.party_seller(s, "KTC")
    # 30 November 12:00 UTC: November is open in both calendars.
    with db.transaction() as s:
        statement = build_statement(s, "2026-11", "invoiced", actor=azt, now=clock.now())
        sid = statement.id
        assert statement.provisional
        assert split_statement_csv(statement.csv)[0]["status"] == "provisional"
        text = "".join(p.extract_text() for p in PdfReader(BytesIO(statement_pdf(statement))).pages)
        assert "Provisional" in text
    with (
        pytest.raises(
            ConflictError, match=r"has not ended in the calendar of AZT \(Asia/Baku\), KTC"
        ),
        db.transaction() as s,
    ):
        approve_statement(s, sid, actor=azt, now=clock.now())
    # 19:30 UTC: 23:30 in Baku, already 00:30 on 1 December in Almaty: still open for AZT.
    at(clock, 2026, 11, 30, 19, 30)
    with (
        pytest.raises(ConflictError, match=r"calendar of AZT \(Asia/Baku\); it can"),
        db.transaction() as s,
    ):
        approve_statement(s, sid, actor=ktc, now=clock.now())
    # 20:30 UTC: over in both. The statement was built while it was open: rebuild first.
    at(clock, 2026, 11, 30, 20, 30)
    with pytest.raises(ConflictError, match="rebuild it before approval"), db.transaction() as s:
        approve_statement(s, sid, actor=ktc, now=clock.now())
    with db.transaction() as s:
        assert get_statement(s, sid).approvals == []
        rebuilt = build_statement(s, "2026-11", "invoiced", actor=azt, now=clock.now())
        assert not rebuilt.provisional
        assert split_statement_csv(rebuilt.csv)[0]["status"] == "final"
    with db.transaction() as s:
        approve_statement(s, sid, actor=ktc, now=clock.now())
        assert approve_statement(s, sid, actor=azt, now=clock.now()).state == "approved"


def test_the_probe_a_draft_goes_stale_when_a_document_of_its_month_is_issued_after_it(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    """The probe: on 5 December December's statement was built and approved, then an invoice
    issued later that day was missing from it. Now it is provisional (not approvable) and the
    invoice makes it stale until rebuilt."""
    at(clock, 2026, 12, 5, 7)
    with db.transaction() as s:
        azt = factories.party_seller(s, "AZT")
        december = build_statement(s, "2026-12", "invoiced", actor=azt, now=clock.now())
        sid, lines_before = december.id, december.line_count
        assert december.provisional and not is_stale(s, december)
    with pytest.raises(ConflictError, match="provisional"), db.transaction() as s:
        approve_statement(s, sid, actor=azt, now=clock.now())
    at(clock, 2026, 12, 5, 11)
    later = _issue_new(db, clock, "KTC", "35193.55")
    with db.transaction() as s:
        statement = get_statement(s, sid)
        assert is_stale(s, statement)
        assert [d.id for d in documents_not_in(s, statement)] == [later]
        rebuilt = build_statement(s, "2026-12", "invoiced", actor=azt, now=clock.now())
        assert rebuilt.line_count > lines_before and not is_stale(s, rebuilt)
        assert documents_not_in(s, rebuilt) == []


def test_a_final_draft_goes_stale_when_a_document_is_disputed_and_approval_waits(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        azt, ktc = factories.party_seller(s, "AZT"), factories.party_seller(s, "KTC")
        sid = build_statement(s, "2026-11", "invoiced", actor=azt, now=clock.now()).id
        approve_statement(s, sid, actor=ktc, now=clock.now())
    with db.transaction() as s:
        flag_dispute(s, november["ktc_usd"], reason="not delivered", actor=ADMIN, now=clock.now())
    with pytest.raises(ConflictError, match="stale"), db.transaction() as s:
        approve_statement(s, sid, actor=azt, now=clock.now())
    with db.transaction() as s:
        rebuilt = build_statement(s, "2026-11", "invoiced", actor=azt, now=clock.now())
        assert november["ktc_usd"] in [w.invoice_id for w in rebuilt.withheld]
        assert rebuilt.approvals == []  # rebuilt figures: KTC approves again


def test_a_document_dated_in_an_approved_month_is_shown_as_not_in_it(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        azt, ktc = factories.party_seller(s, "AZT"), factories.party_seller(s, "KTC")
        sid = build_statement(s, "2026-11", "invoiced", actor=azt, now=clock.now()).id
        approve_statement(s, sid, actor=ktc, now=clock.now())
        approve_statement(s, sid, actor=azt, now=clock.now())
    # A document dated 30 November issued after the approval (a clock behind, a back-dated issue).
    at(clock, 2026, 11, 30, 15)
    late = _issue_new(db, clock, "AZT", "500.00")
    with db.transaction() as s:
        statement = get_statement(s, sid)
        assert statement.state == "approved" and not is_stale(s, statement)
        assert [d.id for d in documents_not_in(s, statement)] == [late]


def test_the_statement_says_who_pays_whom_how_much_by_when_to_which_account(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 12, 2, 8)
    with db.transaction() as s:
        statement = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        ktc = s.execute(select(Party).where(Party.code == "KTC")).scalar_one()
        assert statement.payer is not None and statement.payer.code == "AZT"
        assert statement.settlement_terms_days == 30
        assert statement.due_date == date(2026, 12, 30)  # 30 days after 30 November
        assert statement.pay_to == f"{ktc.legal_name}\n{ktc.bank_details}"
        assert "HSBKKZKX" in ktc.bank_details
        head = split_statement_csv(statement.csv)[0]
        assert (head["payer"], head["payee"], head["due_date"]) == ("AZT", "KTC", "2026-12-30")
        assert Decimal(head["net_amount"]) == statement.net_amount
        assert head["pay_to"] == statement.pay_to
        text = "".join(p.extract_text() for p in PdfReader(BytesIO(statement_pdf(statement))).pages)
    assert "by 2026-12-30" in text and "HSBKKZKX" in text and "Provisional" not in text


def test_the_csv_neutralises_formulas_and_uses_the_names_stored_on_the_documents(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 11, 30, 9)
    _issue_new(db, clock, "AZT", "100.00", legal_name='=HYPERLINK("http://x.test","pay")')
    with db.transaction() as s:
        customer_id = s.get(Invoice, november["azt"]).customer_id  # type: ignore[union-attr]
        stored = s.get(Invoice, november["azt"]).customer_details  # type: ignore[union-attr]
        assert customer_id is not None and stored
        s.get(Customer, customer_id).legal_name = "Renamed After Issue Ltd"  # type: ignore[union-attr]
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        statement = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        raw = statement.csv
        rows = split_statement_csv(raw)[1]
    assert "Renamed After Issue Ltd" not in raw
    names = {r["customer"] for r in rows}
    assert '\'=HYPERLINK("http://x.test","pay")' in names
    assert all(not n.startswith(("=", "+", "-", "@")) for n in names)
    # The credit note's negative amounts stay numbers.
    credit = [r for r in rows if r["kind"] == "credit_note"]
    assert credit and credit[0]["amount"] == "-1000.00"


def test_the_csv_shows_each_lines_path_km_weights_and_each_segments_parts(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        statement = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        rows = split_statement_csv(statement.csv)[1]
    [row] = [r for r in rows if r["kind"] == "invoice" and r["amount"] == "10000.00"]
    assert row["path"] == "S1" and row["segment_km"] == "S1=345"
    assert row["segment_weight"] == "S1=1"
    assert row["commission"] == "AZT=500"
    assert row["segment_parts"] == "S1=9500"
    assert row["segment_party_parts"] == "S1:AZT=4750,KTC=4750"
    # Recomputed from the row: commission + each party's part of each segment = stored parts.
    assert (row["first_party_amount"], row["second_party_amount"]) == ("5250.00", "4750.00")


def test_settlement_terms_are_part_of_the_agreement_version(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    shares = {code: {"AZT": Decimal(50), "KTC": Decimal(50)} for code in ("S1", "S2")}
    for bad in ("１０", "-1", "366", "ten", True):
        with pytest.raises(InvalidRequestError) as refused, db.transaction() as s:
            add_version(
                s, name="Bad terms", effective_from=date(2026, 11, 1), commission_percent="5",
                shares=shares, settlement_terms_days=bad, actor=ADMIN, now=clock.now(),
            )  # fmt: skip
        assert "settlement_terms_days" in refused.value.errors
    with db.transaction() as s:
        version = add_version(
            s, name="From November", effective_from=date(2026, 11, 1), commission_percent="5",
            shares=shares, settlement_terms_days="45", actor=ADMIN, now=clock.now(),
        )  # fmt: skip
        assert version.settlement_terms_days == 45
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        statement = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        assert (statement.settlement_terms_days, statement.due_date) == (45, date(2027, 1, 14))
    # The database refuses terms out of range, whatever goes around the service.
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(text("UPDATE agreement_versions SET settlement_terms_days = 400"))


def test_a_month_begins_by_the_parties_calendars_not_utc(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    """30 November 21:00 UTC is already 1 December in Baku and Almaty: December's statement may
    be built (provisional); at 18:00 UTC it has begun nowhere."""
    at(clock, 2026, 11, 30, 18)
    with pytest.raises(InvalidRequestError, match="has not begun"), db.transaction() as s:
        build_statement(s, "2026-12", "invoiced", actor=ADMIN, now=clock.now())
    at(clock, 2026, 11, 30, 21)
    with db.transaction() as s:
        december = build_statement(s, "2026-12", "invoiced", actor=ADMIN, now=clock.now())
        assert december.provisional and december.due_date == date(2027, 1, 30)


def test_the_revenue_csv_names_the_customer_as_the_invoice_did_and_neutralises_formulas(
    db: Database, clock: FrozenClock
) -> None:
    now = at(clock, 2026, 10, 1, 8)
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
    now = at(clock, 2026, 11, 17, 8)
    with db.transaction() as s:
        buyer = factories.customer(s, now=now, legal_name="@SUM(1+1) Carrier")
        factories.active_service(
            s, now=now, model="iru", term_months=180, ready_for_service=date(2026, 11, 17),
            customer=buyer,
        )  # fmt: skip
    summary = run_billing(
        db.transaction, period=parse_period("2026-11"), issuer_code=None, actor=ADMIN,
        clock=clock.now,
    )  # fmt: skip
    with db.transaction() as s:
        for invoice_id in summary.invoice_ids:
            issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=fake_render)
        s.get(Customer, buyer.id).legal_name = "Renamed Carrier"  # type: ignore[union-attr]
    with db.transaction() as s:
        text_csv = revenue_csv(revenue_report(s, "2026-11"))
    [iru] = [r for r in csv.DictReader(io.StringIO(text_csv)) if r["section"] == "iru"]
    assert iru["customer"] == "'@SUM(1+1) Carrier"
    assert "Renamed" not in text_csv


def test_a_draft_goes_stale_when_a_document_of_its_month_is_credited_later(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        sid = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now()).id
    at(clock, 2026, 12, 2, 9)
    with db.transaction() as s:
        line = s.execute(
            select(InvoiceLine).where(InvoiceLine.invoice_id == november["ktc_usd"])
        ).scalar_one()
        credit_invoice(
            s, november["ktc_usd"], amounts={line.id: Decimal("77.77")}, reason="outage",
            actor=ADMIN, now=clock.now(), render=fake_render,
        )  # fmt: skip
    with db.transaction() as s:
        statement = get_statement(s, sid)
        # The credit note is dated in December (December's statement counts it), but a November
        # document was credited after the draft was built: it is rebuilt before approval.
        assert is_stale(s, statement) and documents_not_in(s, statement) == []
        with pytest.raises(ConflictError, match="stale"):
            approve_statement(s, sid, actor=factories.party_seller(s, "KTC"), now=clock.now())
    with db.transaction() as s:
        assert not is_stale(
            s, build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now())
        )


def test_the_probe_for_november_an_invoice_dated_in_it_issued_later_makes_the_draft_stale(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    """5 December: November's statement built and approved by KTC; later that day an invoice
    dated in November (USD 35,193.55, from a clock behind) is issued. AZT's approval waits for a
    rebuild, which counts the invoice."""
    at(clock, 2026, 12, 5, 7)
    with db.transaction() as s:
        azt, ktc = factories.party_seller(s, "AZT"), factories.party_seller(s, "KTC")
        sid = build_statement(s, "2026-11", "invoiced", actor=azt, now=clock.now()).id
        approve_statement(s, sid, actor=ktc, now=clock.now())
    at(clock, 2026, 11, 30, 11)
    late = _issue_new(db, clock, "KTC", "35193.55")
    at(clock, 2026, 12, 5, 11)
    with db.transaction() as s:
        statement = get_statement(s, sid)
        assert statement.state == "draft" and is_stale(s, statement)
        assert [d.id for d in documents_not_in(s, statement)] == [late]
    with pytest.raises(ConflictError, match="stale"), db.transaction() as s:
        approve_statement(s, sid, actor=azt, now=clock.now())
    with db.transaction() as s:
        rebuilt = build_statement(s, "2026-11", "invoiced", actor=azt, now=clock.now())
        numbers = {r["invoice"] for r in split_statement_csv(rebuilt.csv)[1]}
        assert s.get(Invoice, late).number in numbers  # type: ignore[union-attr]
        approve_statement(s, sid, actor=ktc, now=clock.now())
        assert approve_statement(s, sid, actor=azt, now=clock.now()).state == "approved"


def test_both_parties_approving_at_once_approve_the_statement(
    db: Database, clock: FrozenClock, november: dict[str, int]
) -> None:
    """Two approvals in flight together: the second sees the first (the statement row is locked)
    and makes the statement approved, instead of leaving a draft with both approvals. On
    PostgreSQL both transactions have read the statement before either approves; SQLite
    serialises writing transactions, so there they only start together."""
    at(clock, 2026, 12, 1, 6)
    with db.transaction() as s:
        sid = build_statement(s, "2026-11", "invoiced", actor=ADMIN, now=clock.now()).id
        sellers = [factories.party_seller(s, code) for code in ("AZT", "KTC")]
        inside = s.get_bind().dialect.name == "postgresql"
    barrier = threading.Barrier(len(sellers))
    errors: list[BaseException] = []

    def approve(seller: Seller) -> None:
        try:
            if not inside:
                barrier.wait(timeout=10)
            with db.transaction() as s:
                statement = get_statement(s, sid)
                if inside:
                    assert statement.approvals == []
                    barrier.wait(timeout=10)
                approve_statement(s, statement.id, actor=seller, now=clock.now())
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=approve, args=(seller,)) for seller in sellers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with db.transaction() as s:
        statement = get_statement(s, sid)
        assert len(statement.approvals) == 2 and statement.state == "approved"
