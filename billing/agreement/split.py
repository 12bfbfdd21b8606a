"""The revenue split of one invoice line (SPEC 5): pure arithmetic on Money, no session.

The seller's commission comes off the top (for the kinds that carry it), the rest is apportioned
to the path's segments by length in km, and each segment's part to its owners by their shares;
kinds kept whole go entirely to the seller. The exact parts are then allocated once, by largest
remainder with ties to the party listed first, so they add up to the line in minor units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.money import Money, allocate

# SLA credits (SPEC 7) are split like the charge they credit: a lease's MRC, an IRU's O&M.
CREDITED_KIND = {"sla_credit": "mrc", "sla_om_credit": "om"}


@dataclass(frozen=True, slots=True)
class PathSegment:
    segment_id: int
    code: str
    length_km: Decimal


@dataclass(frozen=True, slots=True)
class Terms:
    """One agreement version as values. `parties` in the agreement's listing order (ties go to
    the first); `shares[segment_id][party_id]` in percent."""

    parties: tuple[int, ...]
    commission_percent: Decimal
    commission_kinds: frozenset[str]
    whole_kinds: frozenset[str]
    shares: Mapping[int, Mapping[int, Decimal]]


@dataclass(frozen=True, slots=True)
class LineSplit:
    parts: dict[int, Money]  # party id -> its part, in the terms' party order
    exact: dict[int, Decimal]  # party id -> its exact (unrounded) part
    weights: dict[str, Decimal]  # segment code -> its km share of the line (empty: kept whole)


def exact_parts(
    amount: Money, kind: str, seller_id: int, path: Sequence[PathSegment], terms: Terms
) -> tuple[dict[int, Decimal], dict[str, Decimal]]:
    """Each party's exact part of `amount`, and the segment weights used. An SLA credit is
    split like the charge it credits."""
    kind = CREDITED_KIND.get(kind, kind)
    exact = {party: Decimal(0) for party in terms.parties}
    if seller_id not in exact:
        raise ValueError("the seller is not a party to the agreement")
    if kind in terms.whole_kinds:
        exact[seller_id] = amount.amount
        return exact, {}
    if not path:
        raise ValueError("a split needs the line's path")
    commission = Decimal(0)
    if kind in terms.commission_kinds:
        commission = amount.amount * terms.commission_percent / 100
    exact[seller_id] += commission
    rest = amount.amount - commission
    total_km = sum((s.length_km for s in path), Decimal(0))
    weights = {}
    for segment in path:
        weight = segment.length_km / total_km
        weights[segment.code] = weight
        owners = terms.shares.get(segment.segment_id)
        if not owners:
            raise ValueError(f"the agreement has no shares for segment {segment.code}")
        for party, share in owners.items():
            exact[party] += rest * segment.length_km * share / (total_km * 100)
    return exact, weights


def split_line(
    amount: Money, kind: str, seller_id: int, path: Sequence[PathSegment], terms: Terms
) -> LineSplit:
    """Each party's part of a line (negative for a credit), adding up exactly to `amount`."""
    exact, weights = exact_parts(amount, kind, seller_id, path, terms)
    return LineSplit(_allocate(amount, exact), exact, weights)


def mirror_split(amount: Money, original: Mapping[int, Money]) -> dict[int, Money]:
    """A credit's parts, in proportion to the parts of the line it reverses."""
    exact = {party: part.amount for party, part in original.items()}
    return _allocate(amount, exact)


def _allocate(amount: Money, exact: Mapping[int, Decimal]) -> dict[int, Money]:
    parties = list(exact)
    weights = [abs(exact[p]) for p in parties]
    if amount.minor == 0 or not any(weights):
        return {p: Money.zero(amount.currency) for p in parties}
    return dict(zip(parties, allocate(amount, weights), strict=True))


@dataclass(frozen=True, slots=True)
class SegmentPart:
    """One segment's part of a line: its km weight, its exact part, each owner's exact part."""

    code: str
    length_km: Decimal
    weight: Decimal  # length_km / the path's total km
    amount: Decimal  # exact: (line - commission) x weight
    parties: dict[int, Decimal]  # party id -> its exact part of this segment


@dataclass(frozen=True, slots=True)
class SplitExplanation:
    """How a line's parts come about, so that the other party can recompute them: the
    seller's commission, then each segment's part and each owner's part of it (all exact);
    the stored parts are these exact amounts allocated by largest remainder."""

    seller_id: int
    commission: Decimal
    segments: tuple[SegmentPart, ...]
    kept_whole: bool


def explain_split(
    amount: Money, kind: str, seller_id: int, path: Sequence[PathSegment], terms: Terms
) -> SplitExplanation:
    """The steps of `split_line` for one line, with the same arithmetic."""
    if kind in terms.whole_kinds or not path:
        return SplitExplanation(seller_id, Decimal(0), (), kept_whole=True)
    commission = Decimal(0)
    if kind in terms.commission_kinds:
        commission = amount.amount * terms.commission_percent / 100
    rest = amount.amount - commission
    total_km = sum((s.length_km for s in path), Decimal(0))
    segments = []
    for segment in path:
        owners = terms.shares.get(segment.segment_id) or {}
        segments.append(
            SegmentPart(
                code=segment.code,
                length_km=segment.length_km,
                weight=segment.length_km / total_km,
                amount=rest * segment.length_km / total_km,
                parties={
                    party: rest * segment.length_km * share / (total_km * 100)
                    for party, share in owners.items()
                },
            )
        )
    return SplitExplanation(seller_id, commission, tuple(segments), kept_whole=False)
