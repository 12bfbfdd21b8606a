from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.calendar import Period, billing_period
from billing.invoicing.charges import (
    Charge,
    ChargeKind,
    CommercialModel,
    EarlyTermination,
    Instalment,
    InvalidTermsError,
    ServiceTerms,
    charges_due,
    prorated_mrc,
)
from billing.money import Money, minor_unit


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def month(year: int, number: int) -> Period:
    return billing_period(date(year, number, 1))


def lease(
    rfs: date | None,
    *,
    end: date | None = None,
    mrc: Money | None = None,
    nrc: Money | None = None,
    term_months: int = 24,
    early_termination: EarlyTermination | None = None,
    service_id: int = 1,
) -> ServiceTerms:
    return ServiceTerms(
        service_id=service_id,
        model=CommercialModel.LEASE,
        term_months=term_months,
        ready_for_service=rfs,
        end_date=end,
        mrc=mrc or usd("12000.00"),
        nrc=nrc,
        early_termination=early_termination,
    )


def iru(
    rfs: date | None,
    *,
    plan: tuple[Instalment, ...] | None = None,
    end: date | None = None,
    fee: Money | None = None,
    term_months: int = 180,
) -> ServiceTerms:
    extra = {} if plan is None else {"payment_plan": plan}
    return ServiceTerms(
        service_id=7,
        model=CommercialModel.IRU,
        term_months=term_months,
        ready_for_service=rfs,
        end_date=end,
        iru_fee=fee or usd("1000000.00"),
        om_rate_percent=Decimal(4),
        **extra,  # type: ignore[arg-type]
    )


def of_kind(charges: Sequence[Charge], kind: ChargeKind) -> list[Charge]:
    return [c for c in charges if c.kind is kind]


def amounts(charges: Sequence[Charge]) -> list[Money]:
    return [c.amount for c in charges]


def runs(terms: ServiceTerms, *months: Period) -> list[Charge]:
    """Run the months in order, each seeing what the ones before it billed."""
    billed: list[Charge] = []
    for m in months:
        billed += charges_due(terms, m, billed)
    return billed


# Monthly recurring charge and its proration


def test_spec_proration_example_bills_fourteen_of_thirty_days() -> None:
    due = charges_due(lease(date(2026, 11, 17)), month(2026, 11), [])
    (mrc,) = due
    assert mrc.amount == usd("5600.00")
    assert mrc.period == Period(date(2026, 11, 17), date(2026, 11, 30))
    assert mrc.key.period_start == date(2026, 11, 1)
    assert "14 of 30 days" in mrc.description


def test_a_full_month_bills_the_whole_mrc_in_advance() -> None:
    due = charges_due(lease(date(2026, 10, 1)), month(2026, 11), [])
    assert [(c.period.start, c.amount) for c in due] == [
        (date(2026, 10, 1), usd("12000.00")),
        (date(2026, 11, 1), usd("12000.00")),
    ]


def test_a_leap_february_has_twenty_nine_days() -> None:
    (mrc,) = charges_due(lease(date(2028, 2, 15), mrc=usd("2900.00")), month(2028, 2), [])
    assert mrc.amount == usd("1500.00")  # 15 of 29 days
    (mrc,) = charges_due(lease(date(2027, 2, 15), mrc=usd("2800.00")), month(2027, 2), [])
    assert mrc.amount == usd("1400.00")  # 14 of 28 days


def test_a_31_day_month_divides_by_31() -> None:
    (mrc,) = charges_due(lease(date(2026, 12, 21)), month(2026, 12), [])
    assert mrc.amount == usd("4258.06")  # 12,000 × 11 / 31 = 4,258.0645…


def test_a_termination_in_the_month_of_ready_for_service_counts_both_days() -> None:
    terms = lease(date(2026, 11, 10), end=date(2026, 11, 19))
    mrc = of_kind(charges_due(terms, month(2026, 11), []), ChargeKind.MRC)
    assert amounts(mrc) == [usd("4000.00")]  # 10 of 30 days
    assert mrc[0].period == Period(date(2026, 11, 10), date(2026, 11, 19))


def test_a_one_day_service_bills_one_day() -> None:
    terms = lease(date(2026, 11, 30), end=date(2026, 11, 30))
    assert amounts(of_kind(charges_due(terms, month(2026, 11), []), ChargeKind.MRC)) == [
        usd("400.00")
    ]


def test_half_a_minor_unit_rounds_up() -> None:
    # 0.05 × 15 / 30 = 0.025 exactly: half-up gives 0.03, where half-even would give 0.02.
    assert prorated_mrc(usd("0.05"), Period(date(2026, 11, 1), date(2026, 11, 15))) == usd("0.03")


def test_zero_and_three_minor_digit_currencies_round_to_their_own_unit() -> None:
    yen = lease(date(2026, 11, 17), mrc=Money(Decimal("100000"), "JPY"))
    assert amounts(charges_due(yen, month(2026, 11), [])) == [Money(Decimal("46667"), "JPY")]
    dinar = lease(date(2026, 11, 17), mrc=Money(Decimal("1000.000"), "KWD"))
    assert amounts(charges_due(dinar, month(2026, 11), [])) == [Money(Decimal("466.667"), "KWD")]


def test_a_service_activated_after_the_previous_run_gets_its_partial_month_on_the_next() -> None:
    terms = lease(date(2026, 11, 17))
    november_run = charges_due(lease(None), month(2026, 11), [])  # not ready yet then
    assert november_run == []
    december_run = charges_due(terms, month(2026, 12), november_run)
    assert [(c.period, c.amount) for c in december_run] == [
        (Period(date(2026, 11, 17), date(2026, 11, 30)), usd("5600.00")),
        (month(2026, 12), usd("12000.00")),
    ]


def test_a_second_run_for_the_same_month_bills_nothing_twice() -> None:
    terms = lease(date(2026, 11, 17), nrc=usd("3000.00"))
    first = charges_due(terms, month(2026, 11), [])
    assert {c.kind for c in first} == {ChargeKind.MRC, ChargeKind.NRC}
    assert charges_due(terms, month(2026, 11), first) == []
    # A run that crashed after billing part of a service's charges bills only the rest.
    assert charges_due(terms, month(2026, 11), first[:1]) == first[1:]


def test_other_services_charges_do_not_count_as_billed() -> None:
    first = charges_due(lease(date(2026, 11, 1), service_id=1), month(2026, 11), [])
    other = lease(date(2026, 11, 1), service_id=2)
    assert amounts(charges_due(other, month(2026, 11), first)) == [usd("12000.00")]


def test_nothing_is_billed_before_ready_for_service_or_beyond_the_month() -> None:
    assert charges_due(lease(date(2026, 12, 1)), month(2026, 11), []) == []
    billed = runs(lease(date(2026, 1, 5)), month(2026, 11))
    assert len(billed) == 11
    assert max(c.period.end for c in billed) == date(2026, 11, 30)


def test_a_run_bills_one_calendar_month() -> None:
    with pytest.raises(ValueError, match="one calendar month"):
        charges_due(lease(date(2026, 11, 1)), Period(date(2026, 11, 2), date(2026, 11, 30)), [])


# Terminations


def test_a_termination_in_a_month_billed_in_advance_credits_the_unused_days() -> None:
    billed = runs(lease(date(2026, 9, 1)), month(2026, 10), month(2026, 11))
    terminated = lease(date(2026, 9, 1), end=date(2026, 11, 20))
    (credit,) = charges_due(terminated, month(2026, 12), billed)
    assert credit.kind is ChargeKind.MRC_CREDIT
    assert credit.amount == usd("-4000.00")  # 21–30 November: 10 of 30 days
    assert credit.period == Period(date(2026, 11, 21), date(2026, 11, 30))
    assert charges_due(terminated, month(2026, 12), [*billed, credit]) == []


def test_a_back_dated_termination_credits_every_month_billed_after_it() -> None:
    billed = runs(lease(date(2026, 9, 1)), month(2026, 10), month(2026, 11))
    terminated = lease(date(2026, 9, 1), end=date(2026, 10, 15))
    credits = charges_due(terminated, month(2026, 11), billed)
    assert [(c.period, c.amount) for c in credits] == [
        (Period(date(2026, 10, 16), date(2026, 10, 31)), usd("-6193.55")),
        (month(2026, 11), usd("-12000.00")),
    ]
    # Billed and credited together come to the days used: September and 15 of 31 October days.
    total = sum((c.amount for c in [*billed, *credits]), usd("0"))
    assert total == usd("12000.00") + prorated_mrc(
        usd("12000.00"), Period(date(2026, 10, 1), date(2026, 10, 15))
    )


def test_a_termination_known_before_the_run_bills_only_the_days_up_to_it() -> None:
    terms = lease(date(2026, 9, 1), end=date(2026, 11, 20))
    due = charges_due(terms, month(2026, 11), runs(terms, month(2026, 10)))
    assert [(c.kind, c.amount) for c in due] == [(ChargeKind.MRC, usd("8000.00"))]
    assert charges_due(terms, month(2026, 12), runs(terms, month(2026, 11))) == []


@given(
    mrc_minor=st.integers(min_value=0, max_value=10**12),
    rfs_day=st.integers(min_value=1, max_value=31),
    end_day=st.integers(min_value=1, max_value=31),
    month_number=st.integers(min_value=1, max_value=12),
    year=st.sampled_from([2026, 2027, 2028]),
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_prorated_parts_across_a_termination_stay_within_the_mrc(
    mrc_minor: int, rfs_day: int, end_day: int, month_number: int, year: int, currency: str
) -> None:
    the_month = month(year, month_number)
    rfs = the_month.start.replace(day=min(rfs_day, the_month.days))
    end = the_month.start.replace(day=min(max(end_day, rfs.day), the_month.days))
    mrc = Money(Decimal(mrc_minor).scaleb(-minor_unit(currency)), currency)
    zero = Money.zero(currency)

    billed = charges_due(lease(rfs, mrc=mrc), the_month, [])
    terminated = lease(rfs, mrc=mrc, end=end)
    credits = of_kind(charges_due(terminated, the_month, billed), ChargeKind.MRC_CREDIT)
    billed_amount = sum(amounts(billed), zero)
    credit = sum(amounts(credits), zero)

    assert zero <= billed_amount <= mrc
    assert zero <= -credit <= billed_amount
    # What stays billed is what the days used cost, as if the termination had been known.
    assert billed_amount + credit == prorated_mrc(mrc, Period(rfs, end))
    assert billed_amount + credit <= mrc


def test_early_termination_of_a_24_month_lease_after_10_months() -> None:
    rfs, end = date(2026, 1, 1), date(2026, 10, 31)
    recorded = EarlyTermination(usd("168000.00"), months_remaining=14)
    billed = runs(lease(rfs), *(month(2026, n) for n in range(1, 12)))
    terminated = lease(rfs, end=end, early_termination=recorded)
    due = charges_due(terminated, month(2026, 12), billed)
    (credit,) = of_kind(due, ChargeKind.MRC_CREDIT)
    (charge,) = of_kind(due, ChargeKind.EARLY_TERMINATION)
    assert credit.amount == usd("-12000.00")  # November, billed in advance, unused
    assert charge.amount == usd("168000.00")
    assert charge.period == Period(date(2026, 11, 1), date(2027, 12, 31))
    assert "14 remaining months" in charge.description
    assert charges_due(terminated, month(2026, 12), [*billed, *due]) == []


def test_the_early_termination_charge_is_billed_with_the_month_the_lease_ends_in() -> None:
    recorded = EarlyTermination(usd("84000.00"), months_remaining=14)
    terminated = lease(date(2026, 1, 1), end=date(2026, 10, 31), early_termination=recorded)
    assert of_kind(charges_due(terminated, month(2026, 9), []), ChargeKind.EARLY_TERMINATION) == []
    (charge,) = of_kind(charges_due(terminated, month(2026, 10), []), ChargeKind.EARLY_TERMINATION)
    assert charge.amount == usd("84000.00")


def test_a_waived_early_termination_charge_bills_nothing() -> None:
    waived = EarlyTermination(usd("168000.00"), months_remaining=14, waived=True)
    terminated = lease(date(2026, 1, 1), end=date(2026, 10, 31), early_termination=waived)
    assert of_kind(charges_due(terminated, month(2026, 12), []), ChargeKind.EARLY_TERMINATION) == []


def test_early_termination_is_in_the_service_currency() -> None:
    with pytest.raises(InvalidTermsError, match="one currency"):
        lease(
            date(2026, 1, 1),
            end=date(2026, 10, 31),
            early_termination=EarlyTermination(Money(Decimal(1), "EUR"), months_remaining=1),
        )


def test_a_lease_ended_at_the_end_of_its_term_owes_no_early_termination_charge() -> None:
    recorded = EarlyTermination(usd("12000.00"), months_remaining=1)
    at_term = lease(date(2026, 1, 1), end=date(2027, 12, 31), early_termination=recorded)
    assert of_kind(charges_due(at_term, month(2027, 12), []), ChargeKind.EARLY_TERMINATION) == []


# One-time charges, IRU fee and O&M


def test_the_installation_charge_is_billed_once_with_the_first_invoice() -> None:
    terms = lease(date(2026, 11, 17), nrc=usd("3000.00"))
    billed = runs(terms, month(2026, 11), month(2026, 12), month(2027, 1))
    assert amounts(of_kind(billed, ChargeKind.NRC)) == [usd("3000.00")]
    # A ready-for-service date corrected after billing does not bill it again.
    corrected = lease(date(2026, 11, 10), nrc=usd("3000.00"))
    assert of_kind(charges_due(corrected, month(2027, 1), billed), ChargeKind.NRC) == []


def test_the_iru_fee_is_due_whole_at_ready_for_service_by_default() -> None:
    due = charges_due(iru(date(2026, 11, 17)), month(2026, 11), [])
    (fee,) = of_kind(due, ChargeKind.IRU_FEE)
    assert fee.amount == usd("1000000.00")
    assert fee.key.period_start == date(2026, 11, 17)


def test_an_iru_with_two_instalments_bills_each_when_due_and_adds_up_exactly() -> None:
    plan = (
        Instalment(Decimal("33.3"), months_after_rfs=0),
        Instalment(Decimal("66.7"), months_after_rfs=6),
    )
    terms = iru(date(2026, 11, 17), plan=plan, fee=usd("1000000.01"))
    november = of_kind(charges_due(terms, month(2026, 11), []), ChargeKind.IRU_FEE)
    assert [(c.period.start, c.amount) for c in november] == [
        (date(2026, 11, 17), usd("333000.00"))
    ]
    billed = runs(terms, month(2026, 11), month(2027, 4), month(2027, 5))
    fees = of_kind(billed, ChargeKind.IRU_FEE)
    assert [c.period.start for c in fees] == [date(2026, 11, 17), date(2027, 5, 17)]
    assert sum(amounts(fees), usd("0")) == usd("1000000.01")
    assert "instalment 2 of 2" in fees[1].description


def test_an_instalment_on_a_fixed_date_is_due_even_before_ready_for_service() -> None:
    plan = (
        Instalment(Decimal(20), due_date=date(2026, 6, 30)),
        Instalment(Decimal(80), months_after_rfs=0),
    )
    terms = iru(None, plan=plan)
    assert amounts(charges_due(terms, month(2026, 6), [])) == [usd("200000.00")]


def test_a_payment_plan_must_add_up_to_one_hundred_percent() -> None:
    with pytest.raises(InvalidTermsError, match="add up to 90"):
        iru(date(2026, 11, 17), plan=(Instalment(Decimal(90), months_after_rfs=0),))
    with pytest.raises(InvalidTermsError):
        Instalment(Decimal(50))
    with pytest.raises(InvalidTermsError):
        Instalment(Decimal(0), months_after_rfs=0)


def test_om_is_billed_yearly_in_advance_from_ready_for_service() -> None:
    terms = iru(date(2026, 11, 17))
    billed = runs(terms, *(month(2026, 11), month(2027, 10), month(2027, 11), month(2028, 11)))
    om = of_kind(billed, ChargeKind.OM)
    assert [(c.period, c.amount) for c in om] == [
        (Period(date(2026, 11, 17), date(2027, 11, 16)), usd("40000.00")),
        (Period(date(2027, 11, 17), date(2028, 11, 16)), usd("40000.00")),
        (Period(date(2028, 11, 17), date(2029, 11, 16)), usd("40000.00")),
    ]


def test_an_iru_termination_credits_neither_fee_nor_om() -> None:
    rfs = date(2026, 11, 17)
    billed = runs(iru(rfs), month(2026, 11))
    terminated = iru(rfs, end=date(2027, 3, 1))
    assert charges_due(terminated, month(2028, 1), billed) == []


def test_om_of_a_term_that_is_not_whole_years_ends_with_a_short_year() -> None:
    terms = iru(date(2027, 1, 1), term_months=18)
    om = of_kind(runs(terms, month(2028, 12)), ChargeKind.OM)
    assert [(c.period, c.amount) for c in om] == [
        (Period(date(2027, 1, 1), date(2027, 12, 31)), usd("40000.00")),
        (Period(date(2028, 1, 1), date(2028, 6, 30)), usd("19890.71")),  # 182 of 366 days
    ]


def test_om_stops_at_the_end_of_the_iru_term() -> None:
    terms = iru(date(2027, 1, 1), term_months=24)
    om = of_kind(runs(terms, month(2029, 6)), ChargeKind.OM)
    assert [c.period.start for c in om] == [date(2027, 1, 1), date(2028, 1, 1)]


# Terms that cannot be billed


def test_terms_refuse_what_cannot_be_billed() -> None:
    with pytest.raises(InvalidTermsError, match="one currency"):
        lease(date(2026, 11, 1), nrc=Money(Decimal(1), "EUR"))
    with pytest.raises(InvalidTermsError, match="ends on or after"):
        lease(date(2026, 11, 10), end=date(2026, 11, 9))
    with pytest.raises(InvalidTermsError, match="has an IRU fee"):
        ServiceTerms(1, CommercialModel.IRU, 120, date(2026, 11, 1))
