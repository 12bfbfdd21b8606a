"""The outages list operations work from: searched, filtered, sorted, one SELECT for the page and
its CSV alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from billing.db import order_by_choice, text_match
from billing.inventory.models import Segment
from billing.sla.models import Outage, SlaPolicy

OUTAGE_SORTS: dict[str, tuple[Any, ...]] = {
    "start": (Outage.starts_at, Outage.id),
    "end": (Outage.ends_at, Outage.id),
    "segment": (Segment.code, Outage.starts_at, Outage.id),
    "ticket": (Outage.ticket, Outage.id),
    "cause": (Outage.cause, Outage.id),
}
OUTAGE_DEFAULT_SORT = "-start"


def outage_listing(
    *,
    q: str = "",
    segment: str = "",
    open_only: bool = False,
    since: date | None = None,
    until: date | None = None,
    sort: str = "",
) -> Select[Any]:
    """Outages whose ticket or cause contains `q`, on `segment` (a code) when given, still open
    with `open_only`, and down at some time between `since` and `until` (UTC days, both
    included) when given; newest first by default."""
    stmt = select(Outage).join(Segment, Outage.segment_id == Segment.id)
    stmt = stmt.options(selectinload(Outage.segment))
    if q:
        stmt = stmt.where(text_match(q, Outage.ticket, Outage.cause))
    if segment:
        stmt = stmt.where(Segment.code == segment)
    if open_only:
        stmt = stmt.where(Outage.ends_at.is_(None))
    if since is not None:
        start = datetime.combine(since, time(), tzinfo=UTC)
        stmt = stmt.where(or_(Outage.ends_at.is_(None), Outage.ends_at > start))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC)
        stmt = stmt.where(Outage.starts_at < end)
    return order_by_choice(stmt, sort, OUTAGE_SORTS, OUTAGE_DEFAULT_SORT)


def outage_minutes(outage: Outage) -> int | None:
    """The outage's length in whole minutes; None while it is open."""
    if outage.ends_at is None:
        return None
    return int((outage.ends_at - outage.starts_at).total_seconds() // 60)


def policy_versions(session: Session) -> list[SlaPolicy]:
    """Every SLA policy with its tiers, per protection class, the latest first."""
    stmt = (
        select(SlaPolicy)
        .options(selectinload(SlaPolicy.tiers))
        .order_by(SlaPolicy.protection, SlaPolicy.effective_from.desc())
    )
    return list(session.execute(stmt).scalars())
