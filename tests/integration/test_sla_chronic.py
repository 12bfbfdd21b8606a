"""Chronic failure (SPEC 7), on both databases: three closed months below target in a row flag a
service once (by `flask sla check` or the billing run, again and again adding nothing); a month
above target or not active breaks the run; a flagged lease ended afterwards owes no
early-termination charge, where an unflagged one does."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.access.services import create_portal_login
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import InvoiceLine
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.sla_credits import check_chronic_failures
from billing.parties.customers import Seller
from billing.sales.lifecycle import transition_service
from billing.sales.models import Service
from billing.sla.models import ChronicFailure
from billing.sla.outages import record_outage
from billing.sla.queries import chronically_failing
from billing.sla.services import seed_sla_policies
from tests import factories
from tests.helpers import FAST_HASH, PASSWORD, login

ADMIN = Seller("admin@example.test (admin)", None)


@pytest.fixture
def seed() -> str:
    return "reference"


def _cut(
    s: Session, segment: str, month: int, ticket: str, now: datetime, minutes: int = 300
) -> None:
    start = datetime(2026, month, 10, 6, 0, tzinfo=UTC)
    end = datetime(2026, month, 10, 6 + minutes // 60, minutes % 60, tzinfo=UTC)
    record_outage(
        s,
        {
            "segment": segment,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "cause": "cut",
            "ticket": ticket,
        },
        actor="noc@example.test",
        now=now,
    )


def _lease(s: Session, ready: date, protection: str = "unprotected") -> tuple[int, str]:
    """Sold and ready on `ready` (the lifecycle refuses a date back-dated by months)."""
    service = factories.active_service(
        s,
        now=datetime.combine(ready, datetime.min.time(), UTC).replace(hour=8),
        mrc=Decimal("1000"),
        nrc=Decimal("0"),
        term_months=24,
        ready_for_service=ready,
        protection=protection,
    )
    return service.id, service.circuit_id


def _flags(db: Database) -> list[tuple[int, date, date]]:
    with db.transaction() as s:
        rows = s.execute(
            select(ChronicFailure.service_id, ChronicFailure.first_month, ChronicFailure.last_month)
        ).all()
    return [(a, b, c) for a, b, c in rows]


def _world(
    db: Database, clock: FrozenClock, months: tuple[int, ...], ready: date
) -> tuple[int, str]:
    now = clock.now()  # 2026-11-25
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=now)
        ids = _lease(s, ready)
        for month in months:
            _cut(s, "S1", month, f"INC-{month}", now)  # 300 minutes: 99.3% or so, below 99.5
    return ids


def test_three_months_below_target_flag_once_by_command_and_run(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    service_id, _ = _world(db, clock, (8, 9, 10), ready=date(2026, 6, 1))
    result = app.test_cli_runner().invoke(args=["sla", "check"])
    assert result.exit_code == 0, result.output
    assert "below target 2026-08 to 2026-10" in result.output
    assert "1 chronic failures recorded" in result.output
    assert _flags(db) == [(service_id, date(2026, 8, 1), date(2026, 10, 1))]
    again = app.test_cli_runner().invoke(args=["sla", "check"])
    assert "0 chronic failures recorded" in again.output
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code=None,
        actor=ADMIN,
        clock=clock.now,
    )
    assert len(_flags(db)) == 1
    with db.transaction() as s:
        assert (
            s.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "service.chronic_failure")
            ).scalar_one()
            == 1
        )
        listed = chronically_failing(s, party_id=None)
        assert [service.id for _, service in listed] == [service_id]
        ktc = factories.party_seller(s, "KTC")
        assert chronically_failing(s, party_id=ktc.party_id) == []


def test_the_billing_run_records_it_too(db: Database, clock: FrozenClock) -> None:
    service_id, _ = _world(db, clock, (8, 9, 10), ready=date(2026, 6, 1))
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code=None,
        actor=ADMIN,
        clock=clock.now,
    )
    assert _flags(db) == [(service_id, date(2026, 8, 1), date(2026, 10, 1))]


@pytest.mark.parametrize(
    ("months", "ready"),
    [
        ((7, 8, 10), date(2026, 6, 1)),  # September above target breaks the run
        ((8, 9, 10), date(2026, 9, 1)),  # not active in August: two months only
    ],
)
def test_a_month_above_target_or_not_active_breaks_the_run(
    db: Database, clock: FrozenClock, months: tuple[int, ...], ready: date
) -> None:
    _world(db, clock, months, ready)
    with db.transaction() as s:
        result = check_chronic_failures(s, now=clock.now(), actor="tests")
    assert result.flagged == [] and _flags(db) == []


def test_a_flagged_lease_ended_afterwards_owes_no_early_termination_charge(
    db: Database, clock: FrozenClock
) -> None:
    flagged_id, flagged = _world(db, clock, (8, 9, 10), ready=date(2026, 6, 1))
    now = clock.now()
    with db.transaction() as s:
        # Protected: the cuts on S1 alone never took it down.
        plain_id, plain = _lease(s, date(2026, 6, 1), protection="protected")
        ktc_free = factories.party_seller(s, "AZT")
        check_chronic_failures(s, now=now, actor="tests")
        for circuit in (flagged, plain):
            transition_service(
                s, circuit, "terminate", effective_date=date(2026, 11, 25), seller=ktc_free, now=now
            )
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code=None,
        actor=ADMIN,
        clock=clock.now,
    )
    with db.transaction() as s:

        def kinds(service_id: int) -> set[str]:
            return set(
                s.scalars(
                    select(InvoiceLine.charge_kind).where(InvoiceLine.service_id == service_id)
                )
            )

        assert "early_termination" not in kinds(flagged_id)
        assert "early_termination" in kinds(plain_id)


def test_the_finance_dashboard_lists_the_partys_chronically_failing_services(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    _, circuit = _world(db, clock, (8, 9, 10), ready=date(2026, 6, 1))
    with db.transaction() as s:
        check_chronic_failures(s, now=clock.now(), actor="tests")
        azt = factories.staff_user(s, now=clock.now(), party="AZT", role="finance").email
        ktc = factories.staff_user(s, now=clock.now(), party="KTC", role="finance").email
    client = app.test_client()
    login(client, azt)
    page = client.get("/finance").text
    section = page.split('id="chronic"')[1]
    assert circuit in section and "Aug 2026 – Oct 2026" in section
    other = app.test_client()
    login(other, ktc)
    assert "No service has missed its availability target" in other.get("/finance").text


def test_the_portal_tells_the_customer_of_its_right(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    service_id, circuit = _world(db, clock, (8, 9, 10), ready=date(2026, 6, 1))
    with db.transaction() as s:
        check_chronic_failures(s, now=clock.now(), actor="tests")
        service = s.get(Service, service_id)
        assert service is not None
        create_portal_login(
            s,
            customer_id=service.customer_id,
            email="ap@customer.example",
            name="AP",
            password=PASSWORD,
            actor="tests",
            now=clock.now(),
            hash_method=FAST_HASH,
        )
    client = app.test_client()
    login(client, "ap@customer.example")
    page = client.get(f"/portal/services/{circuit}").text
    note = page.split('id="chronic-failure"')[1].split("</div>")[0]
    assert "without the early-termination charge" in note and "August 2026" in note
