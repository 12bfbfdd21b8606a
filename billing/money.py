"""Money: an exact Decimal amount with its currency (ISO 4217).

Mixing currencies is an error. Rounding happens at named points, half-up to the currency's
minor unit. Splits go through `allocate`, whose parts always add up to the whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

DEFAULT_LOCALE = "en_US"

# The one rounding mode (SPEC 4): amounts to their currency's minor unit, and exchange rates to
# the places they are kept to (billing/invoicing/fx.py's round_rate), are rounded half-up.
ROUNDING = ROUND_HALF_UP

BILLING_CURRENCIES = ("USD", "AZN", "KZT", "EUR")


class CurrencyMismatchError(ValueError):
    pass


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def minor_unit(currency: str) -> int:
    """The currency's minor-unit exponent from ISO 4217 data (CLDR, via Babel): JPY 0, KWD 3."""
    if currency not in _currencies():
        raise ValueError(f"unknown currency {currency!r}")
    return int(get_currency_precision(currency))


def to_decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money is never a float; pass a string or a Decimal")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        minor_unit(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float):
            raise TypeError("multiply money by a Decimal, not a float")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def percent(self, rate: Decimal | int) -> Money:
        """`rate` percent of this amount, exact (round it where the rule says)."""
        return Money(self.amount * to_decimal(rate) / 100, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def rounded(self) -> Money:
        """Round half-up to the currency's minor unit."""
        quantum = Decimal(1).scaleb(-minor_unit(self.currency))
        return Money(self.amount.quantize(quantum, rounding=ROUNDING), self.currency)

    @property
    def minor(self) -> int:
        return int(self.rounded().amount.scaleb(minor_unit(self.currency)))

    def as_json(self) -> dict[str, str]:
        return {"amount": str(self.rounded().amount), "currency": self.currency}

    def __str__(self) -> str:
        return format_money(self, with_code=True)


def total(amounts: Iterable[Money], currency: str) -> Money:
    """The sum of `amounts`, all in `currency` (zero when there are none); exact, unrounded."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


def format_money(money: Money, *, locale: str = DEFAULT_LOCALE, with_code: bool = False) -> str:
    """The amount as the locale writes it, to the currency's minor unit: 12,345.60; 1,235 (JPY).

    With `with_code`, the ISO code leads: 'USD 12,345.60' reads the same in every currency, where
    symbols do not ('$' is also other dollars). Rounded half-up here, as everywhere, not by Babel.
    """
    pattern = "¤¤ #,##0.00;¤¤ -#,##0.00" if with_code else "#,##0.00"
    # Babel replaces the pattern's two decimals with the currency's own minor unit.
    return format_currency(money.rounded().amount, money.currency, format=pattern, locale=locale)


def allocate(total: Money, weights: Sequence[Decimal | int]) -> list[Money]:
    """Split `total` in proportion to `weights`, exactly to the minor unit.

    Largest remainder; ties go to the earlier weight (the party listed first).
    """
    if not weights or any(to_decimal(w) < 0 for w in weights):
        raise ValueError("weights must be non-empty and non-negative")
    weight_sum = sum((to_decimal(w) for w in weights), Decimal(0))
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    exponent = minor_unit(total.currency)
    units = total.minor
    sign = -1 if units < 0 else 1
    units = abs(units)
    exact = [Decimal(units) * to_decimal(w) / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    left = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Money(Decimal(sign * f).scaleb(-exponent), total.currency) for f in floors]
