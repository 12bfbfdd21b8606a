"""What the sales pages share: the seller behind a request, paging, and how amounts read on a
page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import Select

from billing.db import Page, fetch_page
from billing.extensions import session
from billing.money import DEFAULT_LOCALE, Money, format_money
from billing.parties.customers import Seller
from billing.web.auth import actor, staff

bp = Blueprint("sales_common", __name__)
SELLING_ROLES = ("sales", "admin")
PAGE_SIZE = 50


def seller() -> Seller:
    """The logged-in user as a seller: an administrator may act for any party."""
    user = staff()
    return Seller(label=actor(), party_id=None if user.role == "admin" else user.party_id)


def may_sell_for(party_id: int) -> bool:
    """Whether the logged-in user may change things that `party_id` sells (finance may not)."""
    user = staff()
    return user.role in SELLING_ROLES and seller().may_sell_for(party_id)


def paginate(stmt: Select[Any]) -> Page[Any]:
    """Page ?page=N of a SELECT of entities, PAGE_SIZE to a page."""
    number = max(1, request.args.get("page", 1, type=int) or 1)
    return fetch_page(session(), stmt, number, PAGE_SIZE)


@bp.app_template_filter("money")
def money(value: Money | Decimal | None, currency: str | None = None, code: bool = False) -> str:
    """12,345.60 (JPY 1,235), per the currency's minor unit and the configured locale; with
    `code`, USD 12,345.60. A bare amount needs its currency. A dash for a charge the model lacks.
    """
    if value is None:
        return "—"
    if not isinstance(value, Money):
        if currency is None:
            raise TypeError("an amount prints with its currency: amount | money(currency)")
        value = Money(value, currency)
    locale = current_app.config.get("MONEY_LOCALE", DEFAULT_LOCALE)
    return format_money(value, locale=locale, with_code=code)


@bp.app_template_filter("pct")
def pct(value: Decimal | None) -> str:
    """A percentage without trailing zeros: 4%, 12.5%."""
    return "—" if value is None else f"{value.normalize():f}%"


@bp.app_template_filter("utc")
def utc(value: Any) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


@bp.app_template_global()
def term_text(months: int) -> str:
    """36 months; 15 years (180 months) for whole years past the lease range."""
    if months % 12 == 0 and months >= 120:
        return f"{months // 12} years"
    return f"{months} months"
