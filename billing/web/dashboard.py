"""The finance dashboard (SPEC 10): receivables by age, cash collected this month, billed per
month over twelve months per party (a server-drawn SVG chart and the same figures as a table),
days sales outstanding, runs waiting and open disputes. Finance see their own party's figures,
but for the billing per month, which shows both operators side by side (the line is theirs
together, and every finance user reads both parties' invoices); administrators see every
party's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Blueprint, render_template

from billing.calendar import Period, local_date
from billing.extensions import now, session
from billing.money import Money
from billing.payments.queries import BUCKETS
from billing.reports.dashboard import (
    DSO_WINDOW_DAYS,
    BilledSeries,
    billed_per_month,
    cash_collected,
    disputes_count,
    drafts_waiting,
    dso_per_currency,
    last_months,
    open_disputes,
    parties_seen,
    receivables_by_age,
    runs_waiting,
)
from billing.sla.queries import chronically_failing
from billing.web.auth import login_required, staff
from billing.web.frame import seller

bp = Blueprint("finance_dashboard", __name__)

# The chart's frame in SVG user units: the plot sits right of the amount labels, above the
# month labels. Drawn at this size (it scrolls sideways in its box on a phone, the page never).
CHART_WIDTH, PLOT_LEFT, PLOT_TOP, PLOT_HEIGHT, CHART_HEIGHT = 720, 92, 12, 180, 226
# Each party's bars: a fill and an outline with at least 3:1 contrast on white (WCAG 1.4.11),
# and a pattern from the second party on, so that the colour is never the only difference.
SERIES_STYLES = (
    ("#1d4ed8", "#1d4ed8", ""),  # solid blue
    ("url(#bars-hatch)", "#9a3412", "hatched"),  # hatched rust, outlined
    ("url(#bars-dots)", "#166534", "dotted"),  # dotted green, outlined
)
_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Bar:
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    fill: str
    stroke: str
    party: str
    month: date
    amount: Money

    @property
    def title(self) -> str:
        """The bar's label in English; the page writes it in its own language."""
        return f"{self.party}, {self.month:%B %Y}: {self.amount}"


@dataclass(frozen=True, slots=True)
class Chart:
    """One currency's bar chart: a group of bars per month, one bar per party."""

    currency: str
    series: list[BilledSeries]
    months: list[Period]
    bars: list[Bar]
    baseline: Decimal  # the y of zero
    top: Money  # the largest amount, at the top of the plot
    bottom: Money  # the smallest (zero unless a month's credit notes exceed its invoices)
    styles: list[tuple[str, str, str]]

    def month_x(self, index: int) -> Decimal:
        """The middle of a month's group, for its label."""
        slot = Decimal(CHART_WIDTH - PLOT_LEFT) / len(self.months)
        return (PLOT_LEFT + slot * index + slot / 2).quantize(_TENTH)


def _scaled(value: Decimal) -> Decimal:
    return value.quantize(_TENTH, rounding=ROUND_HALF_UP)


def bar_chart(currency: str, series: list[BilledSeries], months: list[Period]) -> Chart:
    """The geometry of one currency's chart, from Decimal ratios of the amounts (never float):
    zero at the baseline, the largest amount at the top, a net negative month below zero."""
    amounts = [a.amount for s in series for a in s.amounts]
    high = max([Decimal(0), *amounts])
    low = min([Decimal(0), *amounts])
    span = (high - low) or Decimal(1)
    per_unit = Decimal(PLOT_HEIGHT) / span
    baseline = _scaled(PLOT_TOP + high * per_unit)
    slot = Decimal(CHART_WIDTH - PLOT_LEFT) / len(months)
    gap = slot / 5
    width = (slot - gap) / max(len(series), 1)
    bars = []
    for position, s in enumerate(series):
        fill, stroke, _ = SERIES_STYLES[position % len(SERIES_STYLES)]
        for index, amount in enumerate(s.amounts):
            height = _scaled(abs(amount.amount) * per_unit)
            top = baseline - height if amount.amount >= 0 else baseline
            bars.append(
                Bar(
                    x=_scaled(PLOT_LEFT + slot * index + gap / 2 + width * position),
                    y=top,
                    width=_scaled(width),
                    height=height,
                    fill=fill,
                    stroke=stroke,
                    party=s.party,
                    month=months[index].start,
                    amount=amount,
                )
            )
    return Chart(
        currency=currency,
        series=series,
        months=months,
        bars=bars,
        baseline=baseline,
        top=Money(high, currency),
        bottom=Money(low, currency),
        styles=[SERIES_STYLES[i % len(SERIES_STYLES)] for i in range(len(series))],
    )


def charts(series: list[BilledSeries], months: list[Period]) -> list[Chart]:
    by_currency: dict[str, list[BilledSeries]] = {}
    for s in series:
        by_currency.setdefault(s.currency, []).append(s)
    return [bar_chart(currency, rows, months) for currency, rows in by_currency.items()]


@bp.get("/finance")
@login_required("admin", "finance")
def dashboard() -> Any:
    user = staff()
    party_id = seller().party_id
    at = now()
    today: date = local_date(at, user.party.time_zone)
    months = last_months(today)
    # Both operators' billing side by side for every finance user: the joint line's trend.
    billed = billed_per_month(session(), months, party_id=None)
    shown = parties_seen(session(), party_id)
    return render_template(
        "reports/finance_dashboard.html",
        today=today,
        parties=shown,
        # The filters of the pages each panel links to: a finance user's are their party's.
        issuer=shown[0].code if party_id is not None and shown else None,
        ageing=receivables_by_age(session(), today, party_id=party_id),
        buckets=BUCKETS,
        collected=cash_collected(session(), at, party_id=party_id),
        months=months,
        charts=charts(billed, months),
        dso=dso_per_currency(session(), today, party_id=party_id),
        dso_window=DSO_WINDOW_DAYS,
        runs=runs_waiting(session(), party_id=party_id),
        drafts=drafts_waiting(session(), party_id=party_id),
        disputes=open_disputes(session(), party_id=party_id),
        disputes_total=disputes_count(session(), party_id=party_id),
        chronic=chronically_failing(session(), party_id=party_id),
        chart_size={
            "width": CHART_WIDTH,
            "left": PLOT_LEFT,
            "top": PLOT_TOP,
            "height": PLOT_HEIGHT,
            "full": CHART_HEIGHT,
        },
    )
