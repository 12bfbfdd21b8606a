"""Storing exchange rates (SPEC 4): a central bank's file, or one rate entered by hand.

Services add and change rows and write the audit log; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.audit import record
from billing.errors import InvalidRequestError
from billing.invoicing.fx import CBAR, NBK, FxFile, FxRate, parse_cbar, parse_nbk
from billing.invoicing.models import RATE_DIGITS, RATE_PLACES, FxRateRecord
from billing.money import minor_unit

MANUAL = "manual"
_PARSERS = {"cbar": (CBAR, parse_cbar), "nbk": (NBK, parse_nbk)}
_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
_LIMIT = Decimal(10) ** (RATE_DIGITS - RATE_PLACES)


@dataclass(frozen=True, slots=True)
class FxImport:
    """What an import did: rates added, rates changed, rates already so, codes left out (why)."""

    source: str
    on: date
    added: int
    changed: int
    unchanged: int
    skipped: tuple[str, ...]


def import_fx_file(
    session: Session, source: str, content: bytes, *, actor: str, now: datetime
) -> FxImport:
    """Store the day's rates of a CBAR or NBK file; a rate already stored for the same day and
    source is updated when the file says otherwise. A malformed file raises FxFileError and
    nothing is stored."""
    if source not in _PARSERS:
        raise InvalidRequestError(
            f"unknown rate source {source!r}", {"source": ["Choose cbar or nbk."]}
        )
    _, parse = _PARSERS[source]
    file: FxFile = parse(content)
    for rate in file.rates:
        _stored_value(rate.base, rate.rate)
    added = changed = unchanged = 0
    for rate in file.rates:
        outcome, _ = _upsert(session, rate, source, actor=actor, now=now)
        added += outcome == "added"
        changed += outcome == "changed"
        unchanged += outcome == "unchanged"
    return FxImport(source, file.on, added, changed, unchanged, file.skipped)


def record_fx_rate(
    session: Session,
    *,
    base: str,
    quote: str,
    rate: Decimal,
    on: date,
    actor: str,
    now: datetime,
) -> FxRateRecord:
    """A rate entered by hand: `rate` units of `quote` per one `base` on `on`. Entering the same
    pair and day again replaces the earlier manual rate."""
    errors: dict[str, list[str]] = {}
    base, quote = base.strip().upper(), quote.strip().upper()
    for field, code in (("base", base), ("quote", quote)):
        try:
            minor_unit(code)
        except ValueError:
            errors[field] = [f"{code or 'An empty code'} is not an ISO 4217 currency."]
    if not errors and base == quote:
        errors["quote"] = ["A rate is between two different currencies."]
    if not (rate.is_finite() and rate > 0):
        errors["rate"] = ["A rate is a positive number."]
    elif _quantised(rate) <= 0:
        errors["rate"] = [
            f"A rate is below {_LIMIT:,} and at least {_QUANTUM} (it is kept to "
            f"{RATE_PLACES} decimal places)."
        ]
    if errors:
        raise InvalidRequestError("the rate is not valid", errors)
    _, row = _upsert(session, FxRate(base, quote, rate, on, MANUAL), MANUAL, actor=actor, now=now)
    return row


def _quantised(rate: Decimal) -> Decimal:
    """`rate` kept to RATE_PLACES decimals; zero when it does not fit the column at all (a
    quantize of a huge value would overflow the decimal context)."""
    if not (rate.is_finite() and 0 < rate < _LIMIT):
        return Decimal(0)
    return rate.quantize(_QUANTUM)


def _stored_value(code: str, rate: Decimal) -> Decimal:
    value = _quantised(rate)
    if value <= 0:
        raise InvalidRequestError(
            f"the rate of {code} does not fit a stored rate (below {_LIMIT:,}, at least "
            f"{_QUANTUM}): {rate}"
        )
    return value


def _find(session: Session, base: str, quote: str, on: date, source: str) -> FxRateRecord | None:
    return session.execute(
        select(FxRateRecord).where(
            FxRateRecord.base == base,
            FxRateRecord.quote == quote,
            FxRateRecord.rate_date == on,
            FxRateRecord.source == source,
        )
    ).scalar_one_or_none()


def _upsert(
    session: Session, rate: FxRate, source: str, *, actor: str, now: datetime
) -> tuple[str, FxRateRecord]:
    value = _stored_value(rate.base, rate.rate)
    row = _find(session, rate.base, rate.quote, rate.on, source)
    if row is None:
        row = FxRateRecord(
            base=rate.base,
            quote=rate.quote,
            rate=value,
            rate_date=rate.on,
            source=source,
            created_at=now,
            created_by=actor,
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor,
            action="fx_rate.add",
            entity_type="fx_rate",
            entity_id=row.id,
            now=now,
            after=_snapshot(row),
        )
        return "added", row
    if row.rate == value:
        return "unchanged", row
    before = _snapshot(row)
    row.rate = value
    row.created_at = now
    row.created_by = actor
    session.flush()
    record(
        session,
        actor=actor,
        action="fx_rate.change",
        entity_type="fx_rate",
        entity_id=row.id,
        now=now,
        before=before,
        after=_snapshot(row),
    )
    return "changed", row


def _snapshot(row: FxRateRecord) -> dict[str, object]:
    return {
        "base": row.base,
        "quote": row.quote,
        "rate": row.rate,
        "rate_date": row.rate_date,
        "source": row.source,
    }
