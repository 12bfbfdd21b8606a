"""Operations (SPEC 7): the outages of the cable's segments, listed, recorded, corrected, closed,
removed and imported from a CSV file; and the SLA policies (targets and credit tiers per
protection class), kept by administrators and read by finance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import Form, FormField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from billing.calendar import local_date
from billing.extensions import now, session
from billing.inventory.queries import all_segments
from billing.sla.listing import (
    OUTAGE_DEFAULT_SORT,
    OUTAGE_SORTS,
    outage_listing,
    outage_minutes,
    policy_versions,
)
from billing.sla.models import CAUSE_LENGTH, PROTECTIONS, TICKET_LENGTH, Outage
from billing.sla.outages import (
    COLUMNS,
    NOTE_LENGTH,
    delete_outage,
    get_outage,
    import_outages,
    record_outage,
    update_outage,
)
from billing.sla.services import add_policy
from billing.validation import InvalidValueError, parse_date
from billing.web.auth import actor, login_required, staff
from billing.web.forms import (
    DecimalNumberField,
    IsoDateField,
    TextAreaField,
    TextField,
    saving,
)
from billing.web.frame import csv_download, every_row, list_args, paginate, wants_csv
from billing.web.language import PROTECTION_WORDS, day_text, protection_words, value_error_text

bp = Blueprint("operations", __name__, url_prefix="/operations")
# The SLA policies sit in the Admin menu: a blueprint of their own, so that the menu marks only
# them as the current page.
policies_bp = Blueprint("sla_policies", __name__, url_prefix="/admin")

OPERATIONS = ("noc", "admin")
# The zones a time typed without an offset may be read in: UTC and the two parties' own.
ZONES = ("UTC", "Asia/Baku", "Asia/Almaty")
LOCAL_INPUT = "%Y-%m-%dT%H:%M"
TIER_ROWS = 5


def default_zone() -> str:
    zone = staff().party.time_zone if staff().party is not None else "UTC"
    return zone if zone in ZONES else "UTC"


def instant_text(typed: str | None, zone: str) -> str:
    """What a start or end field holds as an instant for the services: a time with its offset
    as typed, a time without one (a datetime-local input's) read in `zone`; anything else as it
    is, for the services' own message."""
    text = (typed or "").strip()
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return text
    if moment.tzinfo is None and zone in ZONES:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.isoformat()


class OutageForm(FlaskForm):  # type: ignore[misc]
    segment = SelectField(_l("Segment"), validators=[DataRequired(_l("Choose the segment."))])
    start = TextField(
        _l("Start"),
        validators=[DataRequired(_l("Give the start."))],
        max_length=40,
        render_kw={"type": "datetime-local"},
    )
    end = TextField(
        _l("End"), validators=[Optional()], max_length=40, render_kw={"type": "datetime-local"}
    )
    zone = SelectField(_l("Time zone of start and end"), choices=list(ZONES))
    cause = TextField(
        _l("Cause"), validators=[DataRequired(_l("Give the cause."))], max_length=CAUSE_LENGTH
    )
    ticket = TextField(
        _l("Ticket"), validators=[DataRequired(_l("Give the ticket."))], max_length=TICKET_LENGTH
    )
    note = TextAreaField(_l("Note"), max_length=NOTE_LENGTH)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.segment.choices = [("", _("choose…"))] + [
            (s.code, f"{s.code} · {s.name}") for s in all_segments(session())
        ]

    def values(self, *, close_now: bool = False) -> dict[str, str]:
        zone = self.zone.data
        end = now().astimezone(UTC).isoformat() if close_now else self.end.data
        return {
            "segment": self.segment.data or "",
            "start": instant_text(self.start.data, zone),
            "end": instant_text(end, zone),
            "cause": self.cause.data or "",
            "ticket": self.ticket.data or "",
            "note": self.note.data or "",
        }

    def show(self, outage: Outage, zone: str) -> None:
        """Fill the form with a stored outage, its times in `zone`."""
        local = ZoneInfo(zone)
        self.segment.data = outage.segment.code
        self.zone.data = zone
        self.start.data = outage.starts_at.astimezone(local).strftime(LOCAL_INPUT)
        self.end.data = (
            outage.ends_at.astimezone(local).strftime(LOCAL_INPUT) if outage.ends_at else ""
        )
        self.cause.data = outage.cause
        self.ticket.data = outage.ticket
        self.note.data = outage.note


class DeleteOutageForm(FlaskForm):  # type: ignore[misc]
    reason = TextField(
        _l("Reason"), validators=[DataRequired(_l("Say why it is removed."))], max_length=500
    )


class ImportForm(FlaskForm):  # type: ignore[misc]
    file = FileField(
        _l("Outages file (CSV)"), validators=[FileRequired(_l("Choose the file to import."))]
    )


# --- The list --------------------------------------------------------------------------------


def _date_arg(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return parse_date(text)
    except InvalidValueError as error:
        if name == "from":
            flash(
                _("The from date was ignored (%(error)s).", error=value_error_text(error)), "error"
            )
        else:
            flash(_("The to date was ignored (%(error)s).", error=value_error_text(error)), "error")
        return None


@bp.get("/outages")
@login_required(*OPERATIONS)
def outages() -> Any:
    return _outages_page()


def _outages_page(upload: ImportForm | None = None, status: int = 200) -> Any:
    args = list_args(OUTAGE_SORTS, OUTAGE_DEFAULT_SORT)
    segments = all_segments(session())
    codes = {s.code for s in segments}
    segment = request.args.get("segment", "")
    segment = segment if segment in codes else ""
    open_only = request.args.get("open", "") == "1"
    since, until = _date_arg("from"), _date_arg("to")
    stmt = outage_listing(
        q=args.q, segment=segment, open_only=open_only, since=since, until=until, sort=args.sort
    )
    if wants_csv():
        return csv_download(
            "outages",
            "segment start end minutes cause ticket note recorded_by recorded_at".split(),
            (
                (
                    o.segment.code,
                    f"{o.starts_at:%Y-%m-%dT%H:%MZ}",
                    f"{o.ends_at:%Y-%m-%dT%H:%MZ}" if o.ends_at else "",
                    outage_minutes(o),
                    o.cause,
                    o.ticket,
                    o.note,
                    o.created_by,
                    f"{o.created_at:%Y-%m-%dT%H:%MZ}",
                )
                for o in every_row(stmt)
            ),
        )
    keep = {
        "segment": segment,
        "open": "1" if open_only else "",
        "from": since.isoformat() if since else "",
        "to": until.isoformat() if until else "",
    }
    return render_template(
        "operations/outages.html",
        page=paginate(stmt),
        args=args,
        keep=keep,
        segments=segments,
        minutes=outage_minutes,
        upload=upload or ImportForm(formdata=None),
        columns=",".join(COLUMNS),
    ), status


@bp.get("/outages/sample.csv")
@login_required(*OPERATIONS)
def sample() -> Any:
    """A file to start from: the header and one closed outage."""
    return csv_download(
        "outages-sample",
        COLUMNS,
        [("S1", "2026-11-03T14:20Z", "2026-11-03T15:05Z", "Fiber cut", "NOC-1234", "")],
    )


@bp.post("/outages/import")
@login_required(*OPERATIONS)
def import_file() -> Any:
    upload = ImportForm()
    if upload.validate():
        content = upload.file.data.read()
        with saving(_("The outages were not imported"), upload) as outcome:
            result = import_outages(session(), content, actor=actor(), now=now())
        if not outcome.refused:
            flash(
                _(
                    "Outages imported: %(added)s added, %(updated)s updated, "
                    "%(unchanged)s unchanged.",
                    added=result.added,
                    updated=result.updated,
                    unchanged=result.unchanged,
                ),
                "success",
            )
            return redirect(url_for("operations.outages"))
        return _outages_page(upload, outcome.status)
    return _outages_page(upload, 422)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> Any:
    """A file over the platform's upload limit (SPEC 9) is a message beside the upload field."""
    if request.endpoint != "operations.import_file":
        return error
    upload = ImportForm(formdata=None)
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    upload.file.errors = [_("The file is over %(size)s MB: split it.", size=limit // (1024 * 1024))]
    flash(_("The outages were not imported: the file is too large."), "error")
    return _outages_page(upload, 413)


# --- Record, edit, close, remove -------------------------------------------------------------


@bp.route("/outages/new", methods=["GET", "POST"])
@login_required(*OPERATIONS)
def new_outage() -> Any:
    form = OutageForm()
    if request.method == "GET":
        form.zone.data = default_zone()
        return render_template("operations/outage_form.html", form=form, outage=None)
    if form.validate():
        with saving(_("The outage was not recorded"), form) as outcome:
            outage = record_outage(session(), form.values(), actor=actor(), now=now())
            ticket, code = outage.ticket, outage.segment.code
        if not outcome.refused:
            flash(
                _("Outage %(ticket)s on %(segment)s recorded.", ticket=ticket, segment=code),
                "success",
            )
            return redirect(url_for("operations.outages"))
        status = outcome.status
    else:
        status = 422
    return render_template("operations/outage_form.html", form=form, outage=None), status


@bp.route("/outages/<id:outage_id>/edit", methods=["GET", "POST"])
@login_required(*OPERATIONS)
def edit_outage(outage_id: int) -> Any:
    outage = get_outage(session(), outage_id)
    form = OutageForm()
    if request.method == "GET":
        form.show(outage, default_zone())
        return render_template("operations/outage_form.html", form=form, outage=outage)
    close_now = request.form.get("close_now") == "yes"
    if form.validate():
        with saving(_("The outage was not changed"), form) as outcome:
            changed = update_outage(
                session(), outage_id, form.values(close_now=close_now), actor=actor(), now=now()
            )
            ticket, code, open_ = changed.ticket, changed.segment.code, changed.ends_at is None
        if not outcome.refused:
            if close_now:
                said = _("Outage %(ticket)s on %(segment)s closed.", ticket=ticket, segment=code)
            elif open_:
                said = _(
                    "Outage %(ticket)s on %(segment)s saved (still open).",
                    ticket=ticket,
                    segment=code,
                )
            else:
                said = _("Outage %(ticket)s on %(segment)s saved.", ticket=ticket, segment=code)
            flash(said, "success")
            return redirect(url_for("operations.outages"))
        status = outcome.status
    else:
        status = 422
    outage = get_outage(session(), outage_id)
    return render_template("operations/outage_form.html", form=form, outage=outage), status


@bp.route("/outages/<id:outage_id>/delete", methods=["GET", "POST"])
@login_required(*OPERATIONS)
def remove_outage(outage_id: int) -> Any:
    outage = get_outage(session(), outage_id)
    form = DeleteOutageForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            ticket, code = outage.ticket, outage.segment.code
            with saving(_("The outage was not removed"), form) as outcome:
                delete_outage(
                    session(), outage_id, reason=form.reason.data, actor=actor(), now=now()
                )
            if not outcome.refused:
                flash(
                    _("Outage %(ticket)s on %(segment)s removed.", ticket=ticket, segment=code),
                    "success",
                )
                return redirect(url_for("operations.outages"))
            status = outcome.status
            outage = get_outage(session(), outage_id)
        else:
            status = 422
    return render_template(
        "operations/outage_delete.html", outage=outage, form=form, minutes=outage_minutes(outage)
    ), status


# --- SLA policies ----------------------------------------------------------------------------


def _percent(label: Any, validators: list[Any]) -> DecimalNumberField:
    return DecimalNumberField(
        label,
        validators=validators,
        places=3,
        max_digits=6,
        minimum=Decimal("0.001"),
        maximum=Decimal(100),
    )


class TierRow(Form):  # type: ignore[misc]
    """One credit tier: availability below `below` earns `credit` % of the month's charge."""

    below = _percent(_l("Below (%)"), [Optional()])
    credit = _percent(_l("Credit (%)"), [Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = bool(super().validate(extra_validators))
        if (self.below.data is None) != (self.credit.data is None) and not (
            self.below.errors or self.credit.errors
        ):
            missing = self.credit if self.credit.data is None else self.below
            missing.errors = [*missing.errors, _("Give both figures of the tier, or neither.")]
            return False
        return valid


class PolicyForm(FlaskForm):  # type: ignore[misc]
    protection = SelectField(
        _l("Protection"), choices=[SelectChoice(p, PROTECTION_WORDS.get(p, p)) for p in PROTECTIONS]
    )
    effective_from = IsoDateField(_l("Effective from"), validators=[InputRequired()])
    target_percent = DecimalNumberField(
        _l("Target (%)"),
        validators=[InputRequired()],
        places=4,
        max_digits=7,
        minimum=Decimal("0.0001"),
        maximum=Decimal(100),
    )
    tier_0 = FormField(TierRow, label=_l("Tier %(number)s", number=1))
    tier_1 = FormField(TierRow, label=_l("Tier %(number)s", number=2))
    tier_2 = FormField(TierRow, label=_l("Tier %(number)s", number=3))
    tier_3 = FormField(TierRow, label=_l("Tier %(number)s", number=4))
    tier_4 = FormField(TierRow, label=_l("Tier %(number)s", number=5))

    def rows(self) -> list[Any]:
        return [self[f"tier_{n}"] for n in range(TIER_ROWS)]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = bool(super().validate(extra_validators))
        if valid and not self.tiers():
            self.no_tier(_("A policy has at least one credit tier."))
            return False
        return valid

    def no_tier(self, message: str) -> None:
        """A message on the first tier's row (the tiers as a whole have no field of their own)."""
        self.tier_0.below.errors = [*self.tier_0.below.errors, message]

    def tiers(self) -> list[tuple[Decimal, Decimal]]:
        return [
            (row.below.data, row.credit.data)
            for row in self.rows()
            if row.below.data is not None and row.credit.data is not None
        ]


def _policies_page(form: PolicyForm | None, status: int = 200) -> Any:
    return render_template(
        "operations/sla_policies.html",
        policies=policy_versions(session()),
        form=form,
        today=local_date(now(), default_zone()),
    ), status


@policies_bp.get("/sla-policies")
@login_required("admin", "finance")
def sla_policies() -> Any:
    return _policies_page(PolicyForm(formdata=None) if staff().role == "admin" else None)


@policies_bp.post("/sla-policies")
@login_required("admin")
def add_sla_policy() -> Any:
    form = PolicyForm()
    if not form.validate():
        return _policies_page(form, 422)
    with saving(_("The policy was not added"), form) as outcome:
        policy = add_policy(
            session(),
            protection=form.protection.data,
            effective_from=form.effective_from.data,
            target_percent=form.target_percent.data,
            tiers=form.tiers(),
            actor=actor(),
            now=now(),
        )
        said = _(
            "The %(protection)s policy from %(day)s is added.",
            protection=protection_words(policy.protection),
            day=day_text(policy.effective_from),
        )
    if outcome.refused:
        return _policies_page(form, outcome.status)
    flash(said, "success")
    return redirect(url_for("sla_policies.sla_policies"))
