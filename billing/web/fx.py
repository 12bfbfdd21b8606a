"""Exchange rates for finance (SPEC 4): the stored rates, one entered by hand, a central bank's
file imported."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.validators import DataRequired, InputRequired

from billing.extensions import now, session
from billing.invoicing.models import RATE_DIGITS, RATE_PLACES
from billing.invoicing.queries import FX_DEFAULT_SORT, FX_SORTS, fx_rates_listing
from billing.invoicing.services import import_fx_file, record_fx_rate
from billing.text import decimal_text
from billing.web.auth import actor, login_required
from billing.web.forms import DecimalNumberField, IsoDateField, TextField, saving
from billing.web.frame import list_args, paginate

bp = Blueprint("fx", __name__, url_prefix="/finance")

FINANCE = ("admin", "finance")


class FxRateForm(FlaskForm):  # type: ignore[misc]
    """One rate by hand: `rate` units of the quote currency buy one unit of the base."""

    base = TextField(_l("Base currency"), validators=[DataRequired()], max_length=3)
    quote = TextField(_l("Quote currency"), validators=[DataRequired()], max_length=3)
    rate = DecimalNumberField(
        _l("Rate (quote per 1 base)"),
        validators=[InputRequired()],
        places=RATE_PLACES,
        max_digits=RATE_DIGITS,
        minimum=Decimal(1).scaleb(-RATE_PLACES),
    )
    rate_date = IsoDateField(_l("Date"), validators=[InputRequired()])


class FxImportForm(FlaskForm):  # type: ignore[misc]
    # cbar: the Central Bank of Azerbaijan, rates in AZN; nbk: the National Bank of Kazakhstan, KZT.
    source = SelectField(_l("Source"), choices=["cbar", "nbk"])
    file = FileField(
        _l("Daily file (XML)"), validators=[FileRequired(_l("Choose the file to import."))]
    )


@bp.route("/fx-rates", methods=["GET", "POST"])
@login_required(*FINANCE)
def rates() -> Any:
    form = FxRateForm()
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 422
        else:
            with saving("The rate was not saved", form) as outcome:
                row = record_fx_rate(
                    session(),
                    base=form.base.data,
                    quote=form.quote.data,
                    rate=form.rate.data,
                    on=form.rate_date.data,
                    actor=actor(),
                    now=now(),
                )
            if not outcome.refused:
                flash(
                    _(
                        "Rate saved: 1 %(base)s = %(rate)s %(quote)s on %(day)s.",
                        base=row.base,
                        rate=decimal_text(row.rate),
                        quote=row.quote,
                        day=row.rate_date.isoformat(),
                    ),
                    "success",
                )
                return redirect(url_for("fx.rates"))
            status = outcome.status
    return _page(form=form), status


@bp.route("/fx-rates/import", methods=["GET", "POST"])
@login_required(*FINANCE)
def import_rates() -> Any:
    if request.method == "GET":  # the list's links on a refused import's page lead back here
        kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("q", "sort", "page")}
        return redirect(url_for("fx.rates", **kept))
    upload = FxImportForm()
    status = 422
    if upload.validate():
        content = upload.file.data.read()
        with saving("The rates were not imported", upload) as outcome:
            result = import_fx_file(
                session(), upload.source.data, content, actor=actor(), now=now()
            )
        if not outcome.refused:
            flash(
                _(
                    "%(source)s rates of %(day)s: %(added)s added, %(changed)s changed, "
                    "%(unchanged)s unchanged, %(skipped)s skipped.",
                    source=result.source.upper(),
                    day=result.on.isoformat(),
                    added=result.added,
                    changed=result.changed,
                    unchanged=result.unchanged,
                    skipped=len(result.skipped),
                ),
                "success",
            )
            for reason in result.skipped:
                flash(_("Skipped %(reason)s.", reason=reason), "info")
            return redirect(url_for("fx.rates"))
        status = outcome.status
    return _page(upload=upload), status


def _page(form: FxRateForm | None = None, upload: FxImportForm | None = None) -> str:
    args = list_args(FX_SORTS, FX_DEFAULT_SORT)
    return render_template(
        "invoicing/fx_rates.html",
        page=paginate(fx_rates_listing(q=args.q, sort=args.sort)),
        args=args,
        form=form or FxRateForm(formdata=None),
        upload=upload or FxImportForm(formdata=None),
    )
