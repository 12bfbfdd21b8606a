"""Settlement and revenue recognition as pure rules (SPEC 5): the net between the parties, USD
conversion at the stored rate, the collected basis, and an IRU recognised by day over 15 years."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from billing.calendar import Period, add_months, billing_period
from billing.money import Money
from billing.settlement.recognition import (
    recognise,
    recognise_parts,
    recognised_in,
    recognition_span,
    term_of,
)
from billing.settlement.rules import LineValue, paid_fraction, settle, to_usd, usd_rate_of

AZT, KTC = 1, 2


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_a_kzt_line_converts_at_the_invoice_rate_once_half_up() -> None:
    # 1,000.00 KZT at 512.34 per USD = 1.951829...; 2,561.70 KZT = 5.000000 exactly.
    assert to_usd(Money(Decimal("1000.00"), "KZT"), Decimal("512.34")) == usd("1.95")
    assert to_usd(Money(Decimal("2561.70"), "KZT"), Decimal("512.34")) == usd("5.00")
    assert to_usd(usd("10.005"), Decimal(1)) == usd("10.01")


def test_the_stored_rate_is_used_only_when_it_is_from_usd() -> None:
    assert usd_rate_of("USD", None, None) == Decimal(1)
    assert usd_rate_of("KZT", "USD", Decimal("512.34")) == Decimal("512.34")
    assert usd_rate_of("KZT", "EUR", Decimal("560")) is None
    assert usd_rate_of("AZN", None, None) is None


def test_the_net_is_what_each_holds_for_the_other() -> None:
    lines = [
        # AZT sold 10,000: AZT 5,250 / KTC 4,750.
        LineValue(1, AZT, usd("10000"), {AZT: usd("5250"), KTC: usd("4750")}, Decimal(1)),
        # KTC sold 1,024,680 KZT at 512.34 (= USD 2,000): KTC 1,050 / AZT 950 in USD.
        LineValue(
            2, KTC, Money(Decimal("1024680"), "KZT"),
            {AZT: Money(Decimal("486723"), "KZT"), KTC: Money(Decimal("537957"), "KZT")},
            Decimal("512.34"),
        ),
        # A credit note's mirror: -1,000 of AZT's line.
        LineValue(3, AZT, usd("-1000"), {AZT: usd("-525"), KTC: usd("-475")}, Decimal(1)),
        # Disputed: withheld, listed, not counted.
        LineValue(4, AZT, usd("300"), {AZT: usd("157.50"), KTC: usd("142.50")}, Decimal(1),
                  disputed=True),
    ]  # fmt: skip
    result = settle([AZT, KTC], lines)
    assert result.figures[AZT].billed == usd("9000")
    assert result.figures[AZT].other_share == usd("4275")
    assert result.figures[KTC].billed == usd("2000")
    assert result.figures[KTC].other_share == usd("950")
    assert result.figures[KTC].issuer_share == usd("1050")
    assert (result.net.payer, result.net.payee, result.net.amount) == (AZT, KTC, usd("3325"))
    assert result.withheld == {4: usd("300")}


def test_even_parties_owe_nothing() -> None:
    lines = [
        LineValue(1, AZT, usd("100"), {AZT: usd("50"), KTC: usd("50")}, Decimal(1)),
        LineValue(2, KTC, usd("100"), {AZT: usd("50"), KTC: usd("50")}, Decimal(1)),
    ]
    net = settle([AZT, KTC], lines).net
    assert (net.payer, net.payee, net.amount) == (None, None, usd("0"))


def test_the_collected_basis_counts_the_paid_part_pro_rata() -> None:
    fraction = paid_fraction(Decimal("1180.00"), Decimal("590.00"))
    assert fraction == Decimal("0.5")
    line = LineValue(1, KTC, usd("1000"), {AZT: usd("475"), KTC: usd("525")}, Decimal(1), fraction)
    figures = settle([AZT, KTC], [line]).figures[KTC]
    assert (figures.billed, figures.other_share) == (usd("500"), usd("237.50"))
    assert paid_fraction(Decimal(0), Decimal(0)) == 0
    assert paid_fraction(Decimal(10), Decimal(20)) == 1


# -- revenue recognition -------------------------------------------------------------------

FEE = usd("1500000.00")
RFS = date(2026, 11, 17)


def by_day(days: int, of: int) -> Money:
    return usd(str((FEE.amount * days / of).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))


def test_an_iru_is_recognised_by_day_over_its_15_year_term() -> None:
    term = term_of(RFS, 180)
    assert term == Period(RFS, date(2041, 11, 16))
    assert term.days == 15 * 365 + 4  # 2028, 2032, 2036 and 2040 are leap years
    span = recognition_span("iru_fee", billing_period(RFS), term)
    november = billing_period(RFS)
    # 17-30 November: 14 of the term's 5,479 days.
    assert recognised_in(FEE, span, RFS, november) == by_day(14, 5479) == usd("3832.82")
    # December 2026, a full month of 31 days, after the fee was issued in November.
    december = billing_period(date(2026, 12, 1))
    assert recognised_in(FEE, span, RFS, december) == by_day(45, 5479) - by_day(14, 5479)
    assert recognised_in(FEE, span, RFS, december).amount in (
        by_day(31, 5479).amount,
        by_day(31, 5479).amount + Decimal("0.01"),
        by_day(31, 5479).amount - Decimal("0.01"),
    )
    # Every month of the term: 181 months touch it (November 2026 to November 2041).
    months = [billing_period(add_months(date(2026, 11, 1), n)) for n in range(181)]
    amounts = [recognised_in(FEE, span, RFS, m) for m in months]
    assert sum((a for a in amounts), usd("0")) == FEE
    assert all(a.amount > 0 for a in amounts)
    assert recognised_in(FEE, span, RFS, billing_period(date(2041, 12, 1))) == usd("0")
    # The deferred balance runs down to nothing at the term's end.
    assert recognise(FEE, span, RFS, november).deferred == FEE - by_day(14, 5479)
    assert recognise(FEE, span, RFS, months[-1]).deferred == usd("0")


def test_an_iru_issued_late_catches_up_in_its_month() -> None:
    span = term_of(RFS, 180)
    issued = date(2027, 1, 10)
    january = billing_period(issued)
    assert recognised_in(FEE, span, issued, billing_period(RFS)) == usd("0")
    assert recognised_in(FEE, span, issued, january) == by_day(14 + 31 + 31, 5479)


def test_mrc_in_its_service_month_and_one_time_charges_when_charged() -> None:
    december = Period(date(2026, 12, 1), date(2026, 12, 31))
    issued = date(2026, 11, 30)  # billed in advance
    mrc = recognition_span("mrc", december, None)
    assert recognise(usd("12000"), mrc, issued, billing_period(issued)).recognised == usd("0")
    assert recognise(usd("12000"), mrc, issued, billing_period(issued)).deferred == usd("12000")
    assert recognise(usd("12000"), mrc, issued, december).recognised == usd("12000")
    nrc = recognition_span("nrc", Period(date(2026, 11, 17), date(2026, 11, 17)), None)
    assert recognise(usd("500"), nrc, issued, billing_period(issued)).recognised == usd("500")


def test_om_by_day_over_its_year() -> None:
    year = Period(RFS, RFS + timedelta(days=364))
    span = recognition_span("om", year, None)
    november = billing_period(RFS)
    assert recognised_in(usd("36500"), span, RFS, november) == usd("1400.00")


def test_an_iru_is_recognised_once_then_split_so_no_month_drifts() -> None:
    """SPEC 5: the line's month = round(cumulative to its end) - round(cumulative to the month
    before), then split between the parties; 181 months, the first and last partial."""
    span = term_of(RFS, 180)
    months = [billing_period(add_months(date(2026, 11, 1), n)) for n in range(181)]
    assert (months[0].start, months[-1].end) == (date(2026, 11, 1), date(2041, 11, 30))
    parts = {AZT: usd("787500.00"), KTC: usd("712500.00")}  # 5% commission, then 50/50
    per_month = [recognise_parts(FEE, parts, span, RFS, m) for m in months]
    elapsed = 0
    for month, split in zip(months, per_month, strict=True):
        covered = (min(month.end, span.end) - span.start).days + 1
        expected = by_day(covered, span.days) - by_day(elapsed, span.days)
        elapsed = covered
        assert split[AZT].recognised + split[KTC].recognised == expected
        # Each party's month is its share of the line's month, within a cent.
        for party, part in parts.items():
            share = expected.amount * part.amount / FEE.amount
            assert abs(split[party].recognised.amount - share) <= Decimal("0.01")
    for party, part in parts.items():
        assert sum((m[party].recognised for m in per_month), usd("0")) == part
        assert per_month[-1][party].deferred == usd("0")
    assert sum((m[AZT].recognised + m[KTC].recognised for m in per_month), usd("0")) == FEE
    # Rounding each party's part on its own (the rule before) drifts from the line's month.
    drifting = [
        m
        for m in months
        if recognised_in(parts[AZT], span, RFS, m) + recognised_in(parts[KTC], span, RFS, m)
        != recognised_in(FEE, span, RFS, m)
    ]
    assert len(drifting) == 58


def test_a_party_recognises_nothing_before_the_line_is_issued_then_catches_up() -> None:
    span = term_of(RFS, 180)
    parts = {AZT: usd("787500.00"), KTC: usd("712500.00")}
    issued = date(2027, 1, 10)
    early = recognise_parts(FEE, parts, span, issued, billing_period(RFS))
    assert all(r.recognised == usd("0") and r.deferred == usd("0") for r in early.values())
    january = recognise_parts(FEE, parts, span, issued, billing_period(issued))
    assert january[AZT].recognised + january[KTC].recognised == by_day(14 + 31 + 31, 5479)
    assert january[AZT].billed == parts[AZT]
