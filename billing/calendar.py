"""The business calendar (SPEC 3): each party's "today", months, billing periods and due dates.

A business date is the issuing party's local date in its own time zone (tz database), read from
the injected clock. Pure functions on values: no session, no Flask.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from billing.clock import Clock


class UnknownTimeZoneError(ValueError):
    pass


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def zone(name: str) -> ZoneInfo:
    """The tz database zone called `name` (e.g. ``Asia/Baku``); refuses names it does not know."""
    if name not in _known_zones():
        raise UnknownTimeZoneError(f"{name!r} is not a time zone of the tz database")
    return ZoneInfo(name)


def is_time_zone(name: str) -> bool:
    return name in _known_zones()


def local_date(at: datetime, time_zone: str) -> date:
    """The calendar day it is at the instant `at` where `time_zone` keeps its clocks."""
    if at.tzinfo is None:
        raise ValueError("a business date needs an aware instant")
    return at.astimezone(zone(time_zone)).date()


def today(clock: Clock, time_zone: str) -> date:
    return local_date(clock.now(), time_zone)


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def last_of_month(day: date) -> date:
    return day.replace(day=days_in_month(day))


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier if negative), or the month's last day if it is shorter.

    31 January + 1 month is 28 (or 29) February. Count each step from the same starting day:
    chaining steps would drift (31 Jan → 28 Feb → 28 Mar).
    """
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Period:
    """A run of calendar days, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after its start")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def billing_period(day: date) -> Period:
    """The calendar month that `day` is billed in (SPEC 4: billed monthly)."""
    return Period(first_of_month(day), last_of_month(day))


def due_date(issue_date: date, payment_terms_days: int) -> date:
    """The last day to pay: the issue date plus the customer's payment terms in days."""
    if payment_terms_days < 0:
        raise ValueError("payment terms are zero days or more")
    return issue_date + timedelta(days=payment_terms_days)
