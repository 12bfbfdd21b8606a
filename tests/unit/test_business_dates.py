"""Business dates come from billing/calendar.py only (issue 14): a UTC instant
becomes a party's day in `calendar.local_date`, nowhere else. This reads every module of
billing/ and refuses what turns the clock into a date or a year behind the calendar's back:

- `datetime.now(...)`, `datetime.utcnow()`, `datetime.today()`, `date.today()`: the wall clock,
  not the injected one;
- `<x>.date()`: a UTC instant cut to its UTC day (a text parsed with `strptime` or
  `fromisoformat` is no instant and may be cut);
- `now.year` / `.month` / `.day`, `now.strftime(...)` or `f"{now:%Y}"`, or the same on `now()` /
  `clock.now()`: the UTC year of the instant (a quote number made on 1 January in Baku would
  carry the old year).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BILLING = Path(__file__).resolve().parents[2] / "billing"
# The two modules whose job this is: the clock gives instants, the calendar turns them into days.
ALLOWED = {BILLING / "calendar.py", BILLING / "clock.py"}
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}
PARSERS = {"strptime", "fromisoformat"}  # text read as a datetime: no instant of the clock
CLOCK_PARTS = {"year", "month", "day"}
ADVICE = "a business date or year comes from billing.calendar.local_date(instant, party zone)"


def _dotted(node: ast.expr) -> tuple[str, ...]:
    """`datetime.datetime.now` -> ("datetime", "datetime", "now"); () when not a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return ()


def _is_clock_instant(node: ast.expr) -> bool:
    """`now`, `now()`, `clock.now()`, `self.clock.now()`, `datetime.now(UTC)`."""
    if isinstance(node, ast.Name):
        return node.id == "now"
    if isinstance(node, ast.Call):
        return _dotted(node.func)[-1:] in (("now",), ("utcnow",))
    return False


def offences(source: str) -> list[tuple[int, str]]:
    """(line, what) for each way `source` reads a business date off the clock."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = _dotted(node.func)
            if name[-2:] in WALL_CLOCK:
                found.append((node.lineno, f"{'.'.join(name)}(): the wall clock"))
            elif node.func.attr == "strftime" and _is_clock_instant(node.func.value):
                found.append((node.lineno, f"{ast.unparse(node)}: the UTC calendar of an instant"))
            elif node.func.attr == "date" and not node.args and not node.keywords:
                receiver = node.func.value
                parsed = isinstance(receiver, ast.Call) and _dotted(receiver.func)[-1:] in {
                    (p,) for p in PARSERS
                }
                if not parsed:
                    found.append((node.lineno, f"{ast.unparse(node)}: an instant's UTC day"))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in CLOCK_PARTS
            and _is_clock_instant(node.value)
        ):
            found.append((node.lineno, f"{ast.unparse(node)}: the UTC {node.attr} of an instant"))
        elif (
            isinstance(node, ast.FormattedValue)
            and node.format_spec is not None
            and _is_clock_instant(node.value)
        ):
            found.append((node.lineno, f"{ast.unparse(node.value)} formatted as a UTC date"))
    return sorted(found)


def test_no_module_reads_a_business_date_off_the_clock() -> None:
    problems = [
        f"{path.relative_to(BILLING.parent)}:{line}: {what}"
        for path in sorted(BILLING.rglob("*.py"))
        if path not in ALLOWED
        for line, what in offences(path.read_text(encoding="utf-8"))
    ]
    assert not problems, f"{ADVICE}; found:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "day = now.date()",
        "year = now.year",
        "month = now().month",
        "day = clock.now().date()",
        "number = f'Q-{now.year}'",
        "at = datetime.now(UTC)",
        "at = datetime.datetime.now()",
        "at = datetime.utcnow()",
        "day = date.today()",
        "day = datetime.today()",
        "day = row.created_at.date()",
        "day = self.clock.now().date()",
        "month = now.strftime('%Y-%m')",
        "month = f'{now:%Y-%m}'",
        "year = f'{clock.now():%Y}'",
    ],
)
def test_the_rule_refuses_each_way_of_cutting_the_clock(source: str) -> None:
    assert [line for line, _ in offences(source)] == [1], source


@pytest.mark.parametrize(
    "source",
    [
        "day = local_date(now, party.time_zone)",
        "year = local_date(now, zone).year",
        "day = datetime.strptime(text, '%d.%m.%Y').date()",
        "day = datetime.fromisoformat(text).date()",
        "year = period.start.year",
        "year = on.year",
        "at = clock.now()",
        "when = now",
        "d = obj.date",  # an attribute named date, not a call
        "d = x.date(tz)",  # a method that takes arguments is something else
        "month = f'{local_date(now, zone):%Y-%m}'",
        "stamp = f'{now}'",
        "when = f'{row.created_at:%Y-%m-%d %H:%M} UTC'",  # an instant shown as one
    ],
)
def test_the_rule_lets_calendar_dates_and_parsed_text_pass(source: str) -> None:
    assert offences(source) == [], source
