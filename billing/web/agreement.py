"""The cooperation agreement for administrators (SPEC 5): its versions with their shares and
commission, and a new version recorded from a form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
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


def percent_field(label: str, default: Decimal | None = None) -> DecimalNumberField:
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

    name = TextField("Name", validators=[DataRequired()], max_length=200)
    effective_from = IsoDateField("Takes effect on", validators=[InputRequired()])
    commission_percent = percent_field("Seller's commission (%)")
    settlement_terms_days = WholeNumberField(
        "Settlement due (days after the month's end)",
        validators=[InputRequired()],
        minimum=0,
        maximum=365,
        default=DEFAULT_SETTLEMENT_TERMS_DAYS,
    )


def version_form(segments: list[Any], parties: list[Any]) -> VersionForm:
    fields = {
        f"share_{s.code}_{p.code}": percent_field(
            f"{s.code} ({s.length_km.normalize():f} km): {p.code}'s share (%)",
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
            with saving("The agreement version was not recorded", form) as outcome:
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
                    f"Agreement version “{version.name}” recorded: it applies to lines from "
                    f"{version.effective_from.isoformat()} on.",
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
        commission_kinds=commission_kinds,
        whole_kinds=whole_kinds,
    ), status
