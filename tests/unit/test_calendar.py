"""The business calendar (SPEC 3): each party's today, months, billing periods and due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from billing.calendar import (
    Period,
    UnknownTimeZoneError,
    add_months,
    billing_period,
    days_in_month,
    due_date,
    first_of_month,
    last_of_month,
    local_date,
    today,
)
from billing.clock import FrozenClock
from billing.parties.models import Party

EVENING = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)


def test_at_21_30_utc_on_30_november_it_is_already_1_december_in_baku_and_almaty() -> None:
    clock = FrozenClock(EVENING)
    assert today(clock, "Asia/Baku") == date(2026, 12, 1)  # UTC+4: 01:30
    assert today(clock, "Asia/Almaty") == date(2026, 12, 1)  # UTC+5: 02:30
    assert today(clock, "UTC") == date(2026, 11, 30)


def test_today_follows_the_clock_it_is_given() -> None:
    clock = FrozenClock(datetime(2026, 11, 30, 19, 59, tzinfo=UTC))
    assert today(clock, "Asia/Baku") == date(2026, 11, 30)  # 23:59 in Baku
    clock.set(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    assert today(clock, "Asia/Baku") == date(2026, 12, 1)  # midnight in Baku


def test_zones_come_from_the_tz_database_with_their_history() -> None:
    # Kazakhstan moved Almaty from UTC+6 to UTC+5 on 1 March 2024: 18:30 UTC was past midnight
    # before and is before midnight since. A fixed offset would get one of them wrong.
    assert local_date(datetime(2024, 1, 15, 18, 30, tzinfo=UTC), "Asia/Almaty") == date(2024, 1, 16)
    assert local_date(datetime(2024, 6, 15, 18, 30, tzinfo=UTC), "Asia/Almaty") == date(2024, 6, 15)


def test_unknown_zones_and_naive_instants_are_refused() -> None:
    for name in ("Asia/Atlantis", "", "../etc/passwd", "asia/baku"):
        with pytest.raises(UnknownTimeZoneError):
            local_date(EVENING, name)
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2026, 11, 30, 21, 30), "Asia/Baku")


def test_a_party_refuses_a_time_zone_the_tz_database_does_not_know() -> None:
    assert Party(code="AZT", time_zone="Asia/Baku").time_zone == "Asia/Baku"
    with pytest.raises(UnknownTimeZoneError):
        Party(code="XXX", time_zone="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("day", "days", "first", "last"),
    [
        (date(2028, 2, 14), 29, date(2028, 2, 1), date(2028, 2, 29)),  # leap year
        (date(2026, 2, 14), 28, date(2026, 2, 1), date(2026, 2, 28)),
        (date(2100, 2, 1), 28, date(2100, 2, 1), date(2100, 2, 28)),  # not a leap year
        (date(2000, 2, 29), 29, date(2000, 2, 1), date(2000, 2, 29)),  # but 2000 was
        (date(2026, 12, 31), 31, date(2026, 12, 1), date(2026, 12, 31)),
        (date(2026, 4, 30), 30, date(2026, 4, 1), date(2026, 4, 30)),
    ],
)
def test_month_boundaries(day: date, days: int, first: date, last: date) -> None:
    assert days_in_month(day) == days
    assert first_of_month(day) == first
    assert last_of_month(day) == last


def test_the_billing_period_of_a_date_is_its_calendar_month() -> None:
    period = billing_period(date(2028, 2, 29))
    assert period == Period(date(2028, 2, 1), date(2028, 2, 29))
    assert period.days == 29
    assert date(2028, 2, 1) in period and date(2028, 3, 1) not in period
    assert billing_period(date(2026, 12, 1)) == Period(date(2026, 12, 1), date(2026, 12, 31))
    with pytest.raises(ValueError):
        Period(date(2026, 12, 2), date(2026, 12, 1))


@pytest.mark.parametrize(
    ("issued", "terms", "due"),
    [
        (date(2026, 12, 1), 30, date(2026, 12, 31)),
        (date(2026, 12, 15), 30, date(2027, 1, 14)),  # across the year end
        (date(2028, 2, 1), 30, date(2028, 3, 2)),  # a leap February has 29 days
        (date(2026, 2, 1), 30, date(2026, 3, 3)),
        (date(2026, 12, 1), 0, date(2026, 12, 1)),  # due on receipt
    ],
)
def test_due_date_is_the_issue_date_plus_the_payment_terms(
    issued: date, terms: int, due: date
) -> None:
    assert due_date(issued, terms) == due


def test_negative_payment_terms_are_refused() -> None:
    with pytest.raises(ValueError):
        due_date(date(2026, 12, 1), -1)


def test_add_months_keeps_the_day_or_takes_the_last_day_of_a_shorter_month() -> None:
    assert add_months(date(2026, 11, 17), 2) == date(2027, 1, 17)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert add_months(date(2026, 12, 5), -12) == date(2025, 12, 5)
