"""The web's frame, what every staff page shares: the seller behind a request, paging, search
and sort arguments, and how amounts, percentages and instants read on a page."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, request
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Select

from billing.calendar import local_date
from billing.csvfile import csv_writer, text_cell
from billing.db import Page, fetch_page, sort_choice
from billing.extensions import now, session
from billing.money import Money
from billing.parties.customers import Seller
from billing.validation import INT_MAX, InvalidValueError, clean_text, parse_integer
from billing.web.auth import actor, staff
from billing.web.language import instant_text, money_text, value_error_text

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
        flash(_("The search was ignored (%(error)s).", error=value_error_text(error)), "error")
        q = ""
    return ListArgs(q=q, sort=sort_choice(request.args.get("sort", ""), sorts, default))


@bp.app_template_filter("money")
def money(value: Money | Decimal | None, currency: str | None = None, code: bool = False) -> str:
    """12,345.60 (JPY 1,235), per the currency's minor unit and the page's language (English:
    the configured MONEY_LOCALE; Russian 12 345,60, see billing.web.language); with `code`,
    USD 12,345.60 (Russian 12 345,60 $). A bare amount needs its currency. A dash for a charge the model lacks.
    """
    if value is None:
        return "—"
    if not isinstance(value, Money):
        if currency is None:
            raise TypeError("an amount prints with its currency: amount | money(currency)")
        value = Money(value, currency)
    return money_text(value, with_code=code)


@bp.app_template_filter("pct")
def pct(value: Decimal | None) -> str:
    """A percentage without trailing zeros: 4%, 12.5%."""
    return "—" if value is None else f"{value.normalize():f}%"


@bp.app_template_filter("utc")
def utc(value: Any) -> str:
    return instant_text(value)


@bp.app_template_global()
def term_text(months: int) -> str:
    """36 months; 15 years (180 months) for whole years past the lease range."""
    if months % 12 == 0 and months >= 120:
        return str(ngettext("%(num)d year", "%(num)d years", months // 12))
    return str(ngettext("%(num)d month", "%(num)d months", months))


# --- Lists as CSV (SPEC 10) ---

# A list's CSV holds every row the filters match, up to this many (a bound on one download's
# memory); the download says so in its last row when it stops there.
EXPORT_LIMIT = 50_000


def wants_csv() -> bool:
    """Whether a list page was asked for as CSV (?format=csv) rather than as a page."""
    return request.args.get("format", "") == "csv"


@bp.app_template_global()
def csv_url() -> str:
    """This list's address as CSV: its search, filters and sort, without the page number."""
    args = {k: v for k, v in request.args.items(multi=True) if k not in ("page", "format")}
    query = urlencode([*args.items(), ("format", "csv")])
    return f"{request.path}?{query}"


def every_row(stmt: Select[Any]) -> list[Any]:
    """All the rows of a list's SELECT of entities (not one page), at most EXPORT_LIMIT + 1."""
    return list(session().execute(stmt.limit(EXPORT_LIMIT + 1)).scalars())


def amount_cell(value: Money | Decimal | None, currency: str | None = None) -> Decimal | None:
    """An amount at its currency's minor unit, written as a plain decimal (-1234.50): no
    grouping, no symbol, the same in every locale; empty for none."""
    if value is None:
        return None
    money = value if isinstance(value, Money) else Money(value, currency or "")
    return money.rounded().amount


def csv_download(
    name: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    time_zone: str | None = None,
) -> Response:
    """A list as a CSV attachment, `name-YYYY-MM-DD.csv` (the business day of `time_zone`, by
    default the staff user's party's): UTF-8, a header row, text cells safe in a spreadsheet
    (billing.csvfile)."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(header)
    for count, row in enumerate(rows):
        if count == EXPORT_LIMIT:
            writer.writerow([f"(stopped at {EXPORT_LIMIT} rows: narrow the filters)"])
            break
        writer.writerow([text_cell(cell) if isinstance(cell, str) else cell for cell in row])
    today = local_date(now(), time_zone or staff().party.time_zone)
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{today.isoformat()}.csv"',
            "Cache-Control": "no-store",
        },
    )
