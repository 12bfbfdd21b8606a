"""Scheduled and back-dated service dates, and the early-termination charge (SPEC 3), through the
services on both databases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from billing.access.services import get_party
from billing.audit import AuditEntry
from billing.calendar import local_date
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import ConflictError, InvalidRequestError, PermissionDeniedError
from billing.inventory.models import Allocation
from billing.parties.customers import Seller
from billing.sales.lifecycle import (
    apply_due_dates,
    get_service,
    schedule_text,
    transition_service,
    waive_early_termination,
)
from billing.sales.models import EarlyTerminationCharge
from billing.sales.quotes import LineRequest
from tests import factories
from tests.factories import Price

ADMIN = Seller("admin@tcf.example (admin)", None)


@pytest.fixture
def seed() -> str:
    return "reference"


def _sold(db: Database, clock: FrozenClock, line: LineRequest | None = None) -> tuple[str, Seller]:
    with db.transaction() as s:
        azt = factories.party_seller(s, "AZT")
        factories.price_book_version(
            s,
            now=clock.now(),
            prices=[
                Price("WL100G", mrc=Decimal("12000.00")),
                Price("WL100G", model="iru"),
                Price("WL10G"),
            ],
        )
        contract = factories.contract(s, now=clock.now(), lines=[line or LineRequest("WL100G")])
        return contract.services[0].circuit_id, azt


def _today(db: Database, clock: FrozenClock) -> date:
    with db.transaction() as s:
        return local_date(clock.now(), get_party(s, "AZT").time_zone)


def _states(db: Database, circuit: str) -> tuple[str, date | None, date | None, set[str]]:
    with db.transaction() as s:
        service = get_service(s, circuit)
        spectrum = {a.state for a in s.execute(select(Allocation)).scalars()}
        return service.state, service.ready_for_service_date, service.end_date, spectrum


def test_a_scheduled_activation_is_stored_now_and_comes_true_on_its_date(
    db: Database, clock: FrozenClock
) -> None:
    circuit, azt = _sold(db, clock)
    ahead = _today(db, clock) + timedelta(days=6)
    with db.transaction() as s:
        service = transition_service(
            s, circuit, "activate", effective_date=ahead, seller=azt, now=clock.now()
        )
        assert schedule_text(service) == [f"active from {ahead}"]
    assert _states(db, circuit) == ("pending", ahead, None, {"allocated"})
    clock.advance(timedelta(days=5))
    with db.transaction() as s:
        assert apply_due_dates(s, now=clock.now()) == []
    assert factories.events_recorded(db, "service.") == []  # scheduled is not active yet
    clock.advance(timedelta(days=1))
    with db.transaction() as s:
        assert [sv.circuit_id for sv in apply_due_dates(s, now=clock.now())] == [circuit]
    assert _states(db, circuit) == ("active", ahead, None, {"allocated"})
    with db.transaction() as s:
        service_id = str(get_service(s, circuit).id)
    assert factories.events_recorded(db, "service.") == [("service.activated", service_id)]
    with db.transaction() as s:
        events = [(e.from_state, e.to_state, e.actor) for e in get_service(s, circuit).events]
        assert events[-2:] == [("pending", "pending", azt.label), ("pending", "active", "system")]
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.entity_type == "service")
        ).scalars()
        assert list(actions) == ["service.activate_scheduled", "service.scheduled_date"]


def test_a_scheduled_termination_keeps_the_spectrum_until_its_end_date(
    app: Flask, db: Database, clock: FrozenClock
) -> None:
    circuit, azt = _sold(db, clock)
    today = _today(db, clock)
    ends = today + timedelta(days=10)
    with db.transaction() as s:
        transition_service(
            s, circuit, "activate", effective_date=today, seller=azt, now=clock.now()
        )
        service = transition_service(
            s, circuit, "terminate", effective_date=ends, seller=azt, now=clock.now()
        )
        assert schedule_text(service) == [f"ends on {ends}"]
    assert _states(db, circuit) == ("active", today, ends, {"allocated"})
    with db.transaction() as s, pytest.raises(ConflictError, match=f"end on {ends}"):
        transition_service(
            s, circuit, "terminate", effective_date=today, seller=azt, now=clock.now()
        )
    clock.advance(timedelta(days=10))
    result = app.test_cli_runner().invoke(args=["services", "apply-dates"])
    assert result.exit_code == 0, result.output
    assert f"{circuit} is now terminated" in result.output
    assert _states(db, circuit) == ("terminated", today, ends, {"released"})
    with db.transaction() as s:
        service_id = str(get_service(s, circuit).id)
    assert factories.events_recorded(db, "service.") == [
        ("service.activated", service_id),
        ("service.terminated", service_id),
    ]


def test_back_dating_needs_a_note_and_stops_at_ninety_days(
    db: Database, clock: FrozenClock
) -> None:
    circuit, azt = _sold(db, clock)
    clock.advance(timedelta(days=95))
    today = _today(db, clock)
    for day, note, field in (
        (today - timedelta(days=3), "", "note"),
        (today - timedelta(days=91), "late paperwork", "effective_date"),
    ):
        with db.transaction() as s, pytest.raises(InvalidRequestError) as caught:
            transition_service(
                s, circuit, "activate", effective_date=day, seller=azt, now=clock.now(), note=note
            )
        assert field in caught.value.errors
    assert _states(db, circuit)[:2] == ("pending", None)
    back = today - timedelta(days=90)
    with db.transaction() as s:
        transition_service(
            s,
            circuit,
            "activate",
            effective_date=back,
            seller=azt,
            now=clock.now(),
            note="late RFS",
        )
    assert _states(db, circuit)[:2] == ("active", back)


def test_ending_a_lease_early_records_the_charge_an_admin_may_waive(
    db: Database, clock: FrozenClock
) -> None:
    circuit, azt = _sold(db, clock, LineRequest("WL100G", term_months=12))
    today = _today(db, clock)
    with db.transaction() as s:
        transition_service(
            s, circuit, "activate", effective_date=today, seller=azt, now=clock.now()
        )
    clock.advance(timedelta(days=92))  # three months and a bit in: nine months left, begun whole
    ends = _today(db, clock)
    with db.transaction() as s:
        transition_service(
            s, circuit, "terminate", effective_date=ends, seller=azt, now=clock.now()
        )
    with db.transaction() as s:
        charge = s.execute(select(EarlyTerminationCharge)).scalar_one()
        assert charge.months_remaining == 9
        assert (charge.mrc, charge.rate_percent) == (Decimal("12000.00"), Decimal(100))
        assert (charge.amount, charge.currency) == (Decimal("108000.00"), "USD")
        assert charge.term_end_date == date(today.year + 1, today.month, today.day) - timedelta(1)
        assert charge.waived_at is None
    for seller, reason, error in (
        (azt, "goodwill", PermissionDeniedError),
        (ADMIN, " ", InvalidRequestError),
    ):
        with db.transaction() as s, pytest.raises(error):
            waive_early_termination(s, circuit, reason=reason, seller=seller, now=clock.now())
    with db.transaction() as s:
        waive_early_termination(
            s, circuit, reason="moved to a 36-month IRU", seller=ADMIN, now=clock.now()
        )
    with db.transaction() as s:
        charge = s.execute(select(EarlyTerminationCharge)).scalar_one()
        assert (charge.waived_by, charge.waive_reason) == (ADMIN.label, "moved to a 36-month IRU")
        audit = s.execute(
            select(AuditEntry.action, AuditEntry.actor).where(
                AuditEntry.action.like("service.early_termination%")
            )
        ).all()
        assert [tuple(r) for r in audit] == [
            ("service.early_termination_charge", azt.label),
            ("service.early_termination_waived", ADMIN.label),
        ]
    with db.transaction() as s, pytest.raises(ConflictError):
        waive_early_termination(s, circuit, reason="again", seller=ADMIN, now=clock.now())


def test_an_iru_and_a_lease_run_to_its_term_owe_nothing_more(
    db: Database, clock: FrozenClock
) -> None:
    iru, azt = _sold(db, clock, LineRequest("WL100G", model="iru", term_months=120))
    with db.transaction() as s:
        lease = factories.contract(s, now=clock.now(), lines=[LineRequest("WL10G")])
        lease_circuit = lease.services[0].circuit_id
    today = _today(db, clock)
    with db.transaction() as s:
        for circuit in (iru, lease_circuit):
            transition_service(
                s, circuit, "activate", effective_date=today, seller=azt, now=clock.now()
            )
        transition_service(s, iru, "terminate", effective_date=today, seller=azt, now=clock.now())
    clock.advance(timedelta(days=366))
    with db.transaction() as s:
        transition_service(
            s,
            lease_circuit,
            "terminate",
            effective_date=_today(db, clock),
            seller=azt,
            now=clock.now(),
        )
    with db.transaction() as s:
        assert s.execute(select(EarlyTerminationCharge)).scalars().all() == []
