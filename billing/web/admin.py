"""Administration: the audit log, staff users and customers' API keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from billing.access.models import Role, User
from billing.access.queries import (
    API_KEY_DEFAULT_SORT,
    API_KEY_SORTS,
    USER_DEFAULT_SORT,
    USER_SORTS,
    api_key_listing,
    user_listing,
)
from billing.access.services import (
    create_api_key,
    create_user,
    deactivate_user,
    reactivate_user,
    reset_password,
    revoke_api_key,
)
from billing.audit import AUDIT_DEFAULT_SORT, AUDIT_SORTS, audit_listing
from billing.extensions import now, session, transaction
from billing.parties.customers import list_customers
from billing.parties.operators import PARTY_DETAIL_FIELDS, update_party_details
from billing.parties.queries import list_parties
from billing.reports.history import history_lines
from billing.validation import InvalidValueError, clean_text
from billing.web.auth import actor, login_required, staff
from billing.web.forms import (
    ActionForm,
    EmailTextField,
    IdSelectField,
    PasswordTextField,
    TextField,
    saving,
)
from billing.web.frame import csv_download, every_row, list_args, paginate, wants_csv
from billing.web.language import value_error_text

bp = Blueprint("admin", __name__, url_prefix="/admin")
# Roles in words (the codes stay in the data); noc, an acronym, and any unknown one are
# shown by their code.
ROLE_WORDS = {
    Role.SALES.value: _l("sales"),
    Role.FINANCE.value: _l("finance"),
    Role.ADMIN.value: _l("admin"),
    Role.CUSTOMER.value: _l("customer"),
}


@bp.get("/audit")
@login_required("admin")
def audit() -> Any:
    action = _filter_text("action")
    entity = _filter_text("entity_type")
    args = list_args(AUDIT_SORTS, AUDIT_DEFAULT_SORT)
    stmt = audit_listing(action=action, entity_type=entity, q=args.q, sort=args.sort)
    time_zone = staff().party.time_zone
    if wants_csv():
        return csv_download(
            "audit-log",
            "at_utc actor action entity_type entity_id description before after".split(),
            _audit_rows(every_row(stmt), time_zone),
        )
    page = paginate(stmt)
    return render_template(
        "admin/audit.html",
        page=page,
        lines=history_lines(session(), page.items, time_zone),
        time_zone=time_zone,
        args=args,
        action=action,
        entity_type=entity,
    )


def _audit_rows(entries: list[Any], time_zone: str) -> Iterator[tuple[object, ...]]:
    """The log's CSV rows: the raw columns and each entry in words, its names loaded a
    thousand entries at a time."""
    for start in range(0, len(entries), 1000):
        chunk = entries[start : start + 1000]
        for e, line in zip(chunk, history_lines(session(), chunk, time_zone), strict=True):
            yield (
                e.at.isoformat(),
                e.actor,
                e.action,
                e.entity_type,
                e.entity_id,
                line.sentence,
                _json_cell(e.before),
                _json_cell(e.after),
            )


def _json_cell(values: dict[str, Any] | None) -> str:
    return "" if values is None else json.dumps(values, sort_keys=True, ensure_ascii=False)


def _filter_text(name: str) -> str:
    """A text filter of the audit log (?action=spectrum.); one no entry could match (control
    characters, longer than the column) matches nothing rather than failing."""
    try:
        return clean_text(request.args.get(name, ""), max_length=64).strip()
    except InvalidValueError as error:
        flash(
            _(
                "The filter %(name)s was ignored (%(error)s).",
                name=name.replace("_", " "),
                error=value_error_text(error),
            ),
            "error",
        )
        return ""


class UserForm(FlaskForm):  # type: ignore[misc]
    # The address is checked by create_user (wtforms' Email() needs email_validator, not installed).
    email = EmailTextField(_l("Email"), validators=[DataRequired()], max_length=200)
    name = TextField(_l("Name"), validators=[DataRequired()], max_length=200)
    # Least privilege first and by default: admin must be chosen on purpose.
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(role, ROLE_WORDS.get(role, role))
            for role in (Role.SALES.value, Role.FINANCE.value, Role.NOC.value, Role.ADMIN.value)
        ],
        default=Role.SALES.value,
    )
    party = SelectField(_l("Party"))
    password = PasswordTextField(
        _l("Initial password"), validators=[DataRequired(), Length(min=10)], max_length=200
    )


def _party_choices(form: UserForm) -> None:
    form.party.choices = [(p.code, p.code) for p in list_parties(session())]


@bp.route("/users", methods=["GET", "POST"])
@login_required("admin")
def users() -> Any:
    form = UserForm()
    _party_choices(form)
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 422
        else:
            with saving(_("The user was not created"), form) as outcome:
                user = create_user(
                    session(),
                    email=form.email.data,
                    name=form.name.data,
                    password=form.password.data,
                    role=form.role.data,
                    party_code=form.party.data,
                    actor=actor(),
                    now=now(),
                )
            if not outcome.refused:
                flash(_("User %(email)s created.", email=user.email), "success")
                return redirect(url_for("admin.users"))
            status = outcome.status
    args = list_args(USER_SORTS, USER_DEFAULT_SORT)
    return render_template(
        "admin/users.html",
        form=form,
        page=paginate(user_listing(q=args.q, sort=args.sort)),
        args=args,
        action_form=ActionForm(),
        role_words=ROLE_WORDS,
    ), status


def _staff_user(user_id: int) -> User:
    user = session().get(User, user_id, options=[selectinload(User.party)])
    if user is None:
        abort(404, description=_("There is no user %(id)s.", id=user_id))
    return user


@bp.get("/users/<id:user_id>/deactivate")
@login_required("admin")
def confirm_deactivation(user_id: int) -> Any:
    """Deactivation ends the user's work at once: ask first, on a page of its own."""
    return render_template(
        "admin/user_deactivate.html",
        user=_staff_user(user_id),
        action_form=ActionForm(),
        role_words=ROLE_WORDS,
    )


@bp.post("/users/<id:user_id>/deactivate")
@login_required("admin")
def deactivate(user_id: int) -> Any:
    if ActionForm().validate_on_submit():
        with saving(_("The user was not deactivated")) as outcome:
            user = deactivate_user(
                session(), user_id, actor=actor(), actor_id=staff().id, now=now()
            )
        if not outcome.refused:
            flash(
                _("%(email)s is deactivated; their sessions have ended.", email=user.email),
                "success",
            )
    return redirect(url_for("admin.users"))


@bp.post("/users/<id:user_id>/reactivate")
@login_required("admin")
def reactivate(user_id: int) -> Any:
    if ActionForm().validate_on_submit():
        with saving(_("The user was not reactivated")) as outcome:
            user = reactivate_user(session(), user_id, actor=actor(), now=now())
        if not outcome.refused:
            flash(_("%(email)s may log in again.", email=user.email), "success")
    return redirect(url_for("admin.users"))


class PasswordResetForm(FlaskForm):  # type: ignore[misc]
    password = PasswordTextField(
        _l("New password"), validators=[DataRequired(), Length(min=10)], max_length=200
    )


@bp.route("/users/<id:user_id>/password", methods=["GET", "POST"])
@login_required("admin")
def reset_user_password(user_id: int) -> Any:
    user = _staff_user(user_id)
    form = PasswordResetForm()
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 422
        else:
            own = user.id == staff().id
            with saving(_("The password was not changed"), form) as outcome:
                reset_password(session(), user.id, form.password.data, actor=actor(), now=now())
            if not outcome.refused:
                if own:  # the new token ended this session too; carry on under the new one
                    login_user(user)
                flash(
                    _(
                        "The password of %(email)s is changed; their sessions have ended.",
                        email=user.email,
                    ),
                    "success",
                )
                return redirect(url_for("admin.users"))
            status = outcome.status
    return render_template("admin/user_password.html", user=user, form=form), status


class ApiKeyForm(FlaskForm):  # type: ignore[misc]
    customer_id = IdSelectField(_l("Customer"))
    name = TextField(_l("Label"), validators=[DataRequired()], max_length=100)


class PartyDetailsForm(FlaskForm):  # type: ignore[misc]
    """An operator's details for e-invoices (SPEC 14)."""

    street = TextField(_l("Street and number"), max_length=200)
    postal_code = TextField(_l("Postal code"), max_length=20)
    city = TextField(_l("City"), max_length=100)
    vat_id = TextField(_l("VAT id"), max_length=32)
    iban = TextField("IBAN", max_length=42)
    bic = TextField("BIC (SWIFT)", max_length=11)


@bp.get("/parties")
@login_required("admin")
def parties() -> Any:
    return render_template("admin/parties.html", parties=list_parties(session()))


def _party_page(party_id: int, form: PartyDetailsForm | None, status: int = 200) -> Any:
    party = next((p for p in list_parties(session()) if p.id == party_id), None)
    if party is None:
        abort(404)
    return render_template(
        "admin/party.html", party=party, form=form or PartyDetailsForm(obj=party)
    ), status


@bp.route("/parties/<id:party_id>", methods=["GET", "POST"])
@login_required("admin")
def party_details(party_id: int) -> Any:
    if request.method == "GET":
        return _party_page(party_id, None)
    form = PartyDetailsForm()
    if not form.validate():
        return _party_page(party_id, form, 422)
    with saving(_("The details were not saved"), form) as outcome:
        party = update_party_details(
            session(),
            party_id,
            {name: getattr(form, name).data for name in PARTY_DETAIL_FIELDS},
            actor=actor(),
            now=now(),
        )
    if outcome.refused:
        return _party_page(party_id, form, outcome.status)
    flash(_("%(party)s's details saved.", party=party.code), "success")
    return redirect(url_for("admin.party_details", party_id=party_id))


@bp.route("/api-keys", methods=["GET", "POST"])
@login_required("admin")
def api_keys() -> Any:
    form = ApiKeyForm()
    form.customer_id.choices = [(c.id, c.legal_name) for c in list_customers(session())]
    new_secret = None
    status = 200
    if request.method == "POST":
        if form.validate():
            with transaction():
                _key, new_secret = create_api_key(
                    session(),
                    customer_id=form.customer_id.data,
                    name=form.name.data,
                    actor=actor(),
                    now=now(),
                )
            form.name.data = ""  # an empty form: a second click must not make a second key
        else:
            status = 422
    args = list_args(API_KEY_SORTS, API_KEY_DEFAULT_SORT)
    return render_template(
        "admin/api_keys.html",
        form=form,
        page=paginate(api_key_listing(q=args.q, sort=args.sort)),
        args=args,
        new_secret=new_secret,
        action_form=ActionForm(),
    ), status


@bp.post("/api-keys/<id:key_id>/revoke")
@login_required("admin")
def revoke_key(key_id: int) -> Any:
    if ActionForm().validate_on_submit():
        with transaction():
            revoke_api_key(session(), key_id, actor=actor(), now=now())
        flash(_("API key %(id)s revoked.", id=key_id), "success")
    return redirect(url_for("admin.api_keys"))
