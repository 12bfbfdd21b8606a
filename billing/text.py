"""How plain numbers read in answers and on pages."""

from __future__ import annotations

from decimal import Decimal


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text, without trailing zeros or an exponent: 50.000 -> '50'."""
    return format(value.normalize(), "f")
