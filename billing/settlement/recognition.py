"""Revenue recognition (SPEC 5): pure rules on values, no session.

A line is recognised by day over its span: a lease MRC (or its credit) over its service period,
which lies in one month; an O&M fee over the year it covers; an IRU fee over the service's whole
term from ready-for-service; a one-time charge (NRC, early termination) on its charge day.

What is recognised in a month is the cumulative amount to the month's end, rounded half-up to
the cent, minus the cumulative amount to the previous month's end, rounded the same way: the
months of a span add up exactly to the line. Nothing is recognised before the line is issued;
the month it is issued catches up on what its span already covered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from billing.calendar import Period, add_months
from billing.money import Money, allocate

K = TypeVar("K")

ONE_TIME_KINDS = frozenset({"nrc", "early_termination"})
TERM_KINDS = frozenset({"iru_fee"})


def term_of(ready_for_service: date, term_months: int) -> Period:
    """A service's term: from its ready-for-service day for `term_months` months."""
    return Period(ready_for_service, add_months(ready_for_service, term_months) - timedelta(days=1))


def recognition_span(kind: str, line_period: Period, term: Period | None) -> Period:
    """The days over which a line of `kind` is recognised."""
    if kind in TERM_KINDS:
        if term is None:
            raise ValueError("an IRU fee is recognised over its service's term")
        return term
    if kind in ONE_TIME_KINDS:
        return Period(line_period.start, line_period.start)
    return line_period


def recognised_to(amount: Money, span: Period, day: date) -> Money:
    """What of `amount` is recognised by the end of `day`: by day, rounded half-up."""
    if day < span.start:
        return Money.zero(amount.currency)
    if day >= span.end:
        return amount
    days = (day - span.start).days + 1
    return Money(amount.amount * days / span.days, amount.currency).rounded()


def recognised_in(amount: Money, span: Period, issued_on: date, month: Period) -> Money:
    """What of `amount` (issued on `issued_on`) is recognised in `month`."""
    if issued_on > month.end:
        return Money.zero(amount.currency)
    so_far = recognised_to(amount, span, month.end)
    if issued_on >= month.start:
        return so_far
    return so_far - recognised_to(amount, span, month.start - timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Recognition:
    billed: Money  # issued in the month
    recognised: Money  # recognised in the month
    deferred: Money  # issued by the month's end and not yet recognised


def recognise(amount: Money, span: Period, issued_on: date, month: Period) -> Recognition:
    """One line's (or one party's part of it) billed, recognised and deferred for `month`."""
    zero = Money.zero(amount.currency)
    issued = issued_on <= month.end
    return Recognition(
        billed=amount if month.start <= issued_on <= month.end else zero,
        recognised=recognised_in(amount, span, issued_on, month),
        deferred=(amount - recognised_to(amount, span, month.end)) if issued else zero,
    )


def split_like(amount: Money, parts: Mapping[K, Money]) -> dict[K, Money]:
    """`amount` allocated in proportion to `parts` (largest remainder, ties to the first)."""
    keys = list(parts)
    weights = [abs(parts[k].amount) for k in keys]
    if amount.minor == 0 or not any(weights):
        return {k: Money.zero(amount.currency) for k in keys}
    return dict(zip(keys, allocate(amount, weights), strict=True))


def recognised_parts_to(
    amount: Money, parts: Mapping[K, Money], span: Period, day: date
) -> dict[K, Money]:
    """Each party's part of what of `amount` is recognised by the end of `day`."""
    return split_like(recognised_to(amount, span, day), parts)


def recognise_parts(
    amount: Money, parts: Mapping[K, Money], span: Period, issued_on: date, month: Period
) -> dict[K, Recognition]:
    """One line's billed, recognised and deferred for `month`, per party: the line is
    recognised once and split between the parties (see the module's note). `parts` add up to
    `amount`."""
    zero = Money.zero(amount.currency)
    issued = issued_on <= month.end
    to_end = recognised_parts_to(amount, parts, span, month.end)
    if issued_on > month.end:
        before = dict.fromkeys(parts, zero)
        to_end = dict.fromkeys(parts, zero)
    elif issued_on >= month.start:
        before = dict.fromkeys(parts, zero)
    else:
        before = recognised_parts_to(amount, parts, span, month.start - timedelta(days=1))
    return {
        k: Recognition(
            billed=part if month.start <= issued_on <= month.end else zero,
            recognised=to_end[k] - before[k],
            deferred=(part - to_end[k]) if issued else zero,
        )
        for k, part in parts.items()
    }
