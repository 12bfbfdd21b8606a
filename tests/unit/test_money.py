from decimal import Decimal

import pytest

from billing.money import CurrencyMismatchError, Money, allocate, format_money, minor_unit


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


@pytest.mark.parametrize(
    ("currency", "exponent", "amount", "rounded", "minor"),
    [
        ("USD", 2, "1234.565", "1234.57", 123457),
        ("JPY", 0, "1234.5", "1235", 1235),
        ("KWD", 3, "1.2345", "1.235", 1235),
        ("KZT", 2, "-0.005", "-0.01", -1),  # half-up means away from zero
    ],
)
def test_minor_units_come_from_iso_4217(
    currency: str, exponent: int, amount: str, rounded: str, minor: int
) -> None:
    assert minor_unit(currency) == exponent
    money = Money(Decimal(amount), currency)
    assert money.rounded() == Money(Decimal(rounded), currency)
    assert str(money.rounded().amount) == rounded  # the exponent too: JPY has no decimals
    assert money.minor == minor
    assert money.as_json() == {"amount": rounded, "currency": currency}


def test_unknown_currencies_are_refused() -> None:
    for code in ("XYZ", "usd", "", "DOLLAR"):
        with pytest.raises(ValueError, match="unknown currency"):
            Money(Decimal(1), code)


def test_allocate_splits_to_the_minor_unit_of_each_currency() -> None:
    yen = allocate(Money(Decimal("100"), "JPY"), [1, 1, 1])
    assert [p.amount for p in yen] == [Decimal("34"), Decimal("33"), Decimal("33")]
    dinars = allocate(Money(Decimal("1.000"), "KWD"), [1, 1, 1])
    assert [p.amount for p in dinars] == [Decimal("0.334"), Decimal("0.333"), Decimal("0.333")]


def test_percent_is_exact_until_rounded() -> None:
    fee = Money(Decimal("999.99"), "USD")
    assert fee.percent(Decimal("87.5")).amount == Decimal("874.99125")
    assert fee.percent(Decimal("87.5")).rounded().amount == Decimal("874.99")


@pytest.mark.parametrize(
    ("amount", "currency", "plain", "with_code"),
    [
        ("12345.6", "USD", "12,345.60", "USD 12,345.60"),
        ("1234.5", "JPY", "1,235", "JPY 1,235"),
        ("1234.5", "KWD", "1,234.500", "KWD 1,234.500"),
        ("-1.5", "EUR", "-1.50", "EUR -1.50"),
        (
            "0.125",
            "USD",
            "0.13",
            "USD 0.13",
        ),  # half-up, as Money rounds; Babel alone rounds to even
    ],
)
def test_babel_formats_amounts_per_the_currency_minor_unit(
    amount: str, currency: str, plain: str, with_code: str
) -> None:
    money = Money(Decimal(amount), currency)
    assert format_money(money) == plain
    assert format_money(money, with_code=True) == with_code
    assert str(money) == with_code


def test_the_locale_decides_separators() -> None:
    assert format_money(Money(Decimal("12345.6"), "EUR"), locale="de_DE") == "12.345,60"
