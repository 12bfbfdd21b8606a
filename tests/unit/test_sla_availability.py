"""Availability arithmetic (SPEC 7), pure: merging, the protected overlap, the issuer's local
month, active minutes, truncation for display and the tier decided on the exact figure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from billing.calendar import billing_period
from billing.sla.availability import (
    Tier,
    active_window,
    availability_percent,
    clipped,
    credit_percent,
    intersected,
    merged,
    minutes,
    service_down,
    shown,
)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_overlapping_and_touching_records_are_merged_never_counted_twice() -> None:
    records = [(at(1, 10), at(1, 11)), (at(1, 10, 30), at(1, 11, 30)), (at(1, 11, 30), at(1, 12))]
    assert merged(records) == [(at(1, 10), at(1, 12))]
    assert minutes(merged(records)) == 120
    # Apart, they stay apart; an empty record is dropped.
    assert merged([(at(2, 1), at(2, 2)), (at(1, 1), at(1, 2)), (at(3, 1), at(3, 1))]) == [
        (at(1, 1), at(1, 2)),
        (at(2, 1), at(2, 2)),
    ]


def test_a_protected_service_is_down_only_while_both_routes_are() -> None:
    main = [[(at(5, 10), at(5, 12))]]  # S1
    reserve = [[(at(5, 11), at(5, 13))], []]  # S2, and a second segment never down
    assert service_down([main, reserve], protected=True) == [(at(5, 11), at(5, 12))]
    assert service_down([main], protected=False) == [(at(5, 10), at(5, 12))]
    assert intersected([(at(1, 0), at(1, 5))], [(at(1, 5), at(1, 6))]) == []  # touching only


def test_the_month_is_the_issuers_local_month() -> None:
    november = billing_period(date(2026, 11, 1))
    baku = active_window(
        november, "Asia/Baku", ready_for_service=date(2026, 1, 1), end_date=None, now=at(30, 23)
    )
    almaty = active_window(
        november, "Asia/Almaty", ready_for_service=date(2026, 1, 1), end_date=None, now=at(30, 23)
    )
    assert baku == (datetime(2026, 10, 31, 20, tzinfo=UTC), datetime(2026, 11, 30, 20, tzinfo=UTC))
    assert almaty == (
        datetime(2026, 10, 31, 19, tzinfo=UTC),
        datetime(2026, 11, 30, 19, tzinfo=UTC),
    )
    assert minutes([baku]) == 30 * 24 * 60


def test_an_outage_across_the_utc_month_boundary_falls_in_one_baku_month_and_the_reverse() -> None:
    october, november = billing_period(date(2026, 10, 1)), billing_period(date(2026, 11, 1))

    def split(outage: tuple[datetime, datetime], zone: str) -> tuple[int, int]:
        result = []
        for month in (october, november):
            window = active_window(
                month, zone, ready_for_service=date(2026, 1, 1), end_date=None, now=at(30, 0)
            )
            assert window is not None
            result.append(minutes(clipped([outage], window)))
        return result[0], result[1]

    # 23:00 UTC on 31 October to 01:00 UTC on 1 November: across midnight and the month in UTC,
    # 03:00-05:00 on 1 November in Baku (UTC+4) and 04:00-06:00 in Almaty (UTC+5).
    utc_crossing = (datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 1, 1, tzinfo=UTC))
    assert split(utc_crossing, "Asia/Baku") == (0, 120)
    assert split(utc_crossing, "Asia/Almaty") == (0, 120)
    # 19:00-21:00 UTC on 31 October: one UTC day, but 23:00-01:00 across midnight in Baku.
    baku_crossing = (datetime(2026, 10, 31, 19, tzinfo=UTC), datetime(2026, 10, 31, 21, tzinfo=UTC))
    assert split(baku_crossing, "Asia/Baku") == (60, 60)
    assert split(baku_crossing, "Asia/Almaty") == (0, 120)  # 00:00-02:00 on 1 November


def test_only_the_active_minutes_count_from_rfs_to_the_termination_day_and_up_to_now() -> None:
    november = billing_period(date(2026, 11, 1))
    window = active_window(
        november,
        "Asia/Baku",
        ready_for_service=date(2026, 11, 16),
        end_date=date(2026, 11, 20),
        now=at(30, 0),
    )
    assert window is not None and minutes([window]) == 5 * 24 * 60  # the 16th to the 20th
    running = active_window(
        november, "Asia/Baku", ready_for_service=date(2026, 11, 16), end_date=None, now=at(25, 9)
    )
    assert running is not None and running[1] == at(25, 9)
    assert (
        active_window(
            november, "Asia/Baku", ready_for_service=date(2026, 12, 1), end_date=None, now=at(30, 0)
        )
        is None
    )


def test_availability_is_shown_truncated_and_the_tier_is_decided_on_the_exact_figure() -> None:
    tiers = [
        Tier(Decimal("99.5"), Decimal(10)),
        Tier(Decimal("99"), Decimal(25)),
        Tier(Decimal(98), Decimal(50)),
    ]
    month = 30 * 24 * 60  # 43,200 minutes
    exact = availability_percent(month, 217)
    assert exact < Decimal("99.5") and str(shown(exact)) == "99.49"  # 99.49768..., never 99.50
    assert credit_percent(exact, tiers) == 10
    at_target = availability_percent(month, 216)
    assert at_target == Decimal("99.5") and credit_percent(at_target, tiers) is None
    assert str(shown(availability_percent(month, 2))) == "99.99"  # 99.99537..., not 100.00
    assert credit_percent(availability_percent(month, 433), tiers) == 25
    assert credit_percent(availability_percent(month, 865), tiers) == 50
    assert availability_percent(0, 0) == 100
