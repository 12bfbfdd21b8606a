"""The cooperation agreement on both databases (SPEC 5): versions, the split stored at issue and
mirrored by credit notes, the database refusing a split that does not add up, and disputes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.agreement.models import AgreementShare, AgreementVersion
from billing.agreement.queries import NoAgreementError, version_on
from billing.agreement.services import AgreementError, add_version
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError, PermissionDeniedError
from billing.invoicing.issuing import credit_invoice, issue_invoice
from billing.invoicing.models import Invoice, InvoiceDispute, InvoiceLine
from billing.invoicing.queries import InvoiceFilters, get_invoice, invoice_listing
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import DisputeError, flag_dispute, resolve_dispute
from billing.parties.customers import Seller
from billing.parties.models import Party
from tests import factories


@pytest.fixture
def seed() -> str:
    return "reference"


ADMIN = Seller("admin@example.test (admin)", None)


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF {d.number}".encode() for d in documents]


def at(clock: FrozenClock, *args: int) -> datetime:
    clock.set(datetime(*args, tzinfo=UTC))  # type: ignore[misc]
    return clock.now()


def party(s: Session, code: str) -> int:
    return int(s.execute(select(Party.id).where(Party.code == code)).scalar_one())


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def terms(db: Database, clock: FrozenClock) -> None:
    at(clock, 2026, 10, 1, 8)
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())


def bill_and_issue(db: Database, clock: FrozenClock, month: str) -> list[int]:
    summary = run_billing(
        db.transaction, period=parse_period(month), issuer_code=None, actor=ADMIN, clock=clock.now
    )
    with db.transaction() as s:
        for invoice_id in summary.invoice_ids:
            issue_invoice(s, invoice_id, actor=ADMIN, now=clock.now(), render=fake_render)
    return list(summary.invoice_ids)


def fetch_all(s: Session, stmt: Any) -> list[Any]:
    return list(s.execute(stmt).scalars())


def split_of(line: InvoiceLine) -> tuple[Decimal | None, Decimal | None]:
    return line.first_party_amount, line.second_party_amount


# -- versions ------------------------------------------------------------------------------


HALVES = {"S1": {"AZT": "50", "KTC": "50"}, "S2": {"AZT": "50", "KTC": "50"}}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"shares": {"S1": {"AZT": "50", "KTC": "40"}, "S2": HALVES["S2"]}}, "shares.S1"),
        ({"shares": {"S1": HALVES["S1"]}}, "shares.S2"),
        ({"commission_percent": "100.5"}, "commission_percent"),
        ({"commission_percent": "-1"}, "commission_percent"),
        ({"commission_percent": "NaN"}, "commission_percent"),
        ({"effective_from": date(2026, 1, 1)}, "effective_from"),
        ({"whole_kinds": ("nrc", "mrc")}, "whole_kinds"),
    ],
)
def test_bad_versions_are_refused_with_a_clear_error_and_nothing_written(
    db: Database, clock: FrozenClock, terms: None, changes: dict[str, object], field: str
) -> None:
    before = (count(db, AgreementVersion), count(db, AgreementShare), count(db, AuditEntry))
    values: dict[str, object] = {
        "name": "Agreement 2027",
        "effective_from": date(2027, 1, 1),
        "commission_percent": "5",
        "shares": HALVES,
        **changes,
    }
    with pytest.raises(AgreementError) as refused, db.transaction() as s:
        add_version(s, **values, actor=ADMIN, now=clock.now())  # type: ignore[arg-type]
    assert field in refused.value.errors
    assert (count(db, AgreementVersion), count(db, AgreementShare), count(db, AuditEntry)) == before


def test_only_an_administrator_records_a_version(
    db: Database, clock: FrozenClock, terms: None
) -> None:
    with pytest.raises(PermissionDeniedError), db.transaction() as s:
        add_version(
            s,
            name="x",
            effective_from=date(2027, 1, 1),
            commission_percent="5",
            shares=HALVES,
            actor=factories.party_seller(s, "AZT"),
            now=clock.now(),
        )
    assert count(db, AgreementVersion) == 1


def test_the_version_in_effect_is_the_latest_started(
    db: Database, clock: FrozenClock, terms: None
) -> None:
    with db.transaction() as s:
        add_version(
            s,
            name="From December",
            effective_from=date(2026, 12, 1),
            commission_percent="10",
            shares=HALVES,
            actor=ADMIN,
            now=clock.now(),
        )
    with db.transaction() as s:
        assert version_on(s, date(2026, 11, 30)).effective_from == date(2026, 1, 1)
        assert version_on(s, date(2026, 12, 1)).name == "From December"
        with pytest.raises(NoAgreementError, match="2025-12-31"):
            version_on(s, date(2025, 12, 31))


# -- the split at issue --------------------------------------------------------------------


def test_a_version_starting_mid_year_applies_to_lines_from_its_date_on(
    db: Database, clock: FrozenClock, terms: None
) -> None:
    now = at(clock, 2026, 11, 1, 8)
    with db.transaction() as s:
        service = factories.active_service(s, now=now, mrc=Decimal("1000"), nrc=Decimal("0"))
        sid = service.id
        add_version(
            s,
            name="From December",
            effective_from=date(2026, 12, 1),
            commission_percent="10",
            shares={"S1": {"AZT": "60", "KTC": "40"}, "S2": HALVES["S2"]},
            actor=ADMIN,
            now=now,
        )
    bill_and_issue(db, clock, "2026-11")
    at(clock, 2026, 12, 1, 8)
    bill_and_issue(db, clock, "2026-12")
    with db.transaction() as s:
        lines = fetch_all(
            s,
            select(InvoiceLine)
            .where(InvoiceLine.service_id == sid)
            .order_by(InvoiceLine.period_start),
        )
        assert [(line.period_start, line.amount) for line in lines] == [
            (date(2026, 11, 1), Decimal("1000.00")),
            (date(2026, 12, 1), Decimal("1000.00")),
        ]
        november, december = lines
        assert november.split_version is not None and december.split_version is not None
        assert november.split_version.effective_from == date(2026, 1, 1)
        # 5% commission to the seller, the rest 50/50 on S1.
        assert split_of(november) == (Decimal("525.00"), Decimal("475.00"))
        assert december.split_version.name == "From December"
        # 10% commission, the rest 60/40 on S1.
        assert split_of(december) == (Decimal("640.00"), Decimal("360.00"))
        assert november.first_party_id == party(s, "AZT")
        assert json.loads(november.split_weights or "") == {"S1": "1.000000000000"}


def test_issuing_stores_every_line_split_and_a_credit_note_its_mirror(
    db: Database, clock: FrozenClock, terms: None
) -> None:
    now = at(clock, 2026, 11, 17, 8)
    with db.transaction() as s:
        factories.active_service(
            s,
            now=now,
            mrc=Decimal("3000"),
            nrc=Decimal("500"),
            protection="protected",
            owner="KTC",
        )
    [invoice_id] = bill_and_issue(db, clock, "2026-11")
    with db.transaction() as s:
        invoice = get_invoice(s, invoice_id)
        azt, ktc = party(s, "AZT"), party(s, "KTC")
        by_kind = {line.charge_kind: line for line in invoice.lines}
        for line in invoice.lines:
            assert line.split_version_id is not None
            assert (line.first_party_id, line.second_party_id) == (azt, ktc)
            assert (line.first_party_amount or 0) + (line.second_party_amount or 0) == line.amount
        # The NRC stays with KTC, the seller.
        assert split_of(by_kind["nrc"]) == (Decimal("0.00"), Decimal("500.00"))
        # MRC 3,000 × 14/30 = 1,400.00: KTC's 5% commission (70.00), the rest halved.
        assert split_of(by_kind["mrc"]) == (Decimal("665.00"), Decimal("735.00"))
        weights = json.loads(by_kind["mrc"].split_weights or "")
        assert set(weights) == {"S1", "S2"}
        assert Decimal(weights["S1"]) == (Decimal(345) / 675).quantize(Decimal("1E-12"))
        mrc_id = by_kind["mrc"].id
        note = credit_invoice(
            s,
            invoice_id,
            amounts={mrc_id: Decimal("333.33")},
            reason="outage",
            actor=ADMIN,
            now=clock.now(),
            render=fake_render,
        )
        note_id = note.id
    with db.transaction() as s:
        [credit] = get_invoice(s, note_id).lines
        # -333.33 in proportion to 665 : 735, exactly.
        assert split_of(credit) == (Decimal("-158.33"), Decimal("-175.00"))
        assert credit.split_version_id == by_kind["mrc"].split_version_id
        assert credit.split_weights == by_kind["mrc"].split_weights


def test_the_database_refuses_a_split_that_does_not_add_up(
    db: Database, clock: FrozenClock, terms: None
) -> None:
    now = at(clock, 2026, 11, 1, 8)
    with db.transaction() as s:
        factories.active_service(s, now=now, mrc=Decimal("1000"), nrc=Decimal("0"))
    [invoice_id] = bill_and_issue(db, clock, "2026-11")
    with db.transaction() as s:
        line_id = get_invoice(s, invoice_id).lines[0].id
    for broken in (
        "UPDATE invoice_lines SET first_party_amount = first_party_amount + 0.01 WHERE id = :id",
        "UPDATE invoice_lines SET second_party_amount = NULL WHERE id = :id",
    ):
        with pytest.raises(IntegrityError), db.transaction() as s:
            s.execute(text(broken), {"id": line_id})
    with db.transaction() as s:
        # Moving a cent from one party to the other still adds up: the database allows it.
        s.execute(
            text(
                "UPDATE invoice_lines SET first_party_amount = first_party_amount + 0.01,"
                " second_party_amount = second_party_amount - 0.01 WHERE id = :id"
            ),
            {"id": line_id},
        )
        assert s.execute(
            select(InvoiceLine.first_party_amount).where(InvoiceLine.id == line_id)
        ).scalar_one() == Decimal("525.01")


# -- disputes ------------------------------------------------------------------------------


def test_finance_flags_and_resolves_a_dispute_with_its_history(
    db: Database, clock: FrozenClock, terms: None
) -> None:
    now = at(clock, 2026, 11, 1, 8)
    with db.transaction() as s:
        factories.active_service(s, now=now, mrc=Decimal("1000"), nrc=Decimal("0"))
    [invoice_id] = bill_and_issue(db, clock, "2026-11")
    with db.transaction() as s:
        with pytest.raises(PermissionDeniedError):
            flag_dispute(
                s, invoice_id, reason="wrong", actor=factories.party_seller(s, "KTC"), now=now
            )
        with pytest.raises(DisputeError):
            flag_dispute(s, invoice_id, reason="  ", actor=ADMIN, now=now)
    with db.transaction() as s:
        azt = factories.party_seller(s, "AZT")
        flag_dispute(s, invoice_id, reason="Customer disputes the outage days", actor=azt, now=now)
    with db.transaction() as s:
        with pytest.raises(ConflictError):
            flag_dispute(s, invoice_id, reason="again", actor=ADMIN, now=now)
    with db.transaction() as s:
        disputed = fetch_all(s, invoice_listing(InvoiceFilters(disputed=True)))
        assert [i.id for i in disputed] == [invoice_id]
        assert get_invoice(s, invoice_id).dispute_reason == "Customer disputes the outage days"
    later = at(clock, 2026, 11, 20, 8)
    with db.transaction() as s:
        with pytest.raises(PermissionDeniedError):
            resolve_dispute(
                s, invoice_id, resolution="ok", actor=factories.party_seller(s, "KTC"), now=later
            )
        resolve_dispute(
            s, invoice_id, resolution="Outage confirmed: credited", actor=ADMIN, now=later
        )
    with db.transaction() as s:
        invoice = get_invoice(s, invoice_id)
        assert invoice.disputed_at is None
        assert fetch_all(s, invoice_listing(InvoiceFilters(disputed=True))) == []
        with pytest.raises(ConflictError):
            resolve_dispute(s, invoice_id, resolution="again", actor=ADMIN, now=later)
    with db.transaction() as s:
        flag_dispute(s, invoice_id, reason="Second thoughts", actor=ADMIN, now=later)
    with db.transaction() as s:
        history = fetch_all(s, select(InvoiceDispute).order_by(InvoiceDispute.id))
        assert [(d.reason, d.resolution) for d in history] == [
            ("Customer disputes the outage days", "Outage confirmed: credited"),
            ("Second thoughts", None),
        ]
        actions = (
            s.execute(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("invoice.%dispute"))
                .order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
        assert actions == ["invoice.dispute", "invoice.resolve_dispute", "invoice.dispute"]


def test_a_draft_cannot_be_disputed(db: Database, clock: FrozenClock, terms: None) -> None:
    now = at(clock, 2026, 11, 1, 8)
    with db.transaction() as s:
        factories.active_service(s, now=now, mrc=Decimal("1000"), nrc=Decimal("0"))
    summary = run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code=None,
        actor=ADMIN,
        clock=clock.now,
    )
    with pytest.raises(DisputeError), db.transaction() as s:
        flag_dispute(s, summary.invoice_ids[0], reason="why", actor=ADMIN, now=now)
    assert count(db, InvoiceDispute) == 0
    assert count(db, Invoice) == 1
