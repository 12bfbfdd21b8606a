"""What things cost, as Money: a unit's charges, a line's, a quote's totals (SPEC 3).

Pure arithmetic on values. Rounding happens at two named points, both half-up to the currency's
minor unit: the discounted unit price, and the yearly O&M fee of one unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol

from billing.money import Money
from billing.sales.models import Quote, QuoteLine

MODELS = ("lease", "iru")


def money(amount: Decimal | None, currency: str) -> Money | None:
    """The amount of a nullable price column as Money (None where the model has no such charge)."""
    return None if amount is None else Money(amount, currency)


def annual_om(iru_fee: Money | None, om_rate_percent: Decimal | None) -> Money | None:
    """The yearly O&M fee of one unit: the rate times the IRU fee, rounded to the minor unit."""
    if iru_fee is None or om_rate_percent is None:
        return None
    return iru_fee.percent(om_rate_percent).rounded()


def net_of_discount(amount: Money | None, discount_percent: Decimal) -> Money | None:
    """The unit price after discount, rounded to the minor unit (the price a quote copies)."""
    if amount is None:
        return None
    return amount.percent(Decimal(100) - discount_percent).rounded()


def _add(a: Money | None, b: Money | None) -> Money | None:
    return b if a is None else a if b is None else a + b


class Charges(NamedTuple):
    """The charges of a unit, a line or a quote; None where the model has no such charge."""

    mrc: Money | None
    nrc: Money | None
    iru_fee: Money | None
    annual_om: Money | None

    @classmethod
    def of(
        cls,
        currency: str,
        *,
        mrc: Decimal | None,
        nrc: Decimal | None,
        iru_fee: Decimal | None,
        om_rate_percent: Decimal | None,
    ) -> Charges:
        fee = money(iru_fee, currency)
        return cls(
            money(mrc, currency),
            money(nrc, currency),
            fee,
            annual_om(fee, om_rate_percent),
        )

    def times(self, quantity: int) -> Charges:
        return Charges(*(None if c is None else c * quantity for c in self))

    def plus(self, other: Charges) -> Charges:
        return Charges(*(_add(a, b) for a, b in zip(self, other, strict=True)))

    @property
    def monthly(self) -> Money | None:
        return self.mrc

    @property
    def one_time(self) -> Money | None:
        return _add(self.nrc, self.iru_fee)

    @property
    def yearly(self) -> Money | None:
        return self.annual_om


NO_CHARGES = Charges(None, None, None, None)


class PricedColumns(Protocol):
    """What a quote line and a service both carry: prices copied from the price book."""

    @property
    def mrc(self) -> Decimal | None: ...
    @property
    def nrc(self) -> Decimal | None: ...
    @property
    def iru_fee(self) -> Decimal | None: ...
    @property
    def om_rate_percent(self) -> Decimal | None: ...


def unit_charges(row: PricedColumns, currency: str) -> Charges:
    """The charges of one unit of a quote line or of one service, net of discount."""
    return Charges.of(
        currency,
        mrc=row.mrc,
        nrc=row.nrc,
        iru_fee=row.iru_fee,
        om_rate_percent=row.om_rate_percent,
    )


@dataclass(frozen=True)
class LinePrices:
    """One quote line's prices: list and net per unit, and the line total."""

    quantity: int
    discount_percent: Decimal
    om_rate_percent: Decimal | None
    list_unit: Charges
    unit: Charges

    @property
    def total(self) -> Charges:
        return self.unit.times(self.quantity)


@dataclass(frozen=True)
class QuotePrices:
    """Every line's prices and the quote's totals, computed once for whoever shows them."""

    currency: str
    lines: list[LinePrices]

    @property
    def totals(self) -> Charges:
        totals = NO_CHARGES
        for line in self.lines:
            totals = totals.plus(line.total)
        return totals


def amount(value: Money | None) -> Decimal | None:
    """The amount to store in a price column (None stays None)."""
    return None if value is None else value.amount


def line_prices(
    currency: str,
    *,
    quantity: int,
    discount_percent: Decimal,
    om_rate_percent: Decimal | None,
    listed: PricedColumns,
    net: PricedColumns,
) -> LinePrices:
    return LinePrices(
        quantity=quantity,
        discount_percent=discount_percent,
        om_rate_percent=om_rate_percent,
        list_unit=unit_charges(listed, currency),
        unit=unit_charges(net, currency),
    )


@dataclass(frozen=True)
class Prices:
    """Plain price columns, for prices not (yet) stored on a row."""

    mrc: Decimal | None
    nrc: Decimal | None
    iru_fee: Decimal | None
    om_rate_percent: Decimal | None


def quote_line_prices(line: QuoteLine, currency: str) -> LinePrices:
    """A saved line's prices, from what it copied from the price book."""
    rate = line.om_rate_percent
    return line_prices(
        currency,
        quantity=line.quantity,
        discount_percent=line.discount_percent,
        om_rate_percent=rate,
        listed=Prices(line.list_mrc, line.list_nrc, line.list_iru_fee, rate),
        net=line,
    )


def quote_prices(quote: Quote) -> QuotePrices:
    return QuotePrices(
        quote.currency, [quote_line_prices(ln, quote.currency) for ln in quote.lines]
    )
