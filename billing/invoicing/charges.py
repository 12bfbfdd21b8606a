"""What a service owes for a billing month (SPEC 3 and 4), as charge values.

Pure rules on `Money` and calendar dates: no session, no Flask. The billing run maps a service's
rows to `ServiceTerms` and the lines already billed for it to `Charge`s, and `charges_due` answers
with the charges still to bill. A charge is identified by (service, kind, period start), so a run
that is repeated, or resumed after a crash, bills nothing twice.

Rounding happens at one named point: each charge is rounded half-up to its currency's minor unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from billing.calendar import Period, add_months, billing_period, days_in_month
from billing.errors import N_, InvalidRequestError
from billing.money import Money, allocate, to_decimal, total

ONE_DAY = timedelta(days=1)


class CommercialModel(StrEnum):
    LEASE = "lease"
    IRU = "iru"


class ChargeKind(StrEnum):
    MRC = "mrc"
    MRC_CREDIT = "mrc_credit"
    NRC = "nrc"
    IRU_FEE = "iru_fee"
    OM = "om"
    EARLY_TERMINATION = "early_termination"
    # SPEC 7: a month below its availability target credits a lease's MRC, an IRU's O&M share.
    SLA_CREDIT = "sla_credit"
    SLA_OM_CREDIT = "sla_om_credit"


# Units of a line's quantity (UN/ECE Recommendation 20), as e-invoices state them (SPEC 14).
MONTH = "MON"
YEAR = "ANN"
ONE = "C62"


def unit_code(kind: ChargeKind) -> str:
    """A month's MRC is a month of service and an O&M charge a year of it; everything else (a
    fee, a termination charge, a credit) is one amount."""
    if kind is ChargeKind.MRC:
        return MONTH
    if kind is ChargeKind.OM:
        return YEAR
    return ONE


class InvalidTermsError(InvalidRequestError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class ChargeKey:
    """What makes a charge unique: billed once, whatever the number of runs."""

    service_id: int
    kind: ChargeKind
    period_start: date


@dataclass(frozen=True, slots=True)
class Charge:
    key: ChargeKey
    period: Period
    amount: Money
    description: str

    @property
    def kind(self) -> ChargeKind:
        return self.key.kind


@dataclass(frozen=True, slots=True)
class Instalment:
    """One part of an IRU fee: a percent, due on a date or a number of months after RFS."""

    percent: Decimal
    due_date: date | None = None
    months_after_rfs: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "percent", to_decimal(self.percent))
        if (self.due_date is None) == (self.months_after_rfs is None):
            raise InvalidTermsError(
                N_("an instalment is due on a date or months after RFS, not both")
            )
        if not (self.percent.is_finite() and 0 < self.percent <= 100):
            raise InvalidTermsError(
                N_("an instalment is more than %(low)s and at most %(high)s of the fee"),
                low="0%",
                high="100%",
            )
        if self.months_after_rfs is not None and self.months_after_rfs < 0:
            raise InvalidTermsError(N_("an instalment falls due at or after ready-for-service"))

    def due(self, ready_for_service: date | None) -> date | None:
        """The day it falls due; None while an RFS-relative instalment has no RFS date yet."""
        if self.due_date is not None:
            return self.due_date
        if ready_for_service is None or self.months_after_rfs is None:
            return None
        return add_months(ready_for_service, self.months_after_rfs)


# SPEC 3: without a plan, the whole IRU fee falls due at ready-for-service.
AT_READY_FOR_SERVICE = (Instalment(Decimal(100), months_after_rfs=0),)


@dataclass(frozen=True, slots=True)
class SlaVerdict:
    """A closed month of the issuer's calendar in which the service earned a credit of
    `credit_percent` (by the tiers, or granted by finance), at `availability` as shown."""

    month: Period
    credit_percent: Decimal
    availability: str  # "99.10%"


@dataclass(frozen=True, slots=True)
class EarlyTermination:
    """What ending the lease early owes, as recorded at termination (billing.sales computes it:
    the remaining months' MRC × the early-termination rate). A waived charge bills nothing."""

    amount: Money
    months_remaining: int
    waived: bool = False


def check_payment_plan(plan: Sequence[Instalment]) -> None:
    if not plan:
        raise InvalidTermsError(N_("a payment plan has at least one instalment"))
    total = sum((i.percent for i in plan), Decimal(0))
    if total != 100:
        raise InvalidTermsError(N_("the instalments add up to %(total)s%%, not 100%%"), total=total)


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """A service's prices and dates as billing reads them (a service row, mapped)."""

    service_id: int
    model: CommercialModel
    term_months: int
    ready_for_service: date | None
    end_date: date | None = None
    mrc: Money | None = None
    nrc: Money | None = None
    iru_fee: Money | None = None
    om_rate_percent: Decimal | None = None
    payment_plan: tuple[Instalment, ...] = AT_READY_FOR_SERVICE
    early_termination: EarlyTermination | None = None
    sla: tuple[SlaVerdict, ...] = ()

    def __post_init__(self) -> None:
        if self.term_months <= 0:
            raise InvalidTermsError(N_("a term is at least one month"))
        if self.model is CommercialModel.LEASE and self.mrc is None:
            raise InvalidTermsError(N_("a lease has an MRC"))
        if self.model is CommercialModel.IRU and self.iru_fee is None:
            raise InvalidTermsError(N_("an IRU has an IRU fee"))
        etc = self.early_termination
        prices = (self.mrc, self.nrc, self.iru_fee, None if etc is None else etc.amount)
        if len({m.currency for m in prices if m is not None}) > 1:
            raise InvalidTermsError(N_("a service's prices share one currency"))
        rfs, end = self.ready_for_service, self.end_date
        if rfs is not None and end is not None and end < rfs:
            raise InvalidTermsError(N_("a service ends on or after its ready-for-service date"))
        if self.om_rate_percent is not None and self.om_rate_percent < 0:
            raise InvalidTermsError(N_("the O&M rate is not negative"))
        check_payment_plan(self.payment_plan)

    @property
    def term_end(self) -> date | None:
        """The last day of the contracted term."""
        if self.ready_for_service is None:
            return None
        return add_months(self.ready_for_service, self.term_months) - ONE_DAY

    def key(self, kind: ChargeKind, period_start: date) -> ChargeKey:
        return ChargeKey(self.service_id, kind, period_start)


def prorated_mrc(mrc: Money, active: Period) -> Money:
    """MRC × active days / days in that month, rounded; `active` lies within one month."""
    month = billing_period(active.start)
    if active.end > month.end:
        raise ValueError("prorate one calendar month at a time")
    if active == month:
        return mrc.rounded()
    return _share(mrc, active.days, days_in_month(active.start)).rounded()


def instalment_amounts(fee: Money, plan: Sequence[Instalment]) -> list[Money]:
    """Each instalment's share of the fee; the shares add up to the rounded fee exactly."""
    check_payment_plan(plan)
    return allocate(fee.rounded(), [i.percent for i in plan])


def annual_om(iru_fee: Money, om_rate_percent: Decimal) -> Money:
    """One year's O&M: the rate times the IRU fee, rounded (as the quote showed it)."""
    return iru_fee.percent(om_rate_percent).rounded()


def charges_due(terms: ServiceTerms, month: Period, billed: Iterable[Charge]) -> list[Charge]:
    """Everything the service owes up to the end of `month` that `billed` does not hold yet.

    `billed` is what earlier runs billed for the service (other services' charges are ignored).
    A service activated after the previous run gets its partial previous month here; a
    termination in a month already billed gives a credit for the days billed after it.
    """
    if month != billing_period(month.start):
        raise ValueError("a billing run bills one calendar month")
    done = {c.key: c for c in billed if c.key.service_id == terms.service_id}
    horizon = month.end
    due = [
        *_monthly_charges(terms, horizon),
        *_unused_day_credits(terms, horizon, done.values()),
        *_installation(terms, horizon, done.values()),
        *_iru_instalments(terms, horizon, done.values()),
        *_om_years(terms, horizon),
        *_early_termination(terms, horizon, done.values()),
        *_sla_credits(terms, horizon, done),
    ]
    fresh = [c for c in due if c.key not in done and c.amount.amount != 0]
    return sorted(fresh, key=lambda c: (c.period.start, list(ChargeKind).index(c.kind)))


def _months(first: date, last: date) -> Iterator[Period]:
    month = billing_period(first)
    while month.start <= last:
        yield month
        month = billing_period(month.end + ONE_DAY)


def _monthly_charges(terms: ServiceTerms, horizon: date) -> Iterator[Charge]:
    # Monthly in advance: the run for a month bills that whole month, cut only by the
    # ready-for-service and termination days (both billed).
    if terms.mrc is None or terms.ready_for_service is None:
        return
    first = terms.ready_for_service
    last = horizon if terms.end_date is None else min(horizon, terms.end_date)
    for month in _months(first, last):
        active = Period(max(first, month.start), min(last, month.end))
        yield Charge(
            terms.key(ChargeKind.MRC, month.start),
            active,
            prorated_mrc(terms.mrc, active),
            f"Monthly recurring charge, {_describe_days(active)}",
        )


def _unused_day_credits(
    terms: ServiceTerms, horizon: date, done: Iterable[Charge]
) -> Iterator[Charge]:
    # The credit is what was billed less what the days up to the termination cost: billed and
    # credited together come to exactly the proration of the days used.
    end = terms.end_date
    if terms.mrc is None or end is None or end > horizon:
        return
    for billed in done:
        if billed.kind is not ChargeKind.MRC or billed.period.end <= end:
            continue
        used = Period(billed.period.start, end) if billed.period.start <= end else None
        kept = Money.zero(billed.amount.currency) if used is None else prorated_mrc(terms.mrc, used)
        credit = kept - billed.amount
        if credit.amount >= 0:
            continue
        unused = Period(max(billed.period.start, end + ONE_DAY), billed.period.end)
        yield Charge(
            terms.key(ChargeKind.MRC_CREDIT, billed.key.period_start),
            unused,
            credit,
            f"Credit for days billed after the termination on {end.isoformat()}, "
            f"{_describe_days(unused)}",
        )


def _installation(terms: ServiceTerms, horizon: date, done: Iterable[Charge]) -> Iterator[Charge]:
    rfs = terms.ready_for_service
    if terms.nrc is None or rfs is None or rfs > horizon:
        return
    # Once per service, even if its ready-for-service date is corrected after billing.
    if any(c.kind is ChargeKind.NRC for c in done):
        return
    yield Charge(
        terms.key(ChargeKind.NRC, rfs),
        Period(rfs, rfs),
        terms.nrc.rounded(),
        "Installation (one-time charge)",
    )


def _iru_instalments(
    terms: ServiceTerms, horizon: date, done: Iterable[Charge]
) -> Iterator[Charge]:
    if terms.iru_fee is None:
        return
    plan = terms.payment_plan
    amounts = instalment_amounts(terms.iru_fee, plan)
    schedule = sorted(
        ((plan[i].due(terms.ready_for_service), i) for i in range(len(plan))),
        key=lambda pair: (pair[0] is None, pair[0] or date.min, pair[1]),
    )
    # Instalments are billed in the order they fall due: those already billed are the first
    # ones, by count, so a corrected ready-for-service date never bills an instalment twice.
    already = sum(1 for c in done if c.kind is ChargeKind.IRU_FEE)
    for due, i in schedule[already:]:
        if due is None or due > horizon:
            return
        label = "IRU fee" if len(plan) == 1 else f"IRU fee, instalment {i + 1} of {len(plan)}"
        yield Charge(
            terms.key(ChargeKind.IRU_FEE, due),
            Period(due, due),
            amounts[i],
            f"{label} ({_percent(plan[i].percent)}% of {terms.iru_fee.rounded()})",
        )


def _om_years(terms: ServiceTerms, horizon: date) -> Iterator[Charge]:
    # Yearly in advance from ready-for-service, for the years begun before the termination.
    # An IRU is never refunded (SPEC 3): a termination credits no O&M.
    rfs = terms.ready_for_service
    if terms.iru_fee is None or terms.om_rate_percent is None or rfs is None:
        return
    yearly = terms.iru_fee.percent(terms.om_rate_percent)
    term_stop = add_months(rfs, terms.term_months)
    year = 0
    while True:
        start = add_months(rfs, 12 * year)
        if start > horizon or start >= term_stop:
            return
        if terms.end_date is not None and start > terms.end_date:
            return
        full = Period(start, add_months(rfs, 12 * (year + 1)) - ONE_DAY)
        period = Period(start, min(full.end, term_stop - ONE_DAY))
        # A term that is not whole years ends in a short year, billed by its days.
        amount = (
            annual_om(terms.iru_fee, terms.om_rate_percent)
            if period == full
            else _share(yearly, period.days, full.days).rounded()
        )
        yield Charge(
            terms.key(ChargeKind.OM, start),
            period,
            amount,
            f"Operation and maintenance, year {year + 1}: {period.start.isoformat()} to "
            f"{period.end.isoformat()} ({_percent(terms.om_rate_percent)}% of the IRU fee a year)",
        )
        year += 1


def _early_termination(
    terms: ServiceTerms, horizon: date, done: Iterable[Charge]
) -> Iterator[Charge]:
    # Billed with the month the lease ends in, once.
    charge, end, term_end = terms.early_termination, terms.end_date, terms.term_end
    if charge is None or charge.waived or end is None or term_end is None:
        return
    if end > horizon or end >= term_end:
        return
    if any(c.kind is ChargeKind.EARLY_TERMINATION for c in done):
        return
    yield Charge(
        terms.key(ChargeKind.EARLY_TERMINATION, end + ONE_DAY),
        Period(end + ONE_DAY, term_end),
        charge.amount.rounded(),
        f"Early-termination charge: {charge.months_remaining} remaining months of the term",
    )


def _sla_credits(
    terms: ServiceTerms, horizon: date, done: Mapping[ChargeKey, Charge]
) -> Iterator[Charge]:
    for verdict in terms.sla:
        if verdict.month.end <= horizon:
            charge = sla_credit(terms, verdict, done)
            if charge is not None:
                yield charge


def sla_credit(
    terms: ServiceTerms, verdict: SlaVerdict, done: Mapping[ChargeKey, Charge]
) -> Charge | None:
    """The negative line a month's SLA credit bills (SPEC 7): the percentage of that month's
    charge as billed (`done`: the prorated MRC line, less any credit for unused days), or for an
    IRU of the month's share of its yearly O&M fee, prorated by the active days; rounded once,
    half-up. None when the service was not active in the month or owes nothing."""
    rfs, month = terms.ready_for_service, verdict.month
    if rfs is None or month.end < rfs:
        return None
    last = month.end if terms.end_date is None else min(month.end, terms.end_date)
    if last < month.start:
        return None
    active = Period(max(rfs, month.start), last)
    if terms.mrc is not None:
        kind = ChargeKind.SLA_CREDIT
        billed = [
            done[key]
            for key in (
                terms.key(ChargeKind.MRC, month.start),
                terms.key(ChargeKind.MRC_CREDIT, month.start),
            )
            if key in done
        ]
        base = (
            total((c.amount for c in billed), terms.mrc.currency)
            if billed
            else prorated_mrc(terms.mrc, active)
        )
    elif terms.iru_fee is not None and terms.om_rate_percent is not None:
        kind = ChargeKind.SLA_OM_CREDIT
        yearly = annual_om(terms.iru_fee, terms.om_rate_percent)
        base = _share(Money(yearly.amount / 12, yearly.currency), active.days, month.days)
    else:
        return None
    amount = -(base.percent(verdict.credit_percent).rounded())
    if amount.amount == 0:
        return None
    return Charge(
        terms.key(kind, month.start),
        active,
        amount,
        f"SLA credit, {month.start:%B %Y} (availability {verdict.availability})",
    )


def _share(whole: Money, part: int, of: int) -> Money:
    # Multiply before dividing: a half-cent stays exactly half a cent for the half-up rounding.
    return Money(whole.amount * part / of, whole.currency)


def _describe_days(period: Period) -> str:
    month = billing_period(period.start)
    name = f"{period.start:%B %Y}"
    if period == month:
        return name
    days = f"{period.start.day}" if period.days == 1 else f"{period.start.day}–{period.end.day}"
    return f"{days} {name} ({period.days} of {month.days} days)"


def _percent(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
