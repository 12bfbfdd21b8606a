"""Outages and availability on both databases (SPEC 7): outages recorded and imported (bad
rows, re-imports), hostile values refused with nothing stored, and a service's month measured
from them: before its ready-for-service day nothing counts, a protected service counts only
the overlap of its two routes, an outage still open runs to now."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.calendar import billing_period
from billing.clock import FrozenClock
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.sla.models import Outage
from billing.sla.outages import import_outages, record_outage, update_outage
from billing.sla.queries import months_to_judge, service_month
from billing.sla.services import seed_sla_policies
from tests import factories

NOC = "noc@azertelecom.az"


def _outage(
    s: Session, segment: str, start: str, end: str | None, ticket: str, now: datetime
) -> Outage:
    return record_outage(
        s,
        {"segment": segment, "start": start, "end": end or "", "cause": "cut", "ticket": ticket},
        actor=NOC,
        now=now,
    )


def _count(db: Database) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(Outage)).scalar_one())


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"segment": "S9"}, "segment"),
        ({"segment": "S1\x00"}, "segment"),
        ({"start": "2026-11-03T10:00"}, "start"),  # no offset
        ({"start": "yesterday"}, "start"),
        ({"start": "9999-12-31T23:59:59+14:00"}, "start"),  # the future
        ({"start": "1970-01-01T00:00Z"}, "start"),
        ({"end": "2026-11-03T09:00Z"}, "end"),  # before the start
        ({"end": "2026-12-24T00:00Z"}, "end"),  # the future
        ({"cause": ""}, "cause"),
        ({"cause": "x" * 201}, "cause"),
        ({"ticket": "T\r\nBcc: x"}, "ticket"),
        ({"note": "\ud800"}, "note"),
        ({"start": ["2026-11-03T10:00Z"]}, "start"),
    ],
)
def test_a_bad_outage_is_refused_on_its_field_and_nothing_is_stored(
    db: Database, clock: FrozenClock, values: dict[str, object], field: str
) -> None:
    good = {
        "segment": "S1",
        "start": "2026-11-03T10:00Z",
        "end": "2026-11-03T11:00Z",
        "cause": "Cable cut by an anchor",
        "ticket": "INC-1",
        "note": "",
    }
    with pytest.raises(InvalidRequestError) as refused, db.transaction() as s:
        record_outage(s, {**good, **values}, actor=NOC, now=clock.now())
    assert field in refused.value.errors
    assert _count(db) == 0


def test_times_are_kept_in_utc_to_the_minute_and_an_open_outage_closes_later(
    db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        outage = _outage(s, "s1", "2026-11-03T14:20:40+04:00", None, "INC-7", clock.now())
        assert outage.starts_at == datetime(2026, 11, 3, 10, 20, tzinfo=UTC)  # floored
        assert outage.ends_at is None
        update_outage(
            s,
            outage.id,
            {
                "segment": "S1",
                "start": "2026-11-03T10:20Z",
                "end": "2026-11-03T11:00:01Z",
                "cause": "cut",
                "ticket": "INC-7",
            },
            actor=NOC,
            now=clock.now(),
        )
        assert outage.ends_at == datetime(2026, 11, 3, 11, 1, tzinfo=UTC)  # ceiled


CSV_GOOD = (
    "segment,start,end,cause,ticket,note\n"
    "S1,2026-11-02T10:00Z,2026-11-02T11:00Z,Fiber cut,INC-100,anchor\n"
    "S2,2026-11-02T10:30:00+04:00,,Power,INC-101,\n"
)


def test_import_adds_then_updates_by_ticket_and_a_bad_row_rejects_the_file(
    db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        first = import_outages(s, CSV_GOOD.encode(), actor=NOC, now=clock.now())
    assert (first.added, first.updated, first.unchanged) == (2, 0, 0)
    closed = CSV_GOOD.replace(
        "S2,2026-11-02T10:30:00+04:00,,", "S2,2026-11-02T10:30:00+04:00,2026-11-02T08:00Z,"
    )
    with db.transaction() as s:
        again = import_outages(s, closed, actor=NOC, now=clock.now())
    assert (again.added, again.updated, again.unchanged) == (0, 1, 1)
    assert _count(db) == 2
    bad_files: dict[str, str | bytes] = {
        "line 4": CSV_GOOD + "S1,2026-11-04T10:00Z,2026-11-04T09:00Z,x,INC-102,\n",
        "line 1": "seg,start,end,cause,ticket,note\n",
        "line 2": "segment,start,end,cause,ticket,note\nS1,2026-11-04T10:00Z\n",
        "is on an earlier line": CSV_GOOD + "S1,2026-11-02T10:00Z,,x,INC-100,\n",
        "UTF-8": b"segment,start,end,cause,ticket,note\n\xff\xfe",
        "NUL": "segment,start,end,cause,ticket,note\nS1\x00,,,,,\n",
    }
    for expected, data in bad_files.items():
        with pytest.raises(InvalidRequestError) as refused, db.transaction() as s:
            import_outages(s, data, actor=NOC, now=clock.now())
        assert expected in refused.value.message, (expected, refused.value.message)
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Outage)).scalar_one() == 2
        reopened = s.scalars(select(Outage).where(Outage.ticket == "INC-101")).one()
        assert reopened.ends_at == datetime(
            2026, 11, 2, 8, tzinfo=UTC
        )  # the bad file changed nothing


def test_a_services_month_counts_its_active_minutes_its_path_and_the_open_outage(
    db: Database, clock: FrozenClock
) -> None:
    now = clock.now()  # 2026-11-25 09:00 UTC
    with db.transaction() as s:
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=now)
        plain = factories.active_service(s, now=now, ready_for_service=date(2026, 10, 16))
        guarded = factories.active_service(
            s, now=now, ready_for_service=date(2026, 10, 1), protection="protected"
        )
        # Before the plain service's RFS: not its minutes.
        _outage(s, "S1", "2026-10-10T10:00Z", "2026-10-10T12:00Z", "A", now)
        # S1 10:00-12:00 and S2 11:00-13:00 on 20 October: 120 minutes for the plain service,
        # the 60 of the overlap for the protected one.
        _outage(s, "S1", "2026-10-20T10:00Z", "2026-10-20T12:00Z", "B", now)
        _outage(s, "S2", "2026-10-20T11:00Z", "2026-10-20T13:00Z", "C", now)
        # Overlapping records of one segment count once.
        _outage(s, "S1", "2026-10-20T11:00Z", "2026-10-20T11:30Z", "B2", now)
        # Still open: 08:00 UTC today, an hour before now.
        _outage(s, "S1", "2026-11-25T08:00Z", None, "D", now)
        october, november = billing_period(date(2026, 10, 1)), billing_period(date(2026, 11, 1))

        month = service_month(s, plain, october, now)
        assert (month.minutes, month.down_minutes) == (16 * 1440, 120)
        assert month.closed and month.target == Decimal("99.5")
        assert month.availability_text == "99.47%" and month.earned_percent == 10
        assert month.credit_percent == 10 and month.below_target

        guarded_month = service_month(s, guarded, october, now)
        assert (guarded_month.minutes, guarded_month.down_minutes) == (31 * 1440, 60)
        assert guarded_month.target == Decimal("99.95")
        assert guarded_month.availability_text == "99.86%"  # below 99.95, above 99.45
        assert guarded_month.earned_percent == 10
        running = service_month(s, plain, november, now)
        assert not running.closed
        # From midnight in Baku (20:00 UTC on 31 October) to 09:00 UTC on the 25th.
        assert running.minutes == 24 * 1440 + 13 * 60
        assert running.down_minutes == 60
        assert [p.start for p in months_to_judge(s, plain, until=date(2026, 12, 31), now=now)] == [
            date(2026, 10, 1)
        ]


def test_flask_outages_import_reports_counts_and_a_bad_line(
    app: Flask, db: Database, tmp_path: Path
) -> None:
    good, bad = tmp_path / "outages.csv", tmp_path / "bad.csv"
    good.write_text(CSV_GOOD, encoding="utf-8")
    bad.write_text(CSV_GOOD + "S7,2026-11-04T10:00Z,,x,INC-3,\n", encoding="utf-8")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["outages", "import", str(good)])
    assert first.exit_code == 0, first.output
    assert "2 added, 0 updated, 0 unchanged" in first.output
    refused = runner.invoke(args=["outages", "import", str(bad)])
    assert refused.exit_code == 1
    assert "line 4" in refused.output and "S7" in refused.output
    assert _count(db) == 2


@pytest.mark.parametrize(
    ("start", "end", "baku", "almaty"),
    [
        # Across midnight and the month in UTC; 03:00-05:00 (Baku), 04:00-06:00 (Almaty) on 1 Nov.
        ("2026-10-31T23:00Z", "2026-11-01T01:00Z", (0, 120), (0, 120)),
        # One UTC day, but across midnight and the month in Baku (23:00-01:00).
        ("2026-10-31T19:00Z", "2026-10-31T21:00Z", (60, 60), (0, 120)),
    ],
)
def test_an_outage_is_cut_at_the_issuers_local_month_boundary(
    db: Database,
    clock: FrozenClock,
    start: str,
    end: str,
    baku: tuple[int, int],
    almaty: tuple[int, int],
) -> None:
    now = clock.now()
    with db.transaction() as s:
        azt = factories.active_service(
            s, now=now, ready_for_service=date(2026, 10, 1), owner="AZT", note="tests"
        )
        ktc = factories.active_service(
            s, now=now, ready_for_service=date(2026, 10, 1), owner="KTC", note="tests"
        )
        _outage(s, "S1", start, end, "X", now)
        october, november = billing_period(date(2026, 10, 1)), billing_period(date(2026, 11, 1))
        for service, expected in ((azt, baku), (ktc, almaty)):
            downs = tuple(
                service_month(s, service, month, now).down_minutes for month in (october, november)
            )
            assert downs == expected, service.contract.party.code
