"""Server-rendered pages for staff (SPEC 10): Jinja, no JavaScript build, nothing from a CDN."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask

from billing.text import decimal_text
from billing.web.auth import init_login
from billing.web.language import init_language


def register_web(app: Flask) -> None:
    from billing.web import (
        admin,
        agreement,
        auth,
        billing_runs,
        customers,
        dashboard,
        frame,
        fx,
        inventory,
        invoices,
        jobs,
        mail,
        operations,
        payments,
        portal,
        portal_logins,
        pricebook,
        quotes,
        reminders,
        reports,
        services,
        settlement,
        webhooks,
    )

    init_language(app)
    init_login(app)
    for module in (
        auth,
        inventory,
        dashboard,
        admin,
        agreement,
        frame,
        customers,
        quotes,
        services,
        pricebook,
        reports,
        fx,
        invoices,
        billing_runs,
        jobs,
        webhooks,
        mail,
        reminders,
        payments,
        settlement,
        portal,
        portal_logins,
        operations,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(operations.policies_bp)

    @app.template_filter("thz")
    def _thz(value: Any) -> str:
        return f"{value:.4f}"

    @app.template_filter("plain")
    def _plain(value: Decimal) -> str:
        """A decimal without trailing zeros and never in exponent form (330, not 3.3E+2)."""
        return decimal_text(value)
