"""Reading stored exchange rates (SPEC 4)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from billing.db import order_by_choice, text_match
from billing.invoicing.fx import FxRate
from billing.invoicing.models import FxRateRecord

FX_SORTS: dict[str, tuple[Any, ...]] = {
    "date": (FxRateRecord.rate_date, FxRateRecord.base, FxRateRecord.quote, FxRateRecord.id),
    "base": (FxRateRecord.base, FxRateRecord.quote, FxRateRecord.rate_date, FxRateRecord.id),
    "quote": (FxRateRecord.quote, FxRateRecord.base, FxRateRecord.rate_date, FxRateRecord.id),
    "source": (FxRateRecord.source, FxRateRecord.rate_date, FxRateRecord.id),
}
FX_DEFAULT_SORT = "-date"


def rate_on(session: Session, base: str, quote: str, day: date) -> FxRate | None:
    """The latest rate of `base` in `quote` on or before `day`, from any source; on the same day a
    rate entered by hand wins over a central bank's."""
    row = session.execute(
        select(FxRateRecord)
        .where(
            FxRateRecord.base == base,
            FxRateRecord.quote == quote,
            FxRateRecord.rate_date <= day,
        )
        .order_by(
            FxRateRecord.rate_date.desc(),
            case((FxRateRecord.source == "manual", 0), else_=1),
            FxRateRecord.source,
        )
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return FxRate(row.base, row.quote, row.rate, row.rate_date, row.source)


def fx_rates_listing(q: str = "", sort: str = FX_DEFAULT_SORT) -> Select[tuple[FxRateRecord]]:
    """The stored rates for the rates page: `q` matches either currency code or the source."""
    stmt = select(FxRateRecord)
    if q.strip():
        stmt = stmt.where(
            text_match(q.strip(), FxRateRecord.base, FxRateRecord.quote, FxRateRecord.source)
        )
    return order_by_choice(stmt, sort, FX_SORTS, FX_DEFAULT_SORT)
