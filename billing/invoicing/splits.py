"""Storing SPEC 5's revenue split on invoice lines at issue; the arithmetic is agreement's.

The version applied is the one in effect on the line's period start (a one-time charge's period
starts on its charge date). A line's path is the spectrum its service occupies: one allocation
per segment of each path it rides, so a protected service has both segments.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.agreement.models import AgreementVersion
from billing.agreement.queries import parties_in_order, terms_of, version_on
from billing.agreement.split import (
    PathSegment,
    SplitExplanation,
    Terms,
    explain_split,
    mirror_split,
    split_line,
)
from billing.inventory.models import Allocation, FiberPair, Segment
from billing.invoicing.models import Invoice, InvoiceLine
from billing.money import Money
from billing.parties.models import Party
from billing.sales.models import Service
from billing.text import decimal_text

WEIGHT_PLACES = Decimal("1E-12")


def service_paths(session: Session, service_ids: Sequence[int]) -> dict[int, list[PathSegment]]:
    """The segments each service's spectrum rides, by code, in one query."""
    stmt = (
        select(Service.id, Segment.id, Segment.code, Segment.length_km)
        .join(FiberPair, FiberPair.segment_id == Segment.id)
        .join(Allocation, Allocation.fiber_pair_id == FiberPair.id)
        .join(Service, Service.reservation_id == Allocation.reservation_id)
        .where(Service.id.in_(set(service_ids)))
        .distinct()
        .order_by(Service.id, Segment.code)
    )
    paths: dict[int, list[PathSegment]] = {}
    for service_id, segment_id, code, km in session.execute(stmt):
        paths.setdefault(service_id, []).append(PathSegment(segment_id, code, km))
    return paths


def store_splits(session: Session, invoice: Invoice) -> None:
    """Compute and store the split of every line of an invoice being issued (amounts set)."""
    parties = _two_parties(session)
    versions: dict[date, AgreementVersion] = {}
    paths = service_paths(
        session, [line.service_id for line in invoice.lines if line.service_id is not None]
    )
    for line in invoice.lines:
        if line.amount is None:
            continue
        day = line.period_start
        if day not in versions:
            versions[day] = version_on(session, day)
        version = versions[day]
        path = paths.get(line.service_id, []) if line.service_id is not None else []
        terms = terms_of(version, parties)
        amount = Money(line.amount, invoice.currency)
        kind = line.charge_kind or ""
        if path or kind in terms.whole_kinds:
            split = split_line(amount, kind, invoice.issuer_party_id, path, terms)
            parts, weights = split.parts, split.weights
        else:
            # A line with no spectrum behind it (no run bills one today) stays the seller's.
            zero = Money.zero(invoice.currency)
            parts = {p: amount if p == invoice.issuer_party_id else zero for p in terms.parties}
            weights = {}
        _store(line, version.id, parties, parts, weights)
    session.flush()


def store_mirror(line: InvoiceLine, original: InvoiceLine, currency: str) -> None:
    """A credit line's split: its (negative) amount in proportion to the credited line's parts."""
    if (
        line.amount is None
        or original.split_version_id is None
        or original.first_party_id is None
        or original.second_party_id is None
    ):
        return
    first, second = original.first_party_id, original.second_party_id
    parts = mirror_split(
        Money(line.amount, currency),
        {
            first: Money(original.first_party_amount or Decimal(0), currency),
            second: Money(original.second_party_amount or Decimal(0), currency),
        },
    )
    line.split_version_id = original.split_version_id
    line.first_party_id = first
    line.first_party_amount = parts[first].amount
    line.second_party_id = second
    line.second_party_amount = parts[second].amount
    line.split_weights = original.split_weights


def _two_parties(session: Session) -> list[Party]:
    parties = parties_in_order(session)
    if len(parties) != 2:
        raise ValueError("the stored split is between exactly two parties")
    return parties


def _store(
    line: InvoiceLine,
    version_id: int,
    parties: Sequence[Party],
    parts: dict[int, Money],
    weights: dict[str, Decimal],
) -> None:
    first, second = parties
    line.split_version_id = version_id
    line.first_party_id = first.id
    line.first_party_amount = parts[first.id].amount
    line.second_party_id = second.id
    line.second_party_amount = parts[second.id].amount
    line.split_weights = json.dumps(
        {code: str(w.quantize(WEIGHT_PLACES)) for code, w in weights.items()}, sort_keys=True
    )


def split_totals(invoice: Invoice) -> list[tuple[Party, Money]]:
    """Each party's total share of an issued document's lines (empty while nothing is split)."""
    totals: dict[int, tuple[Party, Money]] = {}
    for line in invoice.lines:
        for who, part in (
            (line.first_party, line.first_party_amount),
            (line.second_party, line.second_party_amount),
        ):
            if who is None or part is None:
                continue
            _, so_far = totals.get(who.id, (who, Money.zero(invoice.currency)))
            totals[who.id] = (who, so_far + Money(part, invoice.currency))
    return sorted(totals.values(), key=lambda t: (t[0].listing_order, t[0].id))


def explain_lines(
    session: Session, lines: Sequence[tuple[InvoiceLine, int]]
) -> dict[int, SplitExplanation]:
    """How each split line's parts come about (line id -> steps), from what was stored at issue:
    the agreement version, the seller (`lines` pairs each line with its issuer's id) and the
    path its service rides. A credit line is explained on its own amount under the credited
    line's version; its stored parts mirror that line's parts. Lines not split are left out."""
    parties = parties_in_order(session)
    if len(parties) != 2:
        return {}
    service_ids = [line.service_id for line, _ in lines if line.service_id is not None]
    paths = service_paths(session, service_ids) if service_ids else {}
    terms: dict[int, Terms] = {}
    explained = {}
    for line, seller_id in lines:
        version = line.split_version
        if version is None or line.amount is None:
            continue
        if version.id not in terms:
            terms[version.id] = terms_of(version, parties)
        path = paths.get(line.service_id, []) if line.service_id is not None else []
        explained[line.id] = explain_split(
            Money(line.amount, line.invoice.currency),
            line.charge_kind or "",
            seller_id,
            path,
            terms[version.id],
        )
    return explained


EXACT_PLACES = Decimal("1E-6")


def _exact(value: Decimal) -> str:
    return decimal_text(value.quantize(EXACT_PLACES))


def explanation_cells(explained: SplitExplanation | None, codes: dict[int, str]) -> dict[str, str]:
    """A line's split steps as text cells (the statement CSV, the invoice page): its path, each
    segment's km and weight, the commission, each segment's exact part and each party's exact
    part of it (to 6 places; the stored parts allocate the exact ones by largest remainder)."""
    if explained is None:
        return dict.fromkeys(EXPLANATION_COLUMNS, "")
    if explained.kept_whole:
        whole = f"kept whole by {codes.get(explained.seller_id, '?')}"
        return {**dict.fromkeys(EXPLANATION_COLUMNS, ""), "path": whole}
    segments = explained.segments
    return {
        "path": "+".join(s.code for s in segments),
        "segment_km": ";".join(f"{s.code}={decimal_text(s.length_km)}" for s in segments),
        "segment_weight": ";".join(
            f"{s.code}={decimal_text(s.weight.quantize(WEIGHT_PLACES))}" for s in segments
        ),
        "commission": f"{codes.get(explained.seller_id, '?')}={_exact(explained.commission)}",
        "segment_parts": ";".join(f"{s.code}={_exact(s.amount)}" for s in segments),
        "segment_party_parts": ";".join(
            f"{s.code}:"
            + ",".join(f"{codes.get(p, '?')}={_exact(part)}" for p, part in s.parties.items())
            for s in segments
        ),
    }


EXPLANATION_COLUMNS = (
    "path",
    "segment_km",
    "segment_weight",
    "commission",
    "segment_parts",
    "segment_party_parts",
)


def split_steps(session: Session, invoice: Invoice) -> dict[int, dict[str, str]]:
    """Each split line's steps as text (line id -> explanation_cells), for the invoice page."""
    if invoice.is_draft:
        return {}
    parties = parties_in_order(session)
    codes = {p.id: p.code for p in parties}
    explained = explain_lines(session, [(line, invoice.issuer_party_id) for line in invoice.lines])
    return {line_id: explanation_cells(steps, codes) for line_id, steps in explained.items()}
