"""The date and early-termination rules of a service (SPEC 3), without a database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.errors import InvalidRequestError
from billing.money import Money
from billing.sales.service_dates import (
    MAX_BACKDATE_DAYS,
    Timing,
    date_timing,
    early_termination_charge,
    months_remaining,
    term_end,
)

TODAY = date(2026, 11, 25)


def test_today_and_dates_ahead_need_no_note() -> None:
    assert date_timing(TODAY, today=TODAY, note="") == Timing.TODAY
    assert date_timing(TODAY + timedelta(days=1), today=TODAY, note="") == Timing.SCHEDULED
    assert date_timing(date(2027, 3, 1), today=TODAY, note="") == Timing.SCHEDULED


def test_a_back_dated_day_needs_a_note() -> None:
    yesterday = TODAY - timedelta(days=1)
    with pytest.raises(InvalidRequestError) as caught:
        date_timing(yesterday, today=TODAY, note="  ")
    assert "note" in caught.value.errors
    assert date_timing(yesterday, today=TODAY, note="fiber spliced on the 24th") == Timing.BACKDATED


def test_back_dating_stops_at_ninety_days() -> None:
    limit = TODAY - timedelta(days=MAX_BACKDATE_DAYS)
    assert date_timing(limit, today=TODAY, note="late paperwork") == Timing.BACKDATED
    with pytest.raises(InvalidRequestError) as caught:
        date_timing(limit - timedelta(days=1), today=TODAY, note="late paperwork")
    assert "at most 90 days" in caught.value.message
    assert str(limit) in caught.value.message
    assert "effective_date" in caught.value.errors


def test_a_date_years_ahead_is_refused_as_a_typo() -> None:
    with pytest.raises(InvalidRequestError):
        date_timing(date(2062, 11, 25), today=TODAY, note="")


def test_a_term_ends_the_day_before_its_months_are_over() -> None:
    assert term_end(date(2026, 1, 15), 36) == date(2029, 1, 14)
    assert term_end(date(2026, 1, 31), 1) == date(2026, 2, 27)  # 31 Jan + 1 month: 28 Feb


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (date(2026, 1, 15), 12),  # ended the day it began: the whole term is left
        (date(2026, 10, 14), 3),  # nine months served to the day
        (date(2026, 10, 15), 3),  # a month begun counts whole
        (date(2026, 12, 13), 2),  # a month and a day left
        (date(2026, 12, 14), 1),
        (date(2027, 1, 13), 1),  # one day left
        (date(2027, 1, 14), 0),  # the term's last day: served in full
        (date(2027, 6, 1), 0),
    ],
)
def test_months_remaining_of_a_term(end: date, expected: int) -> None:
    assert months_remaining(end, term_end(date(2026, 1, 15), 12)) == expected


def test_the_charge_is_the_rate_of_the_remaining_months_mrc_rounded_once() -> None:
    mrc = Money(Decimal("12000.00"), "USD")
    assert early_termination_charge(mrc, Decimal(100), 9) == Money(Decimal("108000.00"), "USD")
    assert early_termination_charge(mrc, Decimal(50), 3) == Money(Decimal("18000.00"), "USD")
    assert early_termination_charge(mrc, Decimal(0), 3) == Money(Decimal(0), "USD")
    # 3 × 1,000.01 × 33.333% = 1,000.0000 (rounded once, on the total, not per month)
    odd = early_termination_charge(Money(Decimal("1000.01"), "USD"), Decimal("33.333"), 3)
    assert odd == Money(Decimal("1000.00"), "USD")
    assert early_termination_charge(Money(Decimal("1001"), "JPY"), Decimal("12.5"), 1).amount == 125


def test_the_charge_refuses_rates_and_months_out_of_range() -> None:
    mrc = Money(Decimal("100.00"), "USD")
    with pytest.raises(ValueError):
        early_termination_charge(mrc, Decimal(101), 1)
    with pytest.raises(ValueError):
        early_termination_charge(mrc, Decimal(100), -1)
