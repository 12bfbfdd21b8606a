"""When a schedule is due (SPEC 12): a pure rule on values, no session.

A schedule has slots: daily at a local time, or monthly on a day (1-28) at a local time, in a time
zone. At an instant T the latest slot is the last one at or before T. A slot is due when it is
later than the slot last run: a dispatcher that was down for a while runs the missed slot once
when it comes back (several missed slots collapse into the latest), and never twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from billing.calendar import Period, add_months, billing_period, local_date, zone


@dataclass(frozen=True, slots=True)
class Timing:
    """When slots fall: `local_time` every day, or on `day_of_month` only, in `time_zone`."""

    time_zone: str
    local_time: time
    day_of_month: int | None = None

    def __post_init__(self) -> None:
        zone(self.time_zone)
        if self.day_of_month is not None and not 1 <= self.day_of_month <= 28:
            raise ValueError("a monthly slot falls on a day from 1 to 28")


def _instant(day: date, timing: Timing) -> datetime:
    return datetime.combine(day, timing.local_time, tzinfo=zone(timing.time_zone)).astimezone(UTC)


def latest_slot(at: datetime, timing: Timing) -> datetime:
    """The last slot at or before the instant `at` (UTC)."""
    day = local_date(at, timing.time_zone)
    if timing.day_of_month is not None:
        day = day.replace(day=timing.day_of_month)
    slot = _instant(day, timing)
    if slot <= at:
        return slot
    if timing.day_of_month is None:
        return _instant(day - timedelta(days=1), timing)
    return _instant(add_months(day, -1), timing)


def next_slot(at: datetime, timing: Timing) -> datetime:
    """The first slot strictly after the instant `at` (UTC)."""
    day = local_date(latest_slot(at, timing), timing.time_zone)
    if timing.day_of_month is None:
        return _instant(day + timedelta(days=1), timing)
    return _instant(add_months(day, 1), timing)


def due_slot(at: datetime, timing: Timing, last_slot: datetime | None) -> datetime | None:
    """The slot to run at `at`, or None: the latest slot, unless it (or a later one) has run."""
    slot = latest_slot(at, timing)
    if last_slot is not None and slot <= last_slot:
        return None
    return slot


def month_closed_by(slot: datetime, time_zone: str) -> Period:
    """The month a month-end slot bills: the one before the slot's local date (the month that
    has just closed in the issuer's calendar)."""
    return billing_period(add_months(local_date(slot, time_zone).replace(day=1), -1))
