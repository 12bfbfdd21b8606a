"""The price book (administrators): versions, a new version copied with a percentage change, and
the entries of a version that is not yet in force.

A version in force or past is never edited: quotes copied their prices from it, and the audit
trail would no longer say what was offered.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms.validators import InputRequired, Optional

from billing.errors import ConflictError
from billing.extensions import now, session
from billing.sales.models import PriceBookEntry, PriceBookVersion
from billing.sales.pricebook import (
    EntryChange,
    check_scheduled,
    create_version,
    list_versions,
    price_book_today,
    update_scheduled_version,
    version_on,
)
from billing.sales.queries import (
    PRICE_BOOK_DEFAULT_SORT,
    PRICE_BOOK_SORTS,
    get_price_book_version,
    price_book_version_listing,
)
from billing.validation import InvalidValueError, parse_decimal
from billing.web.auth import actor, login_required
from billing.web.forms import (
    DecimalNumberField,
    IdSelectField,
    IsoDateField,
    TextField,
    saving,
)
from billing.web.frame import list_args, paginate
from billing.web.language import day_text, error_text, value_error_text

bp = Blueprint("pricebook", __name__, url_prefix="/pricebook")

PRICE_FIELDS = {"lease": ("mrc", "nrc"), "iru": ("iru_fee", "om_rate_percent")}
PROTECTION_ORDER = {"unprotected": 0, "protected": 1}
MODEL_ORDER = {"lease": 0, "iru": 1}
# Words for version_status's codes (the code stays the badge's CSS class).
VERSION_STATUS_WORDS = {
    "in force": _l("in force"),
    "scheduled": _l("scheduled"),
    "superseded": _l("superseded"),
}


class NewVersionForm(FlaskForm):  # type: ignore[misc]
    source_id = IdSelectField(_l("Copy prices from"))
    effective_from = IsoDateField(_l("Effective from"), validators=[InputRequired()])
    change_percent = DecimalNumberField(
        _l("Change all prices by (%)"),
        default=Decimal(0),
        validators=[InputRequired()],
        places=2,
        max_digits=6,
        minimum=Decimal("-99.99"),
        maximum=Decimal("1000"),
    )
    max_discount_percent = DecimalNumberField(
        _l("Max discount (%)"),
        validators=[Optional()],
        places=2,
        max_digits=5,
        minimum=Decimal(0),
        maximum=Decimal(100),
    )
    name = TextField(_l("Name"), max_length=100)


def in_force_id(session: Session, today: date) -> int | None:
    try:
        return version_on(session, today).id
    except ConflictError:
        return None


def version_status(version: PriceBookVersion, current_id: int | None, today: date) -> str:
    if version.id == current_id:
        return "in force"
    return "scheduled" if version.effective_from > today else "superseded"


def sorted_entries(version: PriceBookVersion) -> list[PriceBookEntry]:
    return sorted(
        version.entries,
        key=lambda e: (
            e.product.listing_order,
            e.product.id,
            PROTECTION_ORDER.get(e.protection, 9),
            MODEL_ORDER.get(e.model, 9),
            e.term_min_months,
        ),
    )


def _versions_page(form: NewVersionForm, status: int = 200) -> Any:
    today = price_book_today(session(), now())
    args = list_args(PRICE_BOOK_SORTS, PRICE_BOOK_DEFAULT_SORT)
    current = in_force_id(session(), today)
    return render_template(
        "sales/pricebook.html",
        page=paginate(price_book_version_listing(q=args.q, sort=args.sort)),
        args=args,
        status_of=lambda v: version_status(v, current, today),
        version_status_words=VERSION_STATUS_WORDS,
        form=form,
    ), status


def _source_choices(form: NewVersionForm) -> None:
    form.source_id.choices = [
        (v.id, _("%(name)s (from %(date)s)", name=v.name, date=day_text(v.effective_from)))
        for v in list_versions(session())
    ]


@bp.get("")
@login_required("admin")
def versions() -> Any:
    form = NewVersionForm(formdata=None)
    _source_choices(form)
    today = price_book_today(session(), now())
    form.source_id.data = in_force_id(session(), today)
    form.effective_from.data = today + timedelta(days=1)
    return _versions_page(form)


@bp.post("")
@login_required("admin")
def new_version() -> Any:
    form = NewVersionForm()
    _source_choices(form)
    if not form.validate():
        flash(_("The version was not created: correct the fields marked below."), "error")
        return _versions_page(form, 422)
    source = get_price_book_version(session(), form.source_id.data)
    change = form.change_percent.data
    sign = "+" if change >= 0 else ""
    name = (form.name.data or "").strip() or (
        f"{source.name} {sign}{change.normalize():f}% from {form.effective_from.data}"
    )
    with saving(_("The version was not created"), form) as outcome:
        version = create_version(
            session(),
            name=name[:100],
            effective_from=form.effective_from.data,
            max_discount_percent=(
                source.max_discount_percent
                if form.max_discount_percent.data is None
                else form.max_discount_percent.data
            ),
            entries=[],
            copy_from=source.id,
            change_percent=change,
            actor=actor(),
            now=now(),
        )
        version_id, version_name = version.id, version.name
    if outcome.refused:
        return _versions_page(form, outcome.status)
    flash(_("Price book version “%(name)s” created.", name=version_name), "success")
    return redirect(url_for("pricebook.version_page", version_id=version_id))


def _version_page(
    version: PriceBookVersion,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    posted: dict[str, str] | None = None,
) -> Any:
    today = price_book_today(session(), now())
    return render_template(
        "sales/pricebook_version.html",
        version=version,
        entries=sorted_entries(version),
        status=version_status(version, in_force_id(session(), today), today),
        version_status_words=VERSION_STATUS_WORDS,
        editable=version.effective_from > today,
        price_fields=PRICE_FIELDS,
        errors=errors or {},
        posted=posted,
    ), status


@bp.get("/<id:version_id>")
@login_required("admin")
def version_page(version_id: int) -> Any:
    return _version_page(get_price_book_version(session(), version_id))


def _amount(raw: str, places: int, max_digits: int, limit: Decimal) -> Decimal:
    """A price or a rate typed into the version's table (1,234.50 reads as 1234.50), on the
    one decimal rule (billing.validation), 0 to `limit`."""
    return parse_decimal(
        raw.replace(",", ""),
        places=places,
        max_digits=max_digits,
        minimum=Decimal(0),
        maximum=limit,
    )


def read_entry_changes(
    version: PriceBookVersion, form: dict[str, str]
) -> tuple[list[EntryChange], dict[str, str]]:
    """The posted prices of every entry (`e<id>-<field>`), or a message per input that is wrong."""
    changes: list[EntryChange] = []
    errors: dict[str, str] = {}
    for entry in version.entries:
        values: dict[str, Decimal] = {}
        for name in PRICE_FIELDS[entry.model]:
            key = f"e{entry.id}-{name}"
            rate = name == "om_rate_percent"
            try:
                values[name] = (
                    _amount(form.get(key, ""), 3, 6, Decimal(100))
                    if rate
                    else _amount(form.get(key, ""), 2, 14, Decimal("999999999999.99"))
                )
            except InvalidValueError as e:
                errors[key] = value_error_text(e)
        if any(getattr(entry, k) != v for k, v in values.items()):
            changes.append(EntryChange(entry, values))
    return changes, errors


@bp.post("/<id:version_id>")
@login_required("admin")
def update_version(version_id: int) -> Any:
    version = get_price_book_version(session(), version_id)
    try:
        check_scheduled(version, price_book_today(session(), now()))
    except ConflictError as e:
        flash(_("Nothing was saved: %(reason)s.", reason=error_text(e.message)), "error")
        return _version_page(version, status=e.status)
    posted = request.form.to_dict()
    changes, errors = read_entry_changes(version, posted)
    try:
        max_discount = _amount(posted.get("max_discount_percent", ""), 2, 5, Decimal(100))
    except InvalidValueError as e:
        errors["max_discount_percent"] = value_error_text(e)
    if errors:
        flash(_("Nothing was saved: correct the prices marked below."), "error")
        return _version_page(version, status=422, errors=errors, posted=posted)
    with saving(_("Nothing was saved")) as outcome:
        count = update_scheduled_version(
            session(),
            version,
            changes=changes,
            max_discount_percent=max_discount,
            actor=actor(),
            now=now(),
        )
    if outcome.refused:
        return _version_page(get_price_book_version(session(), version_id), status=outcome.status)
    flash(
        ngettext("Saved: %(num)d price(s) changed.", "Saved: %(num)d price(s) changed.", count),
        "success",
    )
    return redirect(url_for("pricebook.version_page", version_id=version_id))
