"""Every CSV the platform writes is safe to open in a spreadsheet (SPEC 4): a text cell that a
spreadsheet would run as a formula is written as text; plain numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

import billing
from billing.csvfile import csv_writer, safe_cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("+12", "'+12"),
        ("-1e3", "'-1e3"),
        ("-12.00", "-12.00"),
        ("1500", "1500"),
        ("Kazakhtelecom JSC", "Kazakhtelecom JSC"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (Decimal("-12.00"), Decimal("-12.00")),
        (7, 7),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value: object, written: object) -> None:
    assert safe_cell(value) == written


def test_the_writer_neutralises_every_cell_and_reads_back() -> None:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(("name", "amount"))
    writer.writerows([("=1+1", Decimal("-5.00")), ("@me", "-0.01")])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["name", "amount"],
        ["'=1+1", "-5.00"],
        ["'@me", "-0.01"],
    ]
    assert "\r\n" not in out.getvalue()


def test_no_module_writes_csv_but_through_the_helper() -> None:
    """One way to write CSV: a new export that reaches for csv.writer would skip the guard."""
    root = Path(billing.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "csvfile.py"
        and any(word in path.read_text() for word in ("csv.writer", "DictWriter", "csv.DictWriter"))
    ]
    assert offenders == []
