"""Availability arithmetic (SPEC 7), pure: intervals of UTC instants, merged, intersected and
cut to a service's active minutes of its issuer's local month.

- A segment's outage records are merged first: overlapping or touching records never count
  twice.
- A path (one route) is down while any of its segments is down: the union of their outages.
- An unprotected service is down while its path is; a protected one only while every one of
  its routes is down at once: the intersection of the routes' down times.
- The month is the issuer's: from local midnight on the 1st to local midnight on the 1st of the
  next month, in UTC. Only the service's active days count: from local midnight of its
  ready-for-service day to the end of its termination day, and, for the month still running,
  up to now.
- Outage times are whole minutes (billing.sla.outages makes them so), so minutes are exact.
- Availability is a percentage kept exact (a Decimal of 28 digits); it is shown truncated to two
  decimals (99.4996 % never reads 99.50 %), and the credit tier is decided on the exact figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from billing.calendar import Period, zone

Interval = tuple[datetime, datetime]
HUNDRED = Decimal(100)


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The same instants as `intervals`, as sorted disjoint intervals (touching ones joined)."""
    result: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def intersected(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The instants in both (each given merged)."""
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if end > start:
            result.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def clipped(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    low, high = window
    return merged((max(s, low), min(e, high)) for s, e in intervals if e > low and s < high)


def minutes(intervals: Iterable[Interval]) -> int:
    """Whole minutes in `intervals` (given merged); a part of a minute is not counted."""
    return int(sum((e - s for s, e in intervals), timedelta()) // timedelta(minutes=1))


def path_down(segments: Iterable[Iterable[Interval]]) -> list[Interval]:
    """A route is down while any of its segments is: the union of their outages."""
    return merged(interval for segment in segments for interval in segment)


def service_down(
    routes: Sequence[Sequence[Iterable[Interval]]], *, protected: bool
) -> list[Interval]:
    """An unprotected service is down while its route is; a protected one while all of its
    routes are down at once."""
    downs = [path_down(route) for route in routes]
    if not downs:
        return []
    if not protected:
        return merged(i for down in downs for i in down)
    result = downs[0]
    for down in downs[1:]:
        result = intersected(result, down)
    return result


def local_midnight(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time(0), zone(time_zone))


def active_window(
    period: Period,
    time_zone: str,
    *,
    ready_for_service: date | None,
    end_date: date | None,
    now: datetime,
) -> Interval | None:
    """The service's active instants of the issuer's local month `period`, up to `now`: None
    when it was not active in it at all (or the month has not begun)."""
    if ready_for_service is None:
        return None
    first = max(period.start, ready_for_service)
    last = period.end if end_date is None else min(period.end, end_date)
    if last < first:
        return None
    start = local_midnight(first, time_zone)
    end = min(local_midnight(last + timedelta(days=1), time_zone), now)
    return (start, end) if end > start else None


@dataclass(frozen=True, slots=True)
class Tier:
    below_percent: Decimal
    credit_percent: Decimal


def credit_percent(availability: Decimal, tiers: Iterable[Tier]) -> Decimal | None:
    """The largest credit of the tiers the exact availability is below, or None."""
    earned = [t.credit_percent for t in tiers if availability < t.below_percent]
    return max(earned) if earned else None


def availability_percent(active_minutes: int, down_minutes: int) -> Decimal:
    """100 × (1 − down / active), exact to 28 digits; 100 for a month with no active minute."""
    if active_minutes <= 0:
        return HUNDRED
    return (HUNDRED * (active_minutes - down_minutes)) / active_minutes


def shown(availability: Decimal, places: int = 2) -> Decimal:
    """Truncated, never rounded up: 99.4996 is shown 99.49."""
    return availability.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
