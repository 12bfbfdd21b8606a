"""Reports for finance and administrators: revenue assurance (SPEC 2); for operations, finance
and administrators: the segment report (SPEC 7)."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext

from billing.calendar import add_months, billing_period, local_date
from billing.errors import DomainError
from billing.extensions import now, session
from billing.reports.sla import (
    SEGMENT_DEFAULT_SORT,
    SEGMENT_SORTS,
    parse_month,
    segment_report,
    sorted_figures,
)
from billing.sales.queries import unbilled_allocations
from billing.web.auth import login_required
from billing.web.frame import csv_download, wants_csv

bp = Blueprint("reports", __name__)


@bp.get("/reports/revenue-assurance")
@login_required("admin", "finance")
def revenue_assurance() -> Any:
    rows = unbilled_allocations(session())
    return render_template(
        "reports/revenue_assurance.html",
        rows=rows,
        unbilled=[r for r in rows if not r.own_use],
    )


# The segment report spans at most this many months (a bound on one page's work).
MAX_REPORT_MONTHS = 60
SEGMENT_REPORT_ROLES = ("noc", "finance", "admin")


def _report_range() -> tuple[date, date, dict[str, list[str]]]:
    """?from=YYYY-MM&to=YYYY-MM (months in UTC), by default the last 12 up to this one; a bad
    bound is named and its default used instead."""
    this_month = billing_period(local_date(now(), "UTC")).start
    first, last = add_months(this_month, -11), this_month
    errors: dict[str, list[str]] = {}
    for name in ("from", "to"):
        text = request.args.get(name, "")
        if not text:
            continue
        try:
            month = parse_month(text, name).start
        except DomainError as error:
            errors.update(error.errors)
            continue
        if month > this_month:
            errors[name] = [
                _("Choose %(month)s or an earlier month.", month=this_month.strftime("%Y-%m"))
            ]
        elif name == "from":
            first = month
        else:
            last = month
    if first > last:
        errors["to"] = [_("The last month is not before the first.")]
        first, last = add_months(this_month, -11), this_month
    elif (last.year - first.year) * 12 + last.month - first.month >= MAX_REPORT_MONTHS:
        errors["from"] = [
            ngettext(
                "A report spans at most %(num)d month.",
                "A report spans at most %(num)d months.",
                MAX_REPORT_MONTHS,
            )
        ]
        first = add_months(last, -(MAX_REPORT_MONTHS - 1))
    return first, last, errors


@bp.get("/reports/segments")
@login_required(*SEGMENT_REPORT_ROLES)
def segments() -> Any:
    first, last, errors = _report_range()
    sort = request.args.get("sort", "")
    if sort.removeprefix("-") not in SEGMENT_SORTS:
        sort = SEGMENT_DEFAULT_SORT
    figures = sorted_figures(segment_report(session(), first, last, now()), sort)
    if wants_csv() and not errors:
        return csv_download(
            "segment-report",
            "segment name from to outages open outage_minutes mttr_minutes worst_months".split(),
            (
                (
                    f.code,
                    f.name,
                    f"{first:%Y-%m}",
                    f"{last:%Y-%m}",
                    f.outages,
                    f.open_outages,
                    f.minutes,
                    f.mttr_minutes,
                    " ".join(f"{m.month:%Y-%m}:{m.minutes}" for m in f.worst_months),
                )
                for f in figures
            ),
        )
    return render_template(
        "reports/segments.html",
        figures=figures,
        first=first,
        last=last,
        errors=errors,
        sort=sort,
        as_of=now().astimezone(UTC),
    )
