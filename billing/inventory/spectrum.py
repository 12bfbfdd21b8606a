"""Spectrum arithmetic on slot ranges: free ranges, fits. Pure functions, no database."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

SlotRange = tuple[int, int]  # half-open [first, end)


@dataclass(frozen=True)
class PairKey:
    segment_id: int
    number: int


@dataclass(frozen=True)
class PathFit:
    """One path's share of a fit: the same slots on the same-numbered pair of every segment."""

    route_code: str
    fiber_pair_number: int
    first_slot: int
    end_slot: int


def free_ranges(slot_count: int, taken: Iterable[SlotRange]) -> list[SlotRange]:
    ranges: list[SlotRange] = []
    cursor = 0
    for first, end in sorted(taken):
        if first > cursor:
            ranges.append((cursor, first))
        cursor = max(cursor, end)
    if cursor < slot_count:
        ranges.append((cursor, slot_count))
    return ranges


def is_free(taken: Iterable[SlotRange], first: int, end: int) -> bool:
    """The rule itself, by scanning: `Occupancy` answers the same question by bisection."""
    return all(end <= a or b <= first for a, b in taken)


class Occupancy:
    """Taken ranges of one pair, indexed so that 'is [first, end) free?' costs a bisection."""

    __slots__ = ("_starts", "_max_end")

    def __init__(self, taken: Iterable[SlotRange]) -> None:
        ordered = sorted(taken)
        self._starts = [a for a, _ in ordered]
        self._max_end = list(accumulate((b for _, b in ordered), max))

    def is_free(self, first: int, end: int) -> bool:
        # Only ranges starting before `end` can overlap; none does if the furthest of their
        # ends is at or before `first`.
        i = bisect_left(self._starts, end)
        return i == 0 or self._max_end[i - 1] <= first


def fit_on_path(
    route_code: str,
    segment_ids: Sequence[int],
    pair_numbers: Sequence[int],
    slot_count: Mapping[PairKey, int],
    taken: Mapping[PairKey, list[SlotRange]],
    width: int,
    *,
    pair: int | None = None,
    first_slot: int | None = None,
) -> PathFit | None:
    """First fit, fiber pair first (fill pair 1 before lighting pair 2), then lowest slot.

    Spectral continuity: a wavelength keeps its slots on every segment of a path.
    """
    for number in pair_numbers:
        if pair is not None and number != pair:
            continue
        keys = [PairKey(seg, number) for seg in segment_ids]
        if any(k not in slot_count for k in keys):
            continue
        limit = min(slot_count[k] for k in keys)
        indexed = [Occupancy(taken.get(k, [])) for k in keys]
        starts: Iterable[int] = (
            [first_slot] if first_slot is not None else _candidate_starts(keys, taken, limit)
        )
        for start in starts:
            if start < 0 or start + width > limit:
                continue
            if all(o.is_free(start, start + width) for o in indexed):
                return PathFit(route_code, number, start, start + width)
    return None


def _candidate_starts(
    keys: Sequence[PairKey], taken: Mapping[PairKey, list[SlotRange]], limit: int
) -> list[int]:
    # A first fit starts at 0 or right after some taken range; no other start can be lower.
    starts = {0}
    for k in keys:
        starts.update(end for _, end in taken.get(k, []) if end < limit)
    return sorted(starts)
