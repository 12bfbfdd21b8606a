"""Prices as Money (SPEC 3): a unit's charges, discounts, O&M, a line's and a quote's totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.money import CurrencyMismatchError, Money
from billing.sales.models import Quote, QuoteLine
from billing.sales.pricing import (
    NO_CHARGES,
    Charges,
    Prices,
    annual_om,
    line_prices,
    net_of_discount,
    quote_prices,
)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_a_lease_unit_has_an_mrc_and_an_nrc_and_no_iru_charges() -> None:
    unit = Charges.of(
        "USD", mrc=Decimal("4800"), nrc=Decimal("5000"), iru_fee=None, om_rate_percent=None
    )
    assert unit == Charges(usd("4800"), usd("5000"), None, None)
    assert (unit.monthly, unit.one_time, unit.yearly) == (usd("4800"), usd("5000"), None)


def test_an_iru_unit_pays_a_yearly_om_fee_of_its_rate_times_the_fee() -> None:
    unit = Charges.of(
        "USD", mrc=None, nrc=None, iru_fee=Decimal("1750000"), om_rate_percent=Decimal("4")
    )
    assert unit.annual_om == usd("70000.00")
    assert (unit.monthly, unit.one_time, unit.yearly) == (None, usd("1750000"), usd("70000.00"))


@pytest.mark.parametrize(
    ("fee", "rate", "om"),
    [
        (usd("1234.57"), Decimal("4"), usd("49.38")),  # 49.3828
        (usd("1234.63"), Decimal("4"), usd("49.39")),  # 49.3852
        (usd("12.5"), Decimal("4.1"), usd("0.51")),  # 0.5125: half-up
        (Money(Decimal("1000"), "JPY"), Decimal("4.05"), Money(Decimal("41"), "JPY")),  # 40.5
        (Money(Decimal("1.234"), "KWD"), Decimal("50"), Money(Decimal("0.617"), "KWD")),
    ],
)
def test_the_om_fee_is_rounded_half_up_to_the_minor_unit(
    fee: Money, rate: Decimal, om: Money
) -> None:
    result = annual_om(fee, rate)
    assert result == om
    assert result is not None and str(result.amount) == str(om.amount)  # to the minor unit


def test_no_fee_or_no_rate_means_no_om() -> None:
    assert annual_om(None, Decimal("4")) is None
    assert annual_om(usd("100"), None) is None


@pytest.mark.parametrize(
    ("price", "discount", "net"),
    [
        (usd("4800"), Decimal("10"), usd("4320.00")),
        (usd("999.99"), Decimal("12.5"), usd("874.99")),  # 874.99125
        (usd("8640"), Decimal("0"), usd("8640.00")),
        (Money(Decimal("1001"), "JPY"), Decimal("12.5"), Money(Decimal("876"), "JPY")),  # 875.875
    ],
)
def test_a_discount_is_rounded_once_to_the_minor_unit(
    price: Money, discount: Decimal, net: Money
) -> None:
    assert net_of_discount(price, discount) == net
    assert net_of_discount(None, discount) is None


def test_charges_multiply_and_add_charge_by_charge() -> None:
    lease = Charges(usd("7776"), usd("8100"), None, None)
    iru = Charges(None, None, usd("1750000"), usd("70000"))
    total = lease.times(2).plus(iru).plus(NO_CHARGES)
    assert total == Charges(usd("15552"), usd("16200"), usd("1750000"), usd("70000"))
    assert total.one_time == usd("1766200")
    assert NO_CHARGES.times(3) == NO_CHARGES


def test_charges_in_two_currencies_do_not_add() -> None:
    with pytest.raises(CurrencyMismatchError):
        Charges(usd("1"), None, None, None).plus(
            Charges(Money(Decimal("1"), "EUR"), None, None, None)
        )


def test_a_line_has_list_and_net_unit_prices_and_a_total() -> None:
    prices = line_prices(
        "USD",
        quantity=2,
        discount_percent=Decimal("10"),
        om_rate_percent=None,
        listed=Prices(Decimal("8640.00"), Decimal("9000.00"), None, None),
        net=Prices(Decimal("7776.00"), Decimal("8100.00"), None, None),
    )
    assert prices.list_unit.mrc == usd("8640")
    assert prices.unit.mrc == usd("7776")
    assert prices.total == Charges(usd("15552"), usd("16200"), None, None)


def _line(position: int, quantity: int, **prices: Decimal | None) -> QuoteLine:
    fields: dict[str, Decimal | None] = {
        "list_mrc": None,
        "list_nrc": None,
        "list_iru_fee": None,
        "mrc": None,
        "nrc": None,
        "iru_fee": None,
        "om_rate_percent": None,
    }
    fields.update(prices)
    return QuoteLine(position=position, quantity=quantity, discount_percent=Decimal(0), **fields)


def test_a_quote_totals_every_line_by_charge_in_its_currency() -> None:
    quote = Quote(
        currency="USD",
        lines=[
            _line(
                1,
                2,
                list_mrc=Decimal("8640.00"),
                mrc=Decimal("7776.00"),
                list_nrc=Decimal("9000.00"),
                nrc=Decimal("8100.00"),
            ),
            _line(2, 1, list_mrc=Decimal("4500.00"), mrc=Decimal("4275.00"), nrc=Decimal("0")),
            _line(
                3,
                5,
                list_iru_fee=Decimal("30000000.00"),
                iru_fee=Decimal("30000000.00"),
                om_rate_percent=Decimal("4"),
            ),
        ],
    )
    prices = quote_prices(quote)
    assert [p.total.mrc for p in prices.lines] == [usd("15552"), usd("4275"), None]
    assert prices.lines[2].unit.annual_om == usd("1200000.00")
    assert prices.lines[2].list_unit.annual_om == usd("1200000.00")
    totals = prices.totals
    assert totals.monthly == usd("19827.00")
    assert totals.one_time == usd("150016200.00")  # 2 × 8,100 NRC + 0 + 5 × 30,000,000 IRU
    assert totals.yearly == usd("6000000.00")


def test_a_yen_quote_totals_in_whole_yen() -> None:
    quote = Quote(currency="JPY", lines=[_line(1, 3, mrc=Decimal("1000"), nrc=Decimal("500"))])
    totals = quote_prices(quote).totals
    assert totals.monthly == Money(Decimal("3000"), "JPY")
    assert totals.monthly is not None and totals.monthly.as_json()["amount"] == "3000"
