"""The revenue-recognition report (SPEC 5): per party, a month's billed, recognised and deferred
revenue in USD, and the deferred balance of every IRU. The rules are in recognition.py; each
party's part of a line is its stored split, in USD as the settlement converts it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.agreement.queries import parties_in_order
from billing.calendar import Period
from billing.csvfile import csv_writer
from billing.invoicing.runs import parse_period
from billing.money import Money, total
from billing.parties.models import Party
from billing.sales.models import Service
from billing.settlement.queries import IssuedLine, customer_name, issued_lines
from billing.settlement.recognition import (
    TERM_KINDS,
    recognise_parts,
    recognised_parts_to,
    recognition_span,
    term_of,
)
from billing.settlement.rules import USD, LineValue, line_in_usd, other_party


def _zero() -> Money:
    return Money.zero(USD)


@dataclass(slots=True)
class PartyRevenue:
    party: Party
    billed: Money = field(default_factory=_zero)
    recognised: Money = field(default_factory=_zero)
    deferred: Money = field(default_factory=_zero)


@dataclass(slots=True)
class IruBalance:
    circuit_id: str
    customer: str
    term: Period
    billed: Money = field(default_factory=_zero)  # issued to the month's end
    recognised: Money = field(default_factory=_zero)  # recognised to the month's end
    by_party: dict[str, Money] = field(default_factory=dict)  # party code -> deferred

    @property
    def deferred(self) -> Money:
        return self.billed - self.recognised


@dataclass(frozen=True, slots=True)
class RevenueReport:
    period: Period
    parties: list[PartyRevenue]
    irus: list[IruBalance]


def _usd_parts(item: IssuedLine, parties: Sequence[int]) -> dict[int, Money]:
    issuer = item.invoice.issuer_party_id
    other = other_party(parties, issuer)
    value = LineValue(item.invoice.id, issuer, item.amount, item.parts(), item.usd_rate)
    usd = line_in_usd(value, other)
    return {issuer: usd.issuer_share, other: usd.other_share}


def _terms(session: Session, lines: Sequence[IssuedLine]) -> dict[int, Period]:
    ids = {i.line.service_id for i in lines if i.line.charge_kind in TERM_KINDS}
    ids.discard(None)
    if not ids:
        return {}
    services = session.execute(select(Service).where(Service.id.in_(ids))).scalars()
    return {
        s.id: term_of(s.ready_for_service_date, s.term_months)
        for s in services
        if s.ready_for_service_date is not None
    }


def revenue_report(session: Session, period: str | Period) -> RevenueReport:
    month = parse_period(period) if isinstance(period, str) else period
    parties = parties_in_order(session)
    ids = [p.id for p in parties]
    lines = issued_lines(session, date.min, month.end)
    terms = _terms(session, lines)
    revenue = {p.id: PartyRevenue(p) for p in parties}
    codes = {p.id: p.code for p in parties}
    irus: dict[int, IruBalance] = {}
    for item in lines:
        line = item.line
        kind = line.charge_kind or ""
        term = terms.get(line.service_id or 0) if kind in TERM_KINDS else None
        if kind in TERM_KINDS and term is None:
            continue  # an IRU fee billed before ready-for-service has no term yet: all deferred
        span = recognition_span(kind, Period(line.period_start, line.period_end), term)
        issued_on = item.invoice.issue_date or month.end
        parts = _usd_parts(item, ids)
        line_usd = total(parts.values(), USD)
        counted = recognise_parts(line_usd, parts, span, issued_on, month)
        to_end = recognised_parts_to(line_usd, parts, span, month.end)
        for party_id, part in parts.items():
            figures = revenue[party_id]
            figures.billed += counted[party_id].billed
            figures.recognised += counted[party_id].recognised
            figures.deferred += counted[party_id].deferred
            if term is not None and line.service_id is not None:
                balance = irus.setdefault(
                    line.service_id,
                    IruBalance(line.circuit_id, customer_name(item.invoice), term),
                )
                balance.billed += part
                balance.recognised += to_end[party_id]
                code = codes[party_id]
                balance.by_party[code] = (
                    balance.by_party.get(code, _zero()) + counted[party_id].deferred
                )
    return RevenueReport(
        month, list(revenue.values()), sorted(irus.values(), key=lambda b: b.circuit_id)
    )


def revenue_csv(report: RevenueReport) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(
        ("section", "month", "party", "circuit", "customer", "term_start", "term_end",
         "billed_usd", "recognised_usd", "deferred_usd")
    )  # fmt: skip
    month = f"{report.period.start:%Y-%m}"
    for p in report.parties:
        writer.writerow(
            ("party", month, p.party.code, "", "", "", "", p.billed.amount, p.recognised.amount,
             p.deferred.amount)
        )  # fmt: skip
    for iru in report.irus:
        writer.writerow(
            ("iru", month, "", iru.circuit_id, iru.customer, iru.term.start.isoformat(),
             iru.term.end.isoformat(), iru.billed.amount, iru.recognised.amount,
             iru.deferred.amount)
        )  # fmt: skip
    return out.getvalue()


def billed_by_party(session: Session, period: Period) -> list[tuple[Party, Money]]:
    """Each party's share of what was issued in `period`, in USD (the dashboard's chart)."""
    parties = parties_in_order(session)
    if len(parties) != 2:
        return []
    ids = [p.id for p in parties]
    totals = {p.id: _zero() for p in parties}
    for item in issued_lines(session, period.start, period.end):
        for party_id, part in _usd_parts(item, ids).items():
            totals[party_id] += part
    return [(p, totals[p.id]) for p in parties]
