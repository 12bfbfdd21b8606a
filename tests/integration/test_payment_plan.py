"""An IRU's payment plan (SPEC 3): set through the service, billed instalment by instalment on
its dates by the billing run, frozen once an instalment was billed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError, InvalidRequestError, PermissionDeniedError
from billing.invoicing.charges import Instalment
from billing.invoicing.models import InvoiceLine
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import set_payment_plan
from billing.parties.customers import Seller
from billing.sales.models import Contract
from tests import factories

ADMIN = Seller("admin", None)
RFS = date(2026, 11, 10)
FEE = Decimal("1000000.00")
HALF_AT_RFS_HALF_A_YEAR_LATER = (
    Instalment(Decimal(50), months_after_rfs=0),
    Instalment(Decimal(50), months_after_rfs=12),
)


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture
def iru(db: Database, clock: FrozenClock) -> tuple[int, int]:
    """An AZT IRU of 10 years at a 1,000,000 USD fee, ready for service on 2026-11-10: its
    contract id and service id."""
    clock.set(datetime(2026, 11, 10, 9, tzinfo=UTC))
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=clock.now())
        factories.demo_agreement(s, now=clock.now())
        factories.set_list_price(
            s,
            at=clock.now(),
            product="WL100G",
            protection="unprotected",
            term_months=120,
            model="iru",
            iru_fee=FEE,
        )
        service = factories.active_service(
            s, now=clock.now(), model="iru", term_months=120, ready_for_service=RFS
        )
        assert service.iru_fee == FEE
        return service.contract_id, service.id


def iru_lines(db: Database, service_id: int) -> list[tuple[date, Decimal, str]]:
    with db.transaction() as s:
        return [
            (line.period_start, line.price_amount, line.description)
            for line in s.execute(
                select(InvoiceLine)
                .where(InvoiceLine.service_id == service_id, InvoiceLine.charge_kind == "iru_fee")
                .order_by(InvoiceLine.period_start)
            ).scalars()
        ]


def run(db: Database, clock: FrozenClock, month: str) -> int:
    summary = run_billing(
        db.transaction, period=parse_period(month), issuer_code="AZT", actor=ADMIN, clock=clock.now
    )
    return summary.charges


def test_an_iru_with_two_instalments_bills_each_on_its_date(
    db: Database, clock: FrozenClock, iru: tuple[int, int]
) -> None:
    contract_id, service_id = iru
    with db.transaction() as s:
        set_payment_plan(
            s,
            contract_id,
            HALF_AT_RFS_HALF_A_YEAR_LATER,
            actor=factories.party_seller(s, "AZT"),
            now=clock.now(),
        )
    with db.transaction() as s:
        plan = s.get(Contract, contract_id).instalments  # type: ignore[union-attr]
        assert [(i.position, i.percent, i.months_after_rfs) for i in plan] == [
            (1, Decimal(50), 0),
            (2, Decimal(50), 12),
        ]
        audit = s.execute(
            select(AuditEntry).where(AuditEntry.action == "contract.payment_plan")
        ).scalar_one()
        assert audit.after == {"instalments": ["50% 0 months after RFS", "50% 12 months after RFS"]}

    run(db, clock, "2026-11")
    assert [line[:2] for line in iru_lines(db, service_id)] == [(RFS, Decimal("500000.00"))]
    # The months between bill no fee; the run the month the second falls due bills it, once.
    clock.set(datetime(2027, 5, 3, 9, tzinfo=UTC))
    run(db, clock, "2027-05")
    assert len(iru_lines(db, service_id)) == 1
    clock.set(datetime(2027, 11, 2, 9, tzinfo=UTC))
    run(db, clock, "2027-11")
    run(db, clock, "2027-11")
    assert [line[:2] for line in iru_lines(db, service_id)] == [
        (RFS, Decimal("500000.00")),
        (date(2027, 11, 10), Decimal("500000.00")),
    ]
    assert all("of 2" in line[2] for line in iru_lines(db, service_id))


def test_without_a_plan_the_whole_fee_is_billed_at_ready_for_service(
    db: Database, clock: FrozenClock, iru: tuple[int, int]
) -> None:
    _, service_id = iru
    run(db, clock, "2026-11")
    assert [line[:2] for line in iru_lines(db, service_id)] == [(RFS, FEE)]


def test_the_plan_cannot_change_once_an_instalment_was_billed(
    db: Database, clock: FrozenClock, iru: tuple[int, int]
) -> None:
    contract_id, _ = iru
    run(db, clock, "2026-11")
    with db.transaction() as s, pytest.raises(ConflictError, match="billed already"):
        set_payment_plan(
            s, contract_id, HALF_AT_RFS_HALF_A_YEAR_LATER, actor=ADMIN, now=clock.now()
        )
    with db.transaction() as s:
        assert s.get(Contract, contract_id).instalments == []  # type: ignore[union-attr]


def test_a_plan_is_refused_unless_it_adds_up_and_comes_from_the_selling_party(
    db: Database, clock: FrozenClock, iru: tuple[int, int]
) -> None:
    contract_id, _ = iru
    with db.transaction() as s, pytest.raises(InvalidRequestError, match="add up to 90%"):
        set_payment_plan(
            s,
            contract_id,
            (
                Instalment(Decimal(40), months_after_rfs=0),
                Instalment(Decimal(50), date(2027, 1, 1)),
            ),
            actor=ADMIN,
            now=clock.now(),
        )
    with db.transaction() as s, pytest.raises(PermissionDeniedError):
        set_payment_plan(
            s,
            contract_id,
            HALF_AT_RFS_HALF_A_YEAR_LATER,
            actor=factories.party_seller(s, "KTC"),
            now=clock.now(),
        )
    with db.transaction() as s:
        lease = factories.active_service(s, now=clock.now())
        with pytest.raises(InvalidRequestError, match="no IRU service"):
            set_payment_plan(
                s, lease.contract_id, HALF_AT_RFS_HALF_A_YEAR_LATER, actor=ADMIN, now=clock.now()
            )
    with db.transaction() as s:
        assert s.get(Contract, contract_id).instalments == []  # type: ignore[union-attr]
        assert not s.execute(
            select(AuditEntry).where(AuditEntry.action == "contract.payment_plan")
        ).first()
