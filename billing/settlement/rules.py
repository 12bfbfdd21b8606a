"""The settlement's arithmetic (SPEC 5): pure rules on values, no session.

Every figure is in USD. A line in another currency is converted at the rate stored on its
invoice, which is "`rate` units of the invoice currency per one unit of `fx_base`" (the line's
price currency; invoicing converts prices into the invoice currency at it). Prices are in USD,
so for a KZT, AZN or EUR invoice the stored rate is USD → invoice currency and a line's USD value
is its amount divided by the rate. A USD invoice has rate 1. An invoice whose stored rate is not
from USD (its prices were in its own currency) needs a USD rate from elsewhere: the caller looks
it up and passes it in as `usd_rate`, the same meaning.

Each line converts once, half-up to the cent: its billed amount and the other party's part, the
issuer's own part being the difference, so the parts still add up to the line in USD.

Basis "collected" counts only the paid part of each invoice, pro rata over its lines
(paid_total / total). Credit notes collect nothing: on that basis they count zero (a refund of
what was paid is a payment matter). Disputed invoices are withheld and listed, never counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from billing.money import Money

USD = "USD"


@dataclass(frozen=True, slots=True)
class LineValue:
    """One issued line as the settlement sees it (amounts in the invoice's currency)."""

    invoice_id: int
    issuer_id: int
    amount: Money
    parts: Mapping[int, Money]  # party id -> its stored part of the line
    usd_rate: Decimal  # units of the invoice currency per 1 USD
    paid_fraction: Decimal = Decimal(1)  # the part of the invoice that counts (basis)
    disputed: bool = False


@dataclass(frozen=True, slots=True)
class LineInUsd:
    billed: Money
    issuer_share: Money
    other_share: Money


@dataclass(slots=True)
class IssuerFigures:
    issuer_id: int
    other_id: int
    billed: Money = field(default_factory=lambda: Money.zero(USD))
    issuer_share: Money = field(default_factory=lambda: Money.zero(USD))
    other_share: Money = field(default_factory=lambda: Money.zero(USD))
    lines: int = 0


@dataclass(frozen=True, slots=True)
class Net:
    """Who owes whom: `payer` pays `amount` to `payee` (both None when they are even)."""

    payer: int | None
    payee: int | None
    amount: Money


@dataclass(frozen=True, slots=True)
class Settlement:
    figures: dict[int, IssuerFigures]  # issuer id -> its figures, in the parties' order
    net: Net
    withheld: dict[int, Money]  # disputed invoice id -> what its lines came to (USD)


def to_usd(amount: Money, usd_rate: Decimal) -> Money:
    """`amount` in USD at `usd_rate` (invoice currency per 1 USD), rounded half-up to the cent."""
    if not (usd_rate.is_finite() and usd_rate > 0):
        raise ValueError("a USD rate is a positive number")
    if amount.currency == USD:
        return amount.rounded()
    return Money(amount.amount / usd_rate, USD).rounded()


def usd_rate_of(currency: str, fx_base: str | None, fx_rate: Decimal | None) -> Decimal | None:
    """The USD rate an invoice stores, or None when it stores none (look one up)."""
    if currency == USD:
        return Decimal(1)
    if fx_base == USD and fx_rate is not None:
        return fx_rate
    return None


def other_party(parties: Sequence[int], issuer_id: int) -> int:
    others = [p for p in parties if p != issuer_id]
    if len(others) != 1:
        raise ValueError("a settlement is between exactly two parties")
    return others[0]


def line_in_usd(line: LineValue, other_id: int) -> LineInUsd:
    """The line's counted amount and the other party's part in USD; the issuer keeps the rest."""
    billed = to_usd(line.amount * line.paid_fraction, line.usd_rate)
    other_part = line.parts.get(other_id, Money.zero(line.amount.currency))
    other = to_usd(other_part * line.paid_fraction, line.usd_rate)
    return LineInUsd(billed, billed - other, other)


def settle(parties: Sequence[int], lines: Iterable[LineValue]) -> Settlement:
    """Each issuer's figures and the net between the two parties (listed in agreement order)."""
    if len(parties) != 2:
        raise ValueError("a settlement is between exactly two parties")
    figures = {p: IssuerFigures(p, other_party(parties, p)) for p in parties}
    withheld: dict[int, Money] = {}
    for line in lines:
        mine = figures[line.issuer_id]
        usd = line_in_usd(line, mine.other_id)
        if line.disputed:
            withheld[line.invoice_id] = withheld.get(line.invoice_id, Money.zero(USD)) + usd.billed
            continue
        mine.billed += usd.billed
        mine.issuer_share += usd.issuer_share
        mine.other_share += usd.other_share
        mine.lines += 1
    return Settlement(figures, net_between(parties, figures), withheld)


def net_between(parties: Sequence[int], figures: Mapping[int, IssuerFigures]) -> Net:
    """What the first party holds for the second minus what the second holds for the first."""
    first, second = parties
    difference = figures[first].other_share - figures[second].other_share
    if difference.amount > 0:
        return Net(first, second, difference)
    if difference.amount < 0:
        return Net(second, first, -difference)
    return Net(None, None, Money.zero(USD))


def paid_fraction(total: Decimal, paid_total: Decimal) -> Decimal:
    """The collected part of an invoice: paid / total, at most all of it."""
    if total <= 0:
        return Decimal(0)
    return min(paid_total / total, Decimal(1))
