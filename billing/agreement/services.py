"""Recording agreement versions (SPEC 5). Administrators only; audited; never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.agreement.models import (
    CHARGE_KINDS,
    DEFAULT_COMMISSION_KINDS,
    DEFAULT_SETTLEMENT_TERMS_DAYS,
    DEFAULT_WHOLE_KINDS,
    AgreementShare,
    AgreementVersion,
    kinds_text,
)
from billing.audit import record
from billing.errors import N_, InvalidRequestError, PermissionDeniedError, Text
from billing.inventory.queries import all_segments
from billing.parties.customers import Seller
from billing.parties.models import Party

HUNDRED = Decimal(100)
PERCENT_PLACES = Decimal("0.0001")


class AgreementError(InvalidRequestError):
    pass


def _percent(value: object) -> Decimal | None:
    """A percentage within 0–100 at the column's four places, or None."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number < 0 or number > HUNDRED:
        return None
    if number.quantize(PERCENT_PLACES) != number:
        return None
    return number


MAX_TERMS_DAYS = 365


def _terms_days(value: object) -> int | None:
    """Whole days from 0 to 365 (ASCII digits only), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        days = value
    else:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 3):
            return None
        days = int(text)
    return days if 0 <= days <= MAX_TERMS_DAYS else None


def add_version(
    session: Session,
    *,
    name: str,
    effective_from: date,
    commission_percent: object,
    shares: Mapping[str, Mapping[str, object]],
    commission_kinds: Sequence[str] = DEFAULT_COMMISSION_KINDS,
    whole_kinds: Sequence[str] = DEFAULT_WHOLE_KINDS,
    settlement_terms_days: object = DEFAULT_SETTLEMENT_TERMS_DAYS,
    actor: Seller,
    now: datetime,
) -> AgreementVersion:
    """Record a version from `effective_from`. `shares[segment code][party code]` in percent:
    every segment of the cable system has owners whose shares add up to 100%."""
    if not actor.is_admin:
        raise PermissionDeniedError(N_("only an administrator records the cooperation agreement"))
    errors = _check(session, name, effective_from, commission_percent, shares)
    errors.update(_check_kinds(commission_kinds, whole_kinds))
    terms_days = _terms_days(settlement_terms_days)
    if terms_days is None:
        errors["settlement_terms_days"] = [
            Text(
                N_("Settlement terms are whole days after the month's end, 0 to %(most)s."),
                most=MAX_TERMS_DAYS,
            )
        ]
    if errors:
        first = next(iter(errors.values()))[0]
        raise AgreementError(
            N_("the agreement version was not recorded: %(first)s"), errors, first=first
        )
    parties = {p.code: p for p in session.execute(select(Party)).scalars()}
    segments = {s.code: s for s in all_segments(session)}
    version = AgreementVersion(
        name=name.strip(),
        effective_from=effective_from,
        commission_percent=_percent(commission_percent),
        commission_kinds=kinds_text(list(commission_kinds)),
        whole_kinds=kinds_text(list(whole_kinds)),
        settlement_terms_days=terms_days,
        created_at=now,
        created_by=actor.label,
    )
    for segment_code, owners in shares.items():
        for party_code, percent in owners.items():
            version.shares.append(
                AgreementShare(
                    segment_id=segments[segment_code].id,
                    party_id=parties[party_code].id,
                    share_percent=_percent(percent),
                )
            )
    session.add(version)
    session.flush()
    record(
        session,
        actor=actor.label,
        action="agreement.add_version",
        entity_type="agreement_version",
        entity_id=version.id,
        now=now,
        after={
            "name": version.name,
            "effective_from": effective_from.isoformat(),
            "commission_percent": str(version.commission_percent),
            "commission_kinds": version.commission_kinds,
            "whole_kinds": version.whole_kinds,
            "settlement_terms_days": version.settlement_terms_days,
            "shares": {
                seg: {party: str(_percent(p)) for party, p in owners.items()}
                for seg, owners in shares.items()
            },
        },
    )
    return version


def _check(
    session: Session,
    name: str,
    effective_from: date,
    commission_percent: object,
    shares: Mapping[str, Mapping[str, object]],
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [N_("Name the version (for example 'Agreement 2027').")]
    elif len(name.strip()) > 200:
        errors["name"] = [N_("At most 200 characters.")]
    if _percent(commission_percent) is None:
        errors["commission_percent"] = [
            N_("The commission is a percentage from 0 to 100, with at most 4 decimals.")
        ]
    used = session.execute(
        select(AgreementVersion.id).where(AgreementVersion.effective_from == effective_from)
    ).first()
    if used is not None:
        errors["effective_from"] = [
            Text(
                N_(
                    "A version already takes effect on %(day)s: "
                    "versions follow one another, each from its own date."
                ),
                day=effective_from.isoformat(),
            )
        ]
    party_codes = set(session.execute(select(Party.code)).scalars())
    segment_codes = [s.code for s in all_segments(session)]
    for code in shares:
        if code not in segment_codes:
            errors[f"shares.{code}"] = [
                Text(N_("The cable system has no segment %(code)s."), code=code)
            ]
    for code in segment_codes:
        owners = shares.get(code) or {}
        field = f"shares.{code}"
        if not owners:
            errors[field] = [Text(N_("Segment %(code)s needs its owners' shares."), code=code)]
            continue
        unknown = sorted(set(owners) - party_codes)
        if unknown:
            errors[field] = [
                Text(N_("Not a party to the agreement: %(parties)s."), parties=", ".join(unknown))
            ]
            continue
        percents = [_percent(p) for p in owners.values()]
        if any(p is None for p in percents):
            errors[field] = [
                N_("Each share is a percentage from 0 to 100, with at most 4 decimals.")
            ]
            continue
        total = sum((p for p in percents if p is not None), Decimal(0))
        if total != HUNDRED:
            errors[field] = [
                Text(
                    N_("The shares of segment %(code)s add up to %(total)s%%, not 100%%."),
                    code=code,
                    total=str(total),
                )
            ]
    return errors


def _check_kinds(commission: Sequence[str], whole: Sequence[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field, kinds in (("commission_kinds", commission), ("whole_kinds", whole)):
        unknown = sorted(set(kinds) - set(CHARGE_KINDS))
        if unknown:
            errors[field] = [Text(N_("Unknown charge kinds: %(kinds)s."), kinds=", ".join(unknown))]
    both = sorted(set(commission) & set(whole))
    if both and not errors:
        errors["whole_kinds"] = [
            Text(
                N_("A kind kept whole by the seller carries no commission: %(kinds)s."),
                kinds=", ".join(both),
            )
        ]
    return errors
