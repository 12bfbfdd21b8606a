"""The web's frame, what every staff page shares: the seller behind a request, paging, search
and sort arguments, and how amounts, percentages and instants read on a page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, flash, request
from sqlalchemy import Select

from billing.db import Page, fetch_page, sort_choice
from billing.extensions import session
from billing.money import DEFAULT_LOCALE, Money, format_money
from billing.parties.customers import Seller
from billing.validation import INT_MAX, InvalidValueError, clean_text, parse_integer
from billing.web.auth import actor, staff

bp = Blueprint("sales_common", __name__)
SELLING_ROLES = ("sales", "admin")
PAGE_SIZE = 50
MAX_SEARCH = 200


def seller() -> Seller:
    """The logged-in user as a seller: an administrator may act for any party."""
    user = staff()
    return Seller(label=actor(), party_id=None if user.role == "admin" else user.party_id)


def may_sell_for(party_id: int) -> bool:
    """Whether the logged-in user may change things that `party_id` sells (finance may not)."""
    user = staff()
    return user.role in SELLING_ROLES and seller().may_sell_for(party_id)


def page_number() -> int:
    """?page=N: a number from 1; anything else (abc, -1, empty) is the first page."""
    try:
        return parse_integer(request.args.get("page", "1"), minimum=1)
    except InvalidValueError:
        return 1


def paginate(stmt: Select[Any]) -> Page[Any]:
    """Page ?page=N of a SELECT of entities, PAGE_SIZE to a page; past the end, the last page."""
    page = fetch_page(session(), stmt, page_number(), PAGE_SIZE)
    if page.number > page.pages:
        page = fetch_page(session(), stmt, page.pages, PAGE_SIZE)
    return page


def id_arg(name: str) -> int | None:
    """A row id from the query string (?customer_id=7); empty, malformed or out of range is no
    filter at all."""
    try:
        return parse_integer(request.args.get(name, ""), minimum=1, maximum=INT_MAX)
    except InvalidValueError:
        return None


@dataclass(frozen=True)
class ListArgs:
    """What a list page is searched for (?q=) and sorted by (?sort=name, ?sort=-name)."""

    q: str
    sort: str

    def link_args(self) -> dict[str, str | None]:
        return {"q": self.q or None, "sort": self.sort}


def list_args(sorts: Mapping[str, Any], default: str) -> ListArgs:
    """?q= and ?sort= of a list page: a search text within MAX_SEARCH characters (one that is
    not valid text is dropped, with a message) and a sort among `sorts` (else `default`)."""
    q = request.args.get("q", "")
    try:
        q = clean_text(q, max_length=MAX_SEARCH).strip()
    except InvalidValueError as error:
        flash(f"The search was ignored ({error}).", "error")
        q = ""
    return ListArgs(q=q, sort=sort_choice(request.args.get("sort", ""), sorts, default))


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
