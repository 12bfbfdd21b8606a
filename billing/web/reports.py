"""Reports for finance and administrators: revenue assurance (SPEC 2)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from billing.extensions import session
from billing.sales.queries import unbilled_allocations
from billing.web.auth import login_required

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
