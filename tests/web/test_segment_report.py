"""The segment report for the operators (SPEC 7) on a worked example, both databases: per segment
over a range of months (UTC), the outage records that touch it, the minutes down with
overlapping and touching records merged and an open outage counted up to now, the mean time to
repair of the closed records, and the three worst months; the page for noc, finance and admins,
its CSV, and a bad range named on its field."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from billing.clock import FrozenClock
from billing.db import Database
from billing.reports.sla import SegmentFigures, WorstMonth, segment_report
from billing.sla.outages import record_outage
from tests import factories
from tests.helpers import login

STAFF = [
    ("noc@azertelecom.az", "AZT", "noc"),
    ("finance@kazakhtelecom.kz", "KTC", "finance"),
    ("admin@azertelecom.az", "AZT", "admin"),
    ("sales@azertelecom.az", "AZT", "sales"),
]

# (segment, ticket, start, end or None while open); the clock reads 2026-11-25 09:00 UTC.
OUTAGES = [
    ("S1", "A", datetime(2026, 10, 10, 10, 0), datetime(2026, 10, 10, 11, 0)),  # 60
    ("S1", "B", datetime(2026, 10, 10, 10, 30), datetime(2026, 10, 10, 12, 0)),  # 90, overlaps A
    ("S1", "C", datetime(2026, 11, 25, 7, 0), None),  # open: 120 so far
    ("S1", "D", datetime(2026, 9, 5, 0, 0), datetime(2026, 9, 5, 0, 30)),  # 30
    ("S2", "E", datetime(2026, 10, 31, 23, 0), datetime(2026, 11, 1, 1, 0)),  # 120 over 2 months
    ("S2", "F", datetime(2026, 8, 1, 10, 0), datetime(2026, 8, 1, 11, 0)),  # 60
    ("S2", "G", datetime(2026, 8, 1, 11, 0), datetime(2026, 8, 1, 12, 0)),  # 60, touches F
    ("S1", "OLD", datetime(2025, 11, 30, 12, 0), datetime(2025, 11, 30, 13, 0)),  # before range
]


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture(autouse=True)
def world(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        for segment, ticket, start, end in OUTAGES:
            record_outage(
                s,
                {
                    "segment": segment,
                    "start": start.replace(tzinfo=UTC).isoformat(),
                    "end": "" if end is None else end.replace(tzinfo=UTC).isoformat(),
                    "cause": "Fiber cut",
                    "ticket": ticket,
                },
                actor="noc@example.test",
                now=clock.now(),
            )
        for email, party, role in STAFF:
            factories.staff_user(s, now=clock.now(), party=party, role=role, email=email)


def _report(db: Database, clock: FrozenClock, first: date, last: date) -> dict[str, SegmentFigures]:
    with db.transaction() as s:
        return {f.code: f for f in segment_report(s, first, last, clock.now())}


def test_the_last_twelve_months_merge_overlaps_and_count_the_open_outage_to_now(
    db: Database, clock: FrozenClock
) -> None:
    figures = _report(db, clock, date(2025, 12, 1), date(2026, 11, 1))
    assert figures["S1"] == SegmentFigures(
        code="S1",
        name=figures["S1"].name,
        outages=4,  # A, B, C, D: the November 2025 record is outside the range
        open_outages=1,
        minutes=120 + 120 + 30,  # A and B merged (10:00-12:00), C to now, D
        mttr_minutes=Decimal("60.0"),  # (60 + 90 + 30) / 3: the open one has no repair time
        worst_months=(
            WorstMonth(date(2026, 10, 1), 120),
            WorstMonth(date(2026, 11, 1), 120),
            WorstMonth(date(2026, 9, 1), 30),
        ),
    )
    s2 = figures["S2"]
    assert (s2.outages, s2.open_outages, s2.minutes, s2.mttr_minutes) == (
        3,
        0,
        120 + 120,  # F and G touch: 10:00-12:00 once; E in full
        Decimal("80.0"),
    )
    assert s2.worst_months == (
        WorstMonth(date(2026, 8, 1), 120),
        WorstMonth(date(2026, 10, 1), 60),  # E's hour before midnight UTC
        WorstMonth(date(2026, 11, 1), 60),  # and its hour after
    )


def test_a_month_counts_only_its_own_minutes(db: Database, clock: FrozenClock) -> None:
    november = _report(db, clock, date(2026, 11, 1), date(2026, 11, 1))
    assert (november["S1"].outages, november["S1"].minutes) == (1, 120)
    assert november["S1"].mttr_minutes is None  # only the open one
    assert (november["S2"].outages, november["S2"].minutes) == (1, 60)
    assert november["S2"].mttr_minutes == Decimal("120.0")  # E's whole length
    october = _report(db, clock, date(2026, 10, 1), date(2026, 10, 1))
    assert (october["S1"].outages, october["S1"].minutes) == (2, 120)
    assert october["S1"].mttr_minutes == Decimal("75.0")
    quiet = _report(db, clock, date(2026, 6, 1), date(2026, 7, 1))
    assert all(f.outages == f.minutes == 0 and f.worst_months == () for f in quiet.values())


@pytest.mark.parametrize("email", ["noc@azertelecom.az", "finance@kazakhtelecom.kz"])
def test_the_page_and_its_csv(client: FlaskClient, email: str) -> None:
    login(client, email)
    page = client.get("/reports/segments")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Segment report</h1>" in html
    assert "December 2025 to November 2026" in html
    row = html[html.index('id="segment-S1"') :]
    row = row[: row.index("</tr>")]
    assert ">270<" in row and ">60.0<" in row and "1 open" in row
    assert "Oct 2026: 120 min" in row and "Sep 2026: 30 min" in row
    # Sorted by outage minutes, the most first.
    assert html.index('id="segment-S1"') < html.index('id="segment-S2"')
    by_mttr = client.get("/reports/segments?sort=-mttr").text
    assert by_mttr.index('id="segment-S2"') < by_mttr.index('id="segment-S1"')

    response = client.get("/reports/segments?from=2026-10&to=2026-11&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    s1 = next(r for r in rows if r["segment"] == "S1")
    assert (s1["from"], s1["to"], s1["outages"], s1["open"]) == ("2026-10", "2026-11", "3", "1")
    assert (s1["outage_minutes"], s1["mttr_minutes"]) == ("240", "75.0")
    assert s1["worst_months"] == "2026-10:120 2026-11:120"


def test_a_bad_range_is_named_on_its_field(client: FlaskClient) -> None:
    login(client, "noc@azertelecom.az")
    for query, message in (
        ("from=2026-13", "YYYY-MM"),
        ("to=2026-12", "2026-11 or an earlier month"),
        ("from=2026-11&to=2026-10", "The last month is not before the first."),
        ("from=2020-01&to=2026-11", "at most 60 months"),
        ("from=" + "9" * 500, "YYYY-MM"),
    ):
        page = client.get(f"/reports/segments?{query}")
        assert page.status_code == 200, query
        assert 'class="field-error" role="alert"' in page.text, query
        assert message in page.text, query
        assert 'id="segment-S1"' in page.text  # the default range is shown meanwhile


def test_sales_may_not_read_it(client: FlaskClient) -> None:
    login(client, "sales@azertelecom.az")
    assert client.get("/reports/segments").status_code == 403
