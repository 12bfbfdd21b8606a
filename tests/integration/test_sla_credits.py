"""SLA credits billed (SPEC 7), on both databases: a month below target becomes a negative line
"SLA credit, October 2026 (availability 99.49%)" of the tiers' percentage of that month's MRC as
billed, exactly once across reruns and after a run that died half-way; a waived month bills
nothing, a granted one bills its percentage; once billed, the decision is refused. An IRU's
credit is of its month's O&M share. The credit is split like the charge it credits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.calendar import billing_period
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError, InvalidRequestError
from billing.invoicing import runs
from billing.invoicing.models import InvoiceLine
from billing.invoicing.rendering import render_in_process
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.sla_credits import decide_credit, month_credit, undo_decision
from billing.money import Money
from billing.parties.customers import Seller
from billing.payments.issuing import issue_invoice
from billing.sales.models import Service
from billing.sla.outages import record_outage
from billing.sla.services import seed_sla_policies
from tests import factories

ADMIN = Seller("admin@example.test (admin)", None)
OCTOBER = billing_period(date(2026, 10, 1))


@pytest.fixture
def seed() -> str:
    return "reference"


def _bill(db: Database, clock: FrozenClock, month: str, **kw: object) -> runs.RunSummary:
    return run_billing(
        db.transaction,
        period=parse_period(month),
        issuer_code=None,
        actor=ADMIN,
        clock=clock.now,
        **kw,  # type: ignore[arg-type]
    )


def _sla_lines(db: Database, service_id: int) -> list[tuple[str, date | None, Decimal, str]]:
    with db.transaction() as s:
        rows = s.execute(
            select(
                InvoiceLine.charge_kind,
                InvoiceLine.charge_period_start,
                InvoiceLine.price_amount,
                InvoiceLine.description,
            ).where(
                InvoiceLine.service_id == service_id,
                InvoiceLine.charge_kind.in_(("sla_credit", "sla_om_credit")),
            )
        ).all()
    return [(str(k), p, a, d) for k, p, a, d in rows]


def _down(s: Session, segment: str, day: int, minutes: int, ticket: str, now: datetime) -> None:
    start = datetime(2026, 10, day, 6, 0, tzinfo=UTC)
    end = datetime(2026, 10, day, 6 + minutes // 60, minutes % 60, tzinfo=UTC)
    record_outage(
        s,
        {
            "segment": segment,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "cause": "Fiber cut",
            "ticket": ticket,
        },
        actor="noc@example.test",
        now=now,
    )


def _world(db: Database, clock: FrozenClock, count: int = 1) -> list[int]:
    now = clock.now()  # 2026-11-25: October is closed in Baku and Almaty
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=now)
        ids = [
            factories.active_service(
                s,
                now=now,
                mrc=Decimal("6000"),
                nrc=Decimal("0"),
                ready_for_service=date(2026, 10, 1),
            ).id
            for _ in range(count)
        ]
        # 224 minutes down on S1 in October: 99.4982...% (shown 99.49%) is below 99.5: 10 %.
        _down(s, "S1", 20, 224, "INC-1", now)
    return ids


def test_a_month_below_target_is_credited_once_as_a_negative_line(
    db: Database, clock: FrozenClock
) -> None:
    (service_id,) = _world(db, clock)
    _bill(db, clock, "2026-10")
    assert _sla_lines(db, service_id) == [
        (
            "sla_credit",
            date(2026, 10, 1),
            Decimal("-600.00"),
            "SLA credit, October 2026 (availability 99.49%)",
        )
    ]
    _bill(db, clock, "2026-10")
    _bill(db, clock, "2026-11")
    assert len(_sla_lines(db, service_id)) == 1  # once, whatever the runs
    with db.transaction() as s:
        service = s.get(Service, service_id)
        assert service is not None
        shown = month_credit(s, service, OCTOBER, clock.now())
        assert shown.credit == Money(Decimal("-600.00"), "USD") and shown.billed is not None
        # Issued, the credit is split like the MRC it credits: the parts add up to the cent
        # and stand in the MRC line's proportions.
        invoice = shown.billed.invoice
        issue_invoice(s, invoice.id, actor=ADMIN, now=clock.now(), render=render_in_process)
        lines = {line.charge_kind: line for line in invoice.lines}
        mrc, credit = lines["mrc"], lines["sla_credit"]
        assert credit.amount is not None and mrc.amount is not None
        assert credit.amount == -mrc.amount / 10
        assert credit.first_party_amount + credit.second_party_amount == credit.amount  # type: ignore[operator]
        assert credit.first_party_amount == -mrc.first_party_amount / 10  # type: ignore[operator]
        # Billed: a decision now is refused.
        with pytest.raises(ConflictError, match="billed on"):
            decide_credit(
                s,
                service,
                OCTOBER,
                kind="waive",
                credit_percent=None,
                reason="x",
                actor=ADMIN,
                now=clock.now(),
            )


def test_credits_are_billed_once_after_a_run_that_died_half_way(
    db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _world(db, clock, count=3)
    real = runs.bill_group
    calls = {"n": 0}

    def failing(*args: object, **kwargs: object) -> runs.GroupOutcome:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected: the machine went away")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runs, "bill_group", failing)
    with pytest.raises(RuntimeError, match="injected"):
        _bill(db, clock, "2026-10", batch_size=1)
    assert [len(_sla_lines(db, i)) for i in ids] == [1, 0, 0]
    monkeypatch.setattr(runs, "bill_group", real)
    _bill(db, clock, "2026-10")
    _bill(db, clock, "2026-10")
    assert [len(_sla_lines(db, i)) for i in ids] == [1, 1, 1]


def test_a_waived_month_bills_nothing_and_a_granted_one_its_percentage(
    db: Database, clock: FrozenClock
) -> None:
    waived_id, granted_id = _world(db, clock, count=2)
    now = clock.now()
    with db.transaction() as s:
        waived, granted = s.get(Service, waived_id), s.get(Service, granted_id)
        assert waived is not None and granted is not None
        for bad in (
            {"kind": "waive", "reason": " "},
            {"kind": "grant", "reason": "x", "credit_percent": "NaN"},
            {"kind": "grant", "reason": "x", "credit_percent": "101"},
            {"kind": "maybe", "reason": "x"},
        ):
            with pytest.raises(InvalidRequestError):
                decide_credit(
                    s,
                    waived,
                    OCTOBER,
                    kind=str(bad["kind"]),
                    credit_percent=bad.get("credit_percent"),
                    reason=bad["reason"],
                    actor=ADMIN,
                    now=now,
                )
        decide_credit(
            s,
            waived,
            OCTOBER,
            kind="waive",
            credit_percent=None,
            reason="Planned works agreed with the customer",
            actor=ADMIN,
            now=now,
        )
        decide_credit(
            s,
            granted,
            OCTOBER,
            kind="grant",
            credit_percent="25",
            reason="Goodwill after the second cut",
            actor=ADMIN,
            now=now,
        )
        with pytest.raises(ConflictError):
            decide_credit(
                s,
                granted,
                OCTOBER,
                kind="grant",
                credit_percent="30",
                reason="again",
                actor=ADMIN,
                now=now,
            )
        assert month_credit(s, waived, OCTOBER, now).credit is None
        assert month_credit(s, granted, OCTOBER, now).credit == Money(Decimal("-1500.00"), "USD")
    _bill(db, clock, "2026-10")
    assert _sla_lines(db, waived_id) == []
    assert [line[2] for line in _sla_lines(db, granted_id)] == [Decimal("-1500.00")]
    with db.transaction() as s:
        granted = s.get(Service, granted_id)
        assert granted is not None
        with pytest.raises(ConflictError):
            undo_decision(s, granted, OCTOBER, actor=ADMIN, now=now)
        # A party's finance decides on its own services only.
        ktc = factories.party_seller(s, "KTC")
        waived = s.get(Service, waived_id)
        assert waived is not None
        from billing.errors import PermissionDeniedError

        with pytest.raises(PermissionDeniedError):
            undo_decision(s, waived, OCTOBER, actor=ktc, now=now)


def test_an_irus_credit_is_of_its_months_share_of_the_yearly_om(
    db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=now)
        iru = factories.active_service(
            s, now=now, model="iru", term_months=180, ready_for_service=date(2026, 10, 16)
        )
        fee, rate = iru.iru_fee, iru.om_rate_percent
        assert fee is not None and rate is not None
        # 3 hours down in 16 active days: 99.21...%, below 99.5 and 99.0? no: 10 %.
        _down(s, "S1", 20, 180, "INC-9", now)
    _bill(db, clock, "2026-10")
    ((kind, start, amount, text),) = _sla_lines(db, iru.id)
    yearly = Money(fee * rate / 100, "USD").rounded()
    expected = -(Money(yearly.amount / 12 * 16 / 31, "USD").percent(10).rounded())
    assert (kind, start, amount) == ("sla_om_credit", date(2026, 10, 1), expected.amount)
    assert text == "SLA credit, October 2026 (availability 99.21%)"


def test_an_outage_still_open_at_the_run_counts_to_the_end_of_the_closed_month(
    db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=now)
        service_id = factories.active_service(
            s, now=now, mrc=Decimal("6000"), nrc=Decimal("0"), ready_for_service=date(2026, 10, 1)
        ).id
        # Down since 16:00 on 31 October in Baku (12:00 UTC) and still down at the run: October
        # counts its last 8 hours, 480 of 44,640 minutes (98.92%, below 99.0: 25 %).
        record_outage(
            s,
            {
                "segment": "S1",
                "start": "2026-10-31T12:00Z",
                "end": "",
                "cause": "cut",
                "ticket": "OPEN",
            },
            actor="noc@example.test",
            now=now,
        )
    _bill(db, clock, "2026-11")
    assert _sla_lines(db, service_id) == [
        (
            "sla_credit",
            date(2026, 10, 1),
            Decimal("-1500.00"),
            "SLA credit, October 2026 (availability 98.92%)",
        )
    ]
    with db.transaction() as s:
        service = s.get(Service, service_id)
        assert service is not None
        november = month_credit(s, service, billing_period(date(2026, 11, 1)), now)
        assert not november.month.closed and november.billed is None
        # November so far: from its first minute in Baku to now, all down.
        assert november.month.down_minutes == november.month.minutes
