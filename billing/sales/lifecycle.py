"""A service's life: pending → active → suspended ⇄ active → terminated. Every step recorded."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from billing.audit import record
from billing.calendar import local_date
from billing.errors import N_, ConflictError, InvalidRequestError, PermissionDeniedError, Text
from billing.events import record_event
from billing.inventory.services import release_reservation
from billing.money import Money
from billing.parties.customers import Seller
from billing.sales.models import (
    EarlyTerminationCharge,
    Service,
    ServiceEvent,
    ServiceState,
)
from billing.sales.queries import get_service, service_listing
from billing.sales.service_dates import (
    Timing,
    date_timing,
    early_termination_charge,
    months_remaining,
    term_end,
)
from billing.validation import InvalidValueError, clean_reason

ALLOWED: dict[str, dict[str, str]] = {
    # from state: {action: to state}
    ServiceState.PENDING: {"activate": ServiceState.ACTIVE, "terminate": ServiceState.TERMINATED},
    ServiceState.ACTIVE: {"suspend": ServiceState.SUSPENDED, "terminate": ServiceState.TERMINATED},
    ServiceState.SUSPENDED: {"resume": ServiceState.ACTIVE, "terminate": ServiceState.TERMINATED},
    ServiceState.TERMINATED: {},
}


def actions_for(state: str) -> list[str]:
    return list(ALLOWED.get(state, {}))


# The words of a refused step, said in the page's language (an unknown action stays as sent).
_STATE_WORDS = {
    ServiceState.PENDING.value: N_("pending"),
    ServiceState.ACTIVE.value: N_("active"),
    ServiceState.SUSPENDED.value: N_("suspended"),
    ServiceState.TERMINATED.value: N_("terminated"),
}
_ACTION_WORDS = {
    "activate": N_("activate"),
    "suspend": N_("suspend"),
    "resume": N_("resume"),
    "terminate": N_("terminate"),
}


def _word(words: dict[str, str], code: str) -> str:
    return Text(words[code]) if code in words else code


def _not_allowed(state: str) -> str:
    """What a service in `state` may do, for the refusal of anything else."""
    actions = actions_for(state)
    if not actions:
        return N_("allowed: none")
    return Text(N_("allowed: %(actions)s"), actions=", ".join(actions))


def service_today(service: Service, now: datetime) -> date:
    """Its seller's business date (SPEC 3): in Baku it may be tomorrow already."""
    return local_date(now, service.contract.party.time_zone)


def transition_service(
    session: Session,
    circuit_id: str,
    action: str,
    *,
    effective_date: date | None,
    seller: Seller,
    now: datetime,
    note: str = "",
) -> Service:
    """Move a service through its states; an activation or termination dated ahead is scheduled.

    A scheduled date is stored at once (billing follows the dates) and the state changes on the
    date itself (`apply_due_dates`). A back-dated one needs a note; see service_dates.
    """
    service = get_service(session, circuit_id)
    if not seller.may_sell_for(service.contract.party_id):
        raise PermissionDeniedError(
            N_("%(circuit)s is sold by %(party)s: read-only for you"),
            circuit=circuit_id,
            party=service.contract.party.code,
        )
    to_state = ALLOWED.get(service.state, {}).get(action)
    if to_state is None:
        raise ConflictError(
            N_("a %(state)s service cannot %(action)s"),
            {"action": [_not_allowed(service.state)]},
            state=_word(_STATE_WORDS, service.state),
            action=_word(_ACTION_WORDS, action),
        )
    if action == "terminate" and service.end_date is not None:
        raise ConflictError(
            N_("%(circuit)s is already scheduled to end on %(day)s"),
            circuit=circuit_id,
            day=service.end_date,
        )
    timing = None
    if action in DATED_ACTIONS:
        timing = _check_date(service, action, effective_date, note=note, now=now)
    before = {"state": service.state}
    if action == "activate":
        service.ready_for_service_date = effective_date
    if action == "terminate":
        service.end_date = effective_date
    if timing == Timing.SCHEDULED:
        to_state = service.state
        what = "active from" if action == "activate" else "ends on"
        note = f"scheduled: {what} {effective_date}" + (f" · {note}" if note else "")
    elif action == "terminate":
        release_reservation(session, service.reservation_id, actor=seller.label, now=now)
    _move(
        session,
        service,
        to_state,
        effective_date=effective_date,
        actor=seller.label,
        note=note,
        now=now,
    )
    session.flush()
    record(
        session,
        actor=seller.label,
        action=f"service.{action}" + ("_scheduled" if timing == Timing.SCHEDULED else ""),
        entity_type="service",
        entity_id=service.circuit_id,
        now=now,
        before=before,
        after={"state": to_state, "effective_date": effective_date, "note": note},
    )
    if action == "terminate":
        _record_early_termination(session, service, seller=seller, now=now)
    return service


DATED_ACTIONS = ("activate", "terminate")


def _check_date(
    service: Service, action: str, day: date | None, *, note: str, now: datetime
) -> Timing:
    """The rules a ready-for-service or end date must keep, in the selling party's calendar:
    in Baku it may be tomorrow already (SPEC 3)."""
    if day is None:
        required = (
            N_("required to activate") if action == "activate" else N_("required to terminate")
        )
        raise InvalidRequestError(N_("give the date"), {"effective_date": [required]})
    time_zone = service.contract.party.time_zone
    timing = date_timing(day, today=local_date(now, time_zone), note=note)
    signed_on = local_date(service.contract.signed_at, time_zone)
    if day < signed_on:
        raise InvalidRequestError(
            N_("the date cannot be before the contract was signed"),
            {"effective_date": [Text(N_("on or after %(day)s"), day=signed_on)]},
        )
    rfs = service.ready_for_service_date
    if action == "terminate" and rfs is not None and day < rfs:
        raise InvalidRequestError(
            N_("a service cannot end before its ready-for-service date"),
            {"effective_date": [Text(N_("on or after %(day)s"), day=rfs)]},
        )
    return timing


def _move(
    session: Session,
    service: Service,
    to_state: str,
    *,
    effective_date: date | None,
    actor: str,
    note: str,
    now: datetime,
) -> None:
    service.events.append(
        ServiceEvent(
            at=now,
            from_state=service.state,
            to_state=to_state,
            effective_date=effective_date,
            actor=actor,
            note=note,
        )
    )
    if to_state != service.state and to_state in _ANNOUNCED:
        # What the customer's systems hear of (SPEC 13): the service came into or out of use.
        record_event(
            session,
            _ANNOUNCED[to_state],
            subject_type="service",
            subject_id=service.id,
            customer_id=service.customer_id,
            party_id=service.contract.party_id,
            now=now,
        )
    service.state = to_state


_ANNOUNCED = {
    ServiceState.ACTIVE.value: "service.activated",
    ServiceState.TERMINATED.value: "service.terminated",
}


def _record_early_termination(
    session: Session, service: Service, *, seller: Seller, now: datetime
) -> EarlyTerminationCharge | None:
    """A lease ended before its term owes the early-termination charge; an IRU owes nothing."""
    if service.model != "lease" or service.end_date is None or service.mrc is None:
        return None
    ends = term_end(service.ready_for_service_date or service.end_date, service.term_months)
    months = months_remaining(service.end_date, ends)
    if months == 0:
        return None
    rate = service.early_termination_percent
    if rate is None:
        raise ConflictError(
            N_("%(circuit)s's contract records no early-termination rate"),
            circuit=service.circuit_id,
        )
    amount = early_termination_charge(Money(service.mrc, service.currency), rate, months)
    charge = EarlyTerminationCharge(
        service_id=service.id,
        end_date=service.end_date,
        term_end_date=ends,
        months_remaining=months,
        mrc=service.mrc,
        rate_percent=rate,
        amount=amount.amount,
        currency=amount.currency,
        created_at=now,
        created_by=seller.label,
    )
    session.add(charge)
    service.early_termination = charge
    session.flush()
    record(
        session,
        actor=seller.label,
        action="service.early_termination_charge",
        entity_type="service",
        entity_id=service.circuit_id,
        now=now,
        after={
            "end_date": service.end_date,
            "term_end_date": ends,
            "months_remaining": months,
            "rate_percent": rate,
            "amount": amount.as_json(),
        },
    )
    return charge


def waive_early_termination(
    session: Session, circuit_id: str, *, reason: str, seller: Seller, now: datetime
) -> EarlyTerminationCharge:
    """An administrator lets the customer off the early-termination charge, saying why."""
    if not seller.is_admin:
        raise PermissionDeniedError(
            N_("only an administrator may waive an early-termination charge")
        )
    try:
        why = clean_reason(reason)
    except InvalidValueError as error:
        problem = Text(error.template, **error.values)
        raise InvalidRequestError(
            N_("the reason %(problem)s"), {"reason": [problem]}, problem=problem
        ) from None
    service = get_service(session, circuit_id)
    charge = service.early_termination
    if charge is None:
        raise ConflictError(N_("%(circuit)s owes no early-termination charge"), circuit=circuit_id)
    if charge.waived_at is not None:
        raise ConflictError(
            N_("%(circuit)s's early-termination charge is already waived"), circuit=circuit_id
        )
    charge.waived_at = now
    charge.waived_by = seller.label
    charge.waive_reason = why
    session.flush()
    record(
        session,
        actor=seller.label,
        action="service.early_termination_waived",
        entity_type="service",
        entity_id=circuit_id,
        now=now,
        before={"amount": Money(charge.amount, charge.currency).as_json(), "waived": False},
        after={"waived": True, "reason": why},
    )
    return charge


def apply_due_dates(session: Session, *, now: datetime) -> list[Service]:
    """Make the scheduled dates that have come true: a pending service whose ready-for-service
    date has come is active, a service whose end date has come is terminated and its spectrum
    released. Run by `flask services apply-dates` (cron); billing needs it not, as it bills by
    the dates."""
    due = session.execute(
        service_listing().where(
            Service.state != ServiceState.TERMINATED.value,
            or_(
                and_(
                    Service.state == ServiceState.PENDING.value,
                    Service.ready_for_service_date.is_not(None),
                ),
                Service.end_date.is_not(None),
            ),
        )
    ).scalars()
    changed = []
    for service in due:
        today = local_date(now, service.contract.party.time_zone)
        before = service.state
        if service.end_date is not None and service.end_date <= today:
            release_reservation(session, service.reservation_id, actor="system", now=now)
            _move(
                session,
                service,
                ServiceState.TERMINATED.value,
                effective_date=service.end_date,
                actor="system",
                note="the scheduled end date came",
                now=now,
            )
        elif (
            service.state == ServiceState.PENDING
            and service.ready_for_service_date is not None
            and service.ready_for_service_date <= today
        ):
            _move(
                session,
                service,
                ServiceState.ACTIVE.value,
                effective_date=service.ready_for_service_date,
                actor="system",
                note="the scheduled ready-for-service date came",
                now=now,
            )
        else:
            continue
        record(
            session,
            actor="system",
            action="service.scheduled_date",
            entity_type="service",
            entity_id=service.circuit_id,
            now=now,
            before={"state": before},
            after={"state": service.state},
        )
        changed.append(service)
    session.flush()
    return changed


def schedule_text(service: Service) -> list[str]:
    """What the service page says of dates still to come true: "active from …", "ends on …"."""
    said = []
    if service.state == ServiceState.PENDING and service.ready_for_service_date is not None:
        said.append(f"active from {service.ready_for_service_date}")
    if service.state != ServiceState.TERMINATED and service.end_date is not None:
        said.append(f"ends on {service.end_date}")
    return said
