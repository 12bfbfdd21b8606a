"""One set of rules for what a text, an integer, a decimal or a date may be, whoever sent it.

The API's marshmallow fields (`billing.api.fields`) and the web's form fields (`billing.web.forms`)
both call these, so a value refused on one side is refused on the other with the same words.
Each parser takes what arrived (a string from a form, a JSON value) and returns the clean value or
raises `InvalidValueError` with the message to show beside the field.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Longest text an integer or a decimal may be before it is even looked at: Python refuses to
# convert integers past 4,300 digits, and no column holds more than 30.
MAX_NUMBER_TEXT = 40
# A decimal as written with ASCII digits. Python's Decimal() and int() also take other scripts'
# digits ("１０", "٣") and underscores ("1_000"): an amount is only ever 0-9.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})
# An INTEGER column's range (PostgreSQL's; SQLite's is wider): row ids and counts stay inside it.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


def N_(message: str) -> str:
    """Mark a message for the UI's catalogs (babel.cfg: `make messages` extracts it) without
    translating it here: the web layer translates it (billing/web/forms.py), the API keeps it
    English."""
    return message


class InvalidValueError(ValueError):
    """A value that no field of its kind may hold; the message is shown beside the field.

    `template` and `values` are the message before its values are put in, so that a page can
    show it in its own language; str() is the English."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template % values if values else template)
        self.template = template
        self.values = values


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    match = _BAD_TEXT.search(value)
    if match is None:
        return None
    if match.group() == "\x00":
        return N_("must not contain NUL characters")
    return N_("must not contain unpaired surrogate characters")


def clean_text(value: object, *, max_length: int, multiline: bool = False) -> str:
    """Text as stored: no NUL, no lone surrogates, no control characters (newlines and tabs
    allowed where the field is multi-line), at most `max_length` characters."""
    if not isinstance(value, str):
        raise InvalidValueError(N_("must be text"))
    problem = text_problem(value)
    if problem:
        raise InvalidValueError(problem)
    checked = value if multiline else value.replace("\t", " ")
    if _CONTROL.search(checked) or (not multiline and ("\n" in value or "\r" in value)):
        raise InvalidValueError(N_("must not contain control characters"))
    if len(value) > max_length:
        raise InvalidValueError(N_("at most %(count)s characters"), count=max_length)
    return value


def parse_integer(value: object, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number: 12 or "12"; 12.9, "12.9", true, 1e3 and "" are refused, never truncated."""
    if isinstance(value, bool):
        raise InvalidValueError(N_("must be a whole number"))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        raise InvalidValueError(N_("must be a whole number, without a decimal point"))
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT or not re.fullmatch(r"[+-]?[0-9]+", text):
            raise InvalidValueError(N_("must be a whole number"))
        number = int(text)
    else:
        raise InvalidValueError(N_("must be a whole number"))
    _check_range(number, minimum, maximum)
    return number


def parse_decimal(
    value: object,
    *,
    places: int,
    max_digits: int,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Decimal:
    """A finite decimal that fits a NUMERIC(max_digits, places) column: at most `places`
    decimals (more is refused, not rounded), no NaN, no Infinity, no exponent tricks
    ("0E-1000000" is 0 but no database column takes it); "-0" is 0."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidValueError(N_("must be a number"))
    text = str(value).strip() if not isinstance(value, Decimal) else str(value)
    if len(text) > MAX_NUMBER_TEXT:
        raise InvalidValueError(N_("must be a number of sensible size"))
    if not _DECIMAL_TEXT.fullmatch(text):
        if text.lstrip("+-").lower() in _NOT_FINITE:
            raise InvalidValueError(N_("must be a finite number"))
        raise InvalidValueError(N_("must be a number written with the digits 0-9"))
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidValueError(N_("must be a number")) from None
    if not number.is_finite():
        raise InvalidValueError(N_("must be a finite number"))
    if number == 0:
        number = Decimal(0)
    if number.adjusted() >= max_digits - places:
        raise InvalidValueError(
            N_("must be less than %(limit)s"), limit=10 ** (max_digits - places)
        )
    quantum = Decimal(1).scaleb(-places)
    if number != number.quantize(quantum):
        raise InvalidValueError(N_("at most %(count)s decimal places"), count=places)
    number = number.quantize(quantum)
    _check_range(number, minimum, maximum)
    return number


def parse_date(value: object) -> date:
    """An ISO date, 2026-11-30."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
        raise InvalidValueError(N_("must be a date as YYYY-MM-DD"))
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValueError(N_("is not a date in the calendar")) from None


def _check_range(
    number: int | Decimal, minimum: int | Decimal | None, maximum: int | Decimal | None
) -> None:
    if minimum is not None and number < minimum:
        if maximum is not None:
            raise InvalidValueError(
                N_("must be between %(minimum)s and %(maximum)s"), minimum=minimum, maximum=maximum
            )
        raise InvalidValueError(N_("must be at least %(minimum)s"), minimum=minimum)
    if maximum is not None and number > maximum:
        if minimum is not None:
            raise InvalidValueError(
                N_("must be between %(minimum)s and %(maximum)s"), minimum=minimum, maximum=maximum
            )
        raise InvalidValueError(N_("must be at most %(maximum)s"), maximum=maximum)


def clean_reason(value: object, *, max_length: int = 500) -> str:
    """A reason someone must give (own use, a waiver, a back-dated change): text as
    `clean_text` allows, several lines at most, and not blank. Returned without outer spaces."""
    text = clean_text(value, max_length=max_length, multiline=True).strip()
    if not text:
        raise InvalidValueError(N_("required: say why"))
    return text
