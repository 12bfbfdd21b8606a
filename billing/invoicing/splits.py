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
from billing.agreement.split import PathSegment, mirror_split, split_line
from billing.inventory.models import Allocation, FiberPair, Segment
from billing.invoicing.models import Invoice, InvoiceLine
from billing.money import Money
from billing.parties.models import Party
from billing.sales.models import Service

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
