"""Amounts and dates are written with ASCII digits only (issue 14): Python's Decimal() takes
full-width and other scripts' digits and underscores, so the one parser refuses them first."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.validation import InvalidValueError, parse_date, parse_decimal

AMOUNT = {"places": 2, "max_digits": 16}


@pytest.mark.parametrize(
    "text",
    ["１０", "١٠", "१०", "1_000", "１０.５", "10.５", "²", "1e１", "٣.00", "𝟙𝟘"],
)
def test_an_amount_in_other_digits_is_refused_with_a_message(text: str) -> None:
    with pytest.raises(InvalidValueError, match="digits 0-9"):
        parse_decimal(text, **AMOUNT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", "10.00"), (" 10.5 ", "10.50"), ("+7", "7.00"), (".5", "0.50"), ("1E+2", "100.00")],
)
def test_ascii_amounts_still_parse(text: str, expected: str) -> None:
    assert parse_decimal(text, **AMOUNT) == Decimal(expected)  # type: ignore[arg-type]


def test_a_date_in_other_digits_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="YYYY-MM-DD"):
        parse_date("２０２６-１１-３０")
