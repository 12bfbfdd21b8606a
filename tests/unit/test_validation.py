"""The one set of field rules the API and the forms share (billing/validation.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.validation import (
    InvalidValueError,
    clean_text,
    parse_date,
    parse_decimal,
    parse_integer,
)

PERCENT = {"places": 2, "max_digits": 5, "minimum": Decimal(0), "maximum": Decimal(100)}


@pytest.mark.parametrize("value", [12.9, "12.9", "1e3", True, "", " ", "12a", None, [12]])
def test_an_integer_is_never_truncated_or_guessed(value: object) -> None:
    with pytest.raises(InvalidValueError, match="whole number"):
        parse_integer(value)


def test_an_integer_of_5000_digits_is_refused_before_python_converts_it() -> None:
    with pytest.raises(InvalidValueError):
        parse_integer("9" * 5000)


def test_integers_in_range_pass_and_out_of_range_are_named() -> None:
    assert parse_integer("36", minimum=12, maximum=60) == 36
    assert parse_integer(60, minimum=12, maximum=60) == 60
    with pytest.raises(InvalidValueError, match="between 12 and 60"):
        parse_integer(61, minimum=12, maximum=60)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("-Infinity", "finite"),
        ("sNaN", "finite"),
        ("1e30", "less than"),
        ("100.001", "decimal places"),
        ("1E-1000000", "decimal places"),
        ("101", "between 0 and 100"),
        ("-0.01", "between 0 and 100"),
        ("ten", "number"),
        ("", "number"),
    ],
)
def test_a_decimal_must_be_finite_and_fit_its_column(value: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        parse_decimal(value, **PERCENT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0E-1000000", "0.00"), ("-0", "0.00"), ("12.5", "12.50"), (7, "7.00"), ("99.990", "99.99")],
)
def test_a_decimal_is_stored_at_its_column_scale(value: object, expected: str) -> None:
    number = parse_decimal(value, **PERCENT)  # type: ignore[arg-type]
    assert str(number) == expected


@given(st.one_of(st.text(max_size=60), st.floats(), st.integers(), st.decimals()))
def test_any_input_gives_a_column_sized_decimal_or_a_clear_refusal(value: object) -> None:
    try:
        number = parse_decimal(value, places=3, max_digits=10)
    except InvalidValueError as error:
        assert str(error)
        return
    assert number.is_finite()
    assert number.as_tuple().exponent == -3
    assert abs(number) < 10**7


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\x00b", "NUL"),
        ("\ud800", "surrogate"),
        ("bell\x07", "control"),
        ("two\nlines", "control"),
        ("x" * 201, "at most 200"),
        (12, "text"),
    ],
)
def test_text_refuses_what_no_column_should_hold(value: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        clean_text(value, max_length=200)


def test_multiline_text_keeps_its_lines() -> None:
    assert clean_text("Baku\r\nAZ1000\tAzerbaijan", max_length=200, multiline=True)


def test_dates_are_iso_and_in_the_calendar() -> None:
    assert parse_date("2028-02-29") == date(2028, 2, 29)
    with pytest.raises(InvalidValueError, match="calendar"):
        parse_date("2026-02-29")
    with pytest.raises(InvalidValueError, match="YYYY-MM-DD"):
        parse_date("29.02.2028")
