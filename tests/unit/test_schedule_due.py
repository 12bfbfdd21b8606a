"""When a schedule is due (billing/scheduling/due.py): slots in the issuer's own time zone, a
missed slot runs once when the dispatcher comes back, never twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from billing.calendar import UnknownTimeZoneError
from billing.scheduling.due import Timing, due_slot, latest_slot, month_closed_by, next_slot

BAKU = Timing("Asia/Baku", time(6), day_of_month=1)  # UTC+4, no DST
ALMATY = Timing("Asia/Almaty", time(6), day_of_month=1)  # UTC+5 since 2024-03-01, no DST


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_month_end_on_the_first_at_six_is_a_different_instant_in_baku_and_almaty() -> None:
    assert latest_slot(utc(2026, 12, 1, 3, 0), BAKU) == utc(2026, 12, 1, 2, 0)
    assert latest_slot(utc(2026, 12, 1, 3, 0), ALMATY) == utc(2026, 12, 1, 1, 0)
    # At 01:30 UTC Almaty's 06:00 has come and Baku's (02:00 UTC) has not.
    at = utc(2026, 12, 1, 1, 30)
    assert due_slot(at, ALMATY, last_slot=utc(2026, 11, 1, 1, 0)) == utc(2026, 12, 1, 1, 0)
    assert due_slot(at, BAKU, last_slot=utc(2026, 11, 1, 2, 0)) is None


def test_the_slot_bills_the_month_that_has_just_closed_locally() -> None:
    period = month_closed_by(utc(2026, 12, 1, 2, 0), "Asia/Baku")
    assert (period.start, period.end) == (date(2026, 11, 1), date(2026, 11, 30))
    # 1 January 06:00 in Baku is still 31 December in UTC: the month closed is December.
    january = latest_slot(utc(2027, 1, 1, 2, 0), BAKU)
    assert january == utc(2027, 1, 1, 2, 0)
    assert month_closed_by(january, "Asia/Baku").start == date(2026, 12, 1)


def test_a_daily_slot_before_its_time_is_yesterdays() -> None:
    daily = Timing("Asia/Baku", time(10))
    assert latest_slot(utc(2026, 11, 25, 5, 59), daily) == utc(2026, 11, 24, 6, 0)
    assert latest_slot(utc(2026, 11, 25, 6, 0), daily) == utc(2026, 11, 25, 6, 0)
    assert next_slot(utc(2026, 11, 25, 6, 0), daily) == utc(2026, 11, 26, 6, 0)


def test_a_missed_slot_runs_once_when_the_dispatcher_comes_back_and_never_twice() -> None:
    daily = Timing("Asia/Almaty", time(10))
    ran = utc(2026, 11, 20, 5, 0)
    # Down for three days: only the latest slot is due, once.
    back = utc(2026, 11, 23, 12, 0)
    slot = due_slot(back, daily, ran)
    assert slot == utc(2026, 11, 23, 5, 0)
    assert due_slot(back, daily, slot) is None
    assert due_slot(utc(2026, 11, 23, 23, 59), daily, slot) is None
    assert due_slot(utc(2026, 11, 24, 5, 0), daily, slot) == utc(2026, 11, 24, 5, 0)


def test_a_monthly_slot_later_in_the_month_is_last_months_until_it_comes() -> None:
    on_the_15th = Timing("Asia/Almaty", time(23, 30), day_of_month=15)
    # 15 Nov 23:30 in Almaty is 15 Nov 18:30 UTC.
    assert latest_slot(utc(2026, 11, 15, 18, 29), on_the_15th) == utc(2026, 10, 15, 18, 30)
    assert latest_slot(utc(2026, 11, 15, 18, 30), on_the_15th) == utc(2026, 11, 15, 18, 30)
    assert next_slot(utc(2026, 12, 20), on_the_15th) == utc(2027, 1, 15, 18, 30)


def test_a_zone_with_daylight_saving_keeps_the_local_time() -> None:
    berlin = Timing("Europe/Berlin", time(6), day_of_month=1)
    assert latest_slot(utc(2026, 7, 1, 12), berlin) == utc(2026, 7, 1, 4, 0)  # CEST
    assert latest_slot(utc(2026, 12, 1, 12), berlin) == utc(2026, 12, 1, 5, 0)  # CET


def test_a_timing_refuses_a_day_past_28_and_an_unknown_zone() -> None:
    with pytest.raises(ValueError, match="1 to 28"):
        Timing("Asia/Baku", time(6), day_of_month=31)
    with pytest.raises(UnknownTimeZoneError):
        Timing("Mars/Olympus", time(6))
