"""SLA policies as data (targets and credit tiers per protection class, by date) and finance's
decisions on a service's month: a credit waived, or one granted by hand, with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.audit import record
from billing.calendar import Period
from billing.errors import N_, ConflictError, InvalidRequestError, PermissionDeniedError, Text
from billing.parties.customers import Seller
from billing.sales.models import Service
from billing.sla.models import PROTECTIONS, ChronicFailure, SlaDecision, SlaPolicy, SlaTier
from billing.sla.queries import decision_for
from billing.validation import InvalidValueError, clean_reason, parse_decimal

# SPEC 7's demo: unprotected 99.5 %, protected 99.95 %; below target 10 % of the month's charge,
# below target − 0.5 points 25 %, below 98 % 50 %.
DEMO_TARGETS = {"unprotected": Decimal("99.5"), "protected": Decimal("99.95")}


def demo_tiers(target: Decimal) -> list[tuple[Decimal, Decimal]]:
    return [
        (target, Decimal(10)),
        (target - Decimal("0.5"), Decimal(25)),
        (Decimal(98), Decimal(50)),
    ]


def add_policy(
    session: Session,
    *,
    protection: str,
    effective_from: date,
    target_percent: Decimal,
    tiers: Sequence[tuple[Decimal, Decimal]],
    actor: str,
    now: datetime,
) -> SlaPolicy:
    """A protection class's target and tiers from `effective_from` on (below_percent,
    credit_percent)."""
    errors: dict[str, list[str]] = {}
    if protection not in PROTECTIONS:
        errors["protection"] = [N_("Choose unprotected or protected.")]
    if not (target_percent.is_finite() and 0 < target_percent <= 100):
        errors["target_percent"] = [N_("A target is a percentage above 0 and at most 100.")]
    if not tiers:
        errors["tiers"] = [N_("A policy has at least one credit tier.")]
    for below, credit in tiers:
        if not (
            below.is_finite() and 0 < below <= 100 and credit.is_finite() and 0 < credit <= 100
        ):
            errors["tiers"] = [N_("Each tier is below a percentage and credits 0-100 %.")]
    if len({below for below, _ in tiers}) != len(tiers):
        errors["tiers"] = [N_("Two tiers start at the same availability.")]
    if errors:
        raise InvalidRequestError(N_("the SLA policy is not valid"), errors)
    exists = session.execute(
        select(SlaPolicy.id).where(
            SlaPolicy.protection == protection, SlaPolicy.effective_from == effective_from
        )
    ).first()
    if exists:
        raise ConflictError(
            N_("a %(protection)s policy takes effect on %(day)s already"),
            protection=Text(protection),  # "protected" or "unprotected", in the UI's catalogs
            day=str(effective_from),
        )
    policy = SlaPolicy(
        protection=protection,
        effective_from=effective_from,
        target_percent=target_percent,
        created_at=now,
        created_by=actor,
    )
    policy.tiers = [SlaTier(below_percent=b, credit_percent=c) for b, c in tiers]
    session.add(policy)
    session.flush()
    record(
        session,
        actor=actor,
        action="sla_policy.add",
        entity_type="sla_policy",
        entity_id=policy.id,
        now=now,
        after={
            "protection": protection,
            "effective_from": effective_from.isoformat(),
            "target_percent": str(target_percent),
            "tiers": [[str(b), str(c)] for b, c in tiers],
        },
    )
    return policy


def seed_sla_policies(session: Session, *, effective_from: date, now: datetime) -> None:
    """SPEC 7's demo targets and tiers, on a platform that has no policy yet."""
    if session.execute(select(SlaPolicy.id).limit(1)).first() is not None:
        return
    for protection, target in DEMO_TARGETS.items():
        add_policy(
            session,
            protection=protection,
            effective_from=effective_from,
            target_percent=target,
            tiers=demo_tiers(target),
            actor="seed",
            now=now,
        )


def _may_decide(service: Service, actor: Seller) -> None:
    if not actor.may_sell_for(service.contract.party_id):
        raise PermissionDeniedError(
            N_("%(circuit)s is %(party)s's: its finance decides"),
            circuit=service.circuit_id,
            party=service.contract.party.code,
        )


def record_decision(
    session: Session,
    service: Service,
    period: Period,
    *,
    kind: str,
    credit_percent: object,
    reason: object,
    actor: Seller,
    now: datetime,
) -> SlaDecision:
    """Finance waives the month's credit or grants one by hand (a percentage of the month's
    charge), with the reason. The caller (billing.invoicing.sla_credits) refuses a month whose
    credit is billed already."""
    _may_decide(service, actor)
    errors: dict[str, list[str]] = {}
    if kind not in ("waive", "grant"):
        errors["kind"] = [N_("Choose waive or grant.")]
    percent: Decimal | None = None
    if kind == "grant":
        try:
            percent = parse_decimal(
                credit_percent,
                places=3,
                max_digits=6,
                minimum=Decimal("0.001"),
                maximum=Decimal(100),
            )
        except InvalidValueError as exc:
            errors["credit_percent"] = [Text(exc.template, **exc.values)]
    try:
        why = clean_reason(reason, max_length=1000)
    except InvalidValueError as exc:
        errors["reason"] = [Text(exc.template, **exc.values)]
        why = ""
    if errors:
        raise InvalidRequestError(N_("the decision was not recorded"), errors)
    if decision_for(session, service.id, period.start) is not None:
        raise ConflictError(
            N_("%(circuit)s's %(month)s is decided already: remove that first"),
            circuit=service.circuit_id,
            month=f"{period.start:%Y-%m}",
        )
    decision = SlaDecision(
        service_id=service.id,
        period_start=period.start,
        kind=kind,
        credit_percent=percent,
        reason=why,
        decided_at=now,
        decided_by=actor.label,
    )
    session.add(decision)
    session.flush()
    record(
        session,
        actor=actor.label,
        action=f"sla_credit.{kind}",
        entity_type="service",
        entity_id=service.circuit_id,
        now=now,
        after={
            "period": f"{period.start:%Y-%m}",
            "credit_percent": None if percent is None else str(percent),
            "reason": why,
        },
    )
    return decision


def remove_decision(
    session: Session, service: Service, period: Period, *, actor: Seller, now: datetime
) -> None:
    """Take back a decision not billed yet (the caller checks); the tiers apply again."""
    _may_decide(service, actor)
    decision = decision_for(session, service.id, period.start)
    if decision is None:
        raise ConflictError(
            N_("nothing is decided on %(circuit)s's %(month)s"),
            circuit=service.circuit_id,
            month=f"{period.start:%Y-%m}",
        )
    before = {
        "period": f"{period.start:%Y-%m}",
        "kind": decision.kind,
        "credit_percent": None if decision.credit_percent is None else str(decision.credit_percent),
        "reason": decision.reason,
    }
    session.delete(decision)
    session.flush()
    record(
        session,
        actor=actor.label,
        action="sla_credit.undecide",
        entity_type="service",
        entity_id=service.circuit_id,
        now=now,
        before=before,
    )


def record_chronic_failure(
    session: Session,
    service: Service,
    first_month: date,
    last_month: date,
    *,
    actor: str,
    now: datetime,
) -> ChronicFailure | None:
    """Flag `service` as chronically failing from `first_month` to `last_month` (SPEC 7), on it
    and its contract, audited. The same run of months is flagged once: a later month that
    lengthens it moves its last month on. Answers the flag when something was written."""
    flag = session.execute(
        select(ChronicFailure).where(
            ChronicFailure.service_id == service.id, ChronicFailure.first_month == first_month
        )
    ).scalar_one_or_none()
    if flag is not None:
        if last_month <= flag.last_month:
            return None
        before = {"last_month": f"{flag.last_month:%Y-%m}"}
        flag.last_month = last_month
        action = "service.chronic_failure_continues"
    else:
        before = None
        flag = ChronicFailure(
            service_id=service.id,
            contract_id=service.contract_id,
            first_month=first_month,
            last_month=last_month,
            recorded_at=now,
            recorded_by=actor,
        )
        session.add(flag)
        action = "service.chronic_failure"
    session.flush()
    record(
        session,
        actor=actor,
        action=action,
        entity_type="service",
        entity_id=service.circuit_id,
        now=now,
        before=before,
        after={
            "first_month": f"{first_month:%Y-%m}",
            "last_month": f"{last_month:%Y-%m}",
            "contract": service.contract.number,
        },
    )
    return flag
