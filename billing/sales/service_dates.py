"""When a service's dates may fall, and what ending a lease early owes (SPEC 3).

Pure functions on values: no session, no clock. "Today" is the selling party's business date,
given by the caller (billing.calendar).

- A ready-for-service or termination date may be today, scheduled ahead (it takes effect on its
  date: billing follows the dates, not the moment of the click), or back-dated by up to
  MAX_BACKDATE_DAYS with a note saying why.
- A lease ended before its term owes the early-termination percent of its price-book entry times
  the MRC of every month left of the term after its end date (its last day of service); a month
  begun counts whole. An IRU is never refunded
  and owes nothing more.
"""

from __future__ import annotations

import enum
from datetime import date, timedelta
from decimal import Decimal

from billing.calendar import add_months
from billing.errors import N_, InvalidRequestError, Text
from billing.money import Money

MAX_BACKDATE_DAYS = 90
MAX_SCHEDULE_DAYS = 366  # a date further ahead is a typo, not a plan


class Timing(enum.StrEnum):
    BACKDATED = "backdated"
    TODAY = "today"
    SCHEDULED = "scheduled"


def date_timing(day: date, *, today: date, note: str) -> Timing:
    """Whether `day` is back-dated, today or scheduled; refuses what may not be entered.

    A back-dated day needs a note; more than MAX_BACKDATE_DAYS back or MAX_SCHEDULE_DAYS ahead
    is refused.
    """
    earliest = today - timedelta(days=MAX_BACKDATE_DAYS)
    latest = today + timedelta(days=MAX_SCHEDULE_DAYS)
    if day < earliest:
        raise InvalidRequestError(
            N_("a date can be back-dated by at most %(days)s days (to %(day)s)"),
            {
                "effective_date": [
                    Text(
                        N_("on or after %(day)s: at most %(days)s days back"),
                        day=earliest,
                        days=MAX_BACKDATE_DAYS,
                    )
                ]
            },
            days=MAX_BACKDATE_DAYS,
            day=earliest,
        )
    if day > latest:
        raise InvalidRequestError(
            N_("a date can be scheduled at most %(days)s days ahead (to %(day)s)"),
            {"effective_date": [Text(N_("on or before %(day)s"), day=latest)]},
            days=MAX_SCHEDULE_DAYS,
            day=latest,
        )
    if day < today:
        if not note.strip():
            raise InvalidRequestError(
                N_("a back-dated change needs a note saying why"),
                {
                    "note": [
                        Text(
                            N_("required: %(day)s is before today (%(today)s)"),
                            day=day,
                            today=today,
                        )
                    ]
                },
            )
        return Timing.BACKDATED
    return Timing.TODAY if day == today else Timing.SCHEDULED


def term_end(start: date, term_months: int) -> date:
    """The last day of a term of `term_months` begun on `start`."""
    return add_months(start, term_months) - timedelta(days=1)


def months_remaining(end_date: date, term_end_date: date) -> int:
    """Months of the term left after the service's last day `end_date`, up to the term's last
    day; a month begun counts whole, and none are left once the term is served."""
    after = end_date + timedelta(days=1)
    months = 0
    while add_months(after, months) <= term_end_date:
        months += 1
    return months


def early_termination_charge(mrc: Money, rate_percent: Decimal, months: int) -> Money:
    """`rate_percent` of `months` months' MRC, rounded to the currency's minor unit."""
    if months < 0:
        raise ValueError("months remaining are zero or more")
    if not Decimal(0) <= rate_percent <= Decimal(100):
        raise ValueError("the early-termination rate is 0 to 100 percent")
    return (mrc * months).percent(rate_percent).rounded()
