"""The one way the platform writes CSV (SPEC 4): every cell safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and some treat a
leading tab or carriage return the same way): a customer named `=HYPERLINK(...)` would run in
finance's spreadsheet. Such a text cell is written with a leading single quote (`'`), which
spreadsheets show as text and do not run.

The one exception, on purpose: a cell that is a plain decimal number (`-12.00`, `1500`, an
int or a Decimal) is written as it is. It cannot be a formula, and a credit note's negative
amounts must stay numbers that add up in a spreadsheet and read back exactly in code. "Plain"
means an optional minus, digits and an optional fraction: `-1+2`, `+12`, `-1e3` are all quoted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value: object) -> object:
    """`value` as a CSV cell that a spreadsheet shows and never runs (see the module's note)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def text_cell(text: str) -> str:
    """A text cell (a name, a reference) that reads as text even when it looks like a number:
    `-1` or `+1` as a customer's name is quoted too, as any text starting like a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """csv.writer's writerow/writerows with every cell passed through `safe_cell`."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: io.StringIO) -> SafeWriter:
    """A writer of spreadsheet-safe CSV rows ("\\n" line ends) into `out`."""
    return SafeWriter(out)
