from decimal import Decimal

import pytest

from billing.money import CurrencyMismatchError, Money, allocate


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(CurrencyMismatchError):
        Money(Decimal("1"), "USD") + Money(Decimal("1"), "EUR")


def test_rounding_is_half_up_to_the_minor_unit() -> None:
    assert Money(Decimal("2.345"), "USD").rounded().amount == Decimal("2.35")
    assert Money(Decimal("2.5"), "JPY").rounded().amount == Decimal("3")


def test_allocate_adds_up_exactly_and_ties_go_to_the_first_party() -> None:
    parts = allocate(Money(Decimal("0.01"), "USD"), [1, 1])
    assert [p.amount for p in parts] == [Decimal("0.01"), Decimal("0.00")]
    parts = allocate(Money(Decimal("100.00"), "USD"), [345, 330])
    assert sum(p.amount for p in parts) == Decimal("100.00")
    assert [p.amount for p in parts] == [Decimal("51.11"), Decimal("48.89")]
    parts = allocate(Money(Decimal("-10.00"), "USD"), [1, 1, 1])
    assert [p.amount for p in parts] == [Decimal("-3.34"), Decimal("-3.33"), Decimal("-3.33")]
