"""The cooperation agreement for administrators (SPEC 5): its versions with their shares and
commission, and a new version recorded from a form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.validators import DataRequired, InputRequired

from billing.agreement.models import (
    CHARGE_KINDS,
    DEFAULT_COMMISSION_KINDS,
    DEFAULT_SETTLEMENT_TERMS_DAYS,
    DEFAULT_WHOLE_KINDS,
)
from billing.agreement.queries import list_versions, parties_in_order
from billing.agreement.services import add_version
from billing.extensions import now, session
from billing.inventory.queries import all_segments
from billing.web.auth import login_required
from billing.web.forms import (
    DecimalNumberField,
    IsoDateField,
    TextField,
    WholeNumberField,
    saving,
)
from billing.web.frame import seller

bp = Blueprint("agreement", __name__, url_prefix="/admin")
# Charge kinds in words on the form; the others (mrc, nrc, om: acronyms) read as their code.
KIND_WORDS = {
    "mrc_credit": _l("mrc credit"),
    "iru_fee": _l("iru fee"),
    "early_termination": _l("early termination"),
}


def percent_field(label: Any, default: Decimal | None = None) -> DecimalNumberField:
    """A percentage from 0 to 100, at the columns' four places."""
    return DecimalNumberField(
        label,
        validators=[InputRequired()],
        places=4,
        max_digits=7,
        minimum=Decimal(0),
        maximum=Decimal(100),
        default=default,
    )


class VersionForm(FlaskForm):  # type: ignore[misc]
    """A version: its name, start and commission; `share_<segment>_<party>` fields are added per
    segment and party by version_form."""

    name = TextField(_l("Name"), validators=[DataRequired()], max_length=200)
    effective_from = IsoDateField(_l("Takes effect on"), validators=[InputRequired()])
    commission_percent = percent_field(_l("Seller's commission (%)"))
    settlement_terms_days = WholeNumberField(
        _l("Settlement due (days after the month's end)"),
        validators=[InputRequired()],
        minimum=0,
        maximum=365,
        default=DEFAULT_SETTLEMENT_TERMS_DAYS,
    )


def version_form(segments: list[Any], parties: list[Any]) -> VersionForm:
    fields = {
        f"share_{s.code}_{p.code}": percent_field(
            _(
                "%(segment)s (%(length)s km): %(party)s's share (%%)",
                segment=s.code,
                length=format(s.length_km.normalize(), "f"),
                party=p.code,
            ),
            default=Decimal(100) / len(parties),
        )
        for s in segments
        for p in parties
    }
    return type("AgreementVersionForm", (VersionForm,), fields)()  # type: ignore[no-any-return]


@bp.route("/agreement", methods=["GET", "POST"])
@login_required("admin")
def versions() -> Any:
    segments = all_segments(session())
    parties = parties_in_order(session())
    form = version_form(segments, parties)
    commission_kinds = list(DEFAULT_COMMISSION_KINDS)
    whole_kinds = list(DEFAULT_WHOLE_KINDS)
    status = 200
    if request.method == "POST":
        commission_kinds = request.form.getlist("commission_kinds")
        whole_kinds = request.form.getlist("whole_kinds")
        if not form.validate():
            status = 422
        else:
            with saving(_("The agreement version was not recorded"), form) as outcome:
                version = add_version(
                    session(),
                    name=form.name.data,
                    effective_from=form.effective_from.data,
                    commission_percent=form.commission_percent.data,
                    shares={
                        s.code: {p.code: form[f"share_{s.code}_{p.code}"].data for p in parties}
                        for s in segments
                    },
                    commission_kinds=commission_kinds,
                    whole_kinds=whole_kinds,
                    settlement_terms_days=form.settlement_terms_days.data,
                    actor=seller(),
                    now=now(),
                )
            if not outcome.refused:
                flash(
                    _(
                        "Agreement version “%(name)s” recorded: it applies to lines from %(day)s on.",
                        name=version.name,
                        day=version.effective_from.isoformat(),
                    ),
                    "success",
                )
                return redirect(url_for("agreement.versions"))
            status = outcome.status
    return render_template(
        "admin/agreement.html",
        versions=list_versions(session()),
        form=form,
        segments=segments,
        parties=parties,
        kinds=CHARGE_KINDS,
        kind_words=KIND_WORDS,
        commission_kinds=commission_kinds,
        whole_kinds=whole_kinds,
    ), status
