"""Administration: the audit log, staff users and customers' API keys."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from billing.access.models import ApiKey, Role, User
from billing.access.services import create_api_key, create_user, revoke_api_key
from billing.audit import AuditEntry
from billing.db import fetch_page, page_count
from billing.errors import DomainError
from billing.extensions import now, session
from billing.parties.models import Customer, Party
from billing.web.auth import actor, login_required
from billing.web.forms import ActionForm

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 50


@bp.get("/audit")
@login_required("admin")
def audit() -> Any:
    page = max(1, request.args.get("page", 1, type=int) or 1)
    action = (request.args.get("action") or "").strip()
    entity = (request.args.get("entity_type") or "").strip()
    stmt = select(AuditEntry)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if entity:
        stmt = stmt.where(AuditEntry.entity_type == entity)
    entries, total = fetch_page(session(), stmt.order_by(AuditEntry.id.desc()), page, AUDIT_PAGE)
    pages = page_count(total, AUDIT_PAGE)
    return render_template(
        "admin/audit.html",
        entries=entries,
        page=page,
        pages=pages,
        total=total,
        action=action,
        entity_type=entity,
    )


class UserForm(FlaskForm):  # type: ignore[misc]
    # The address is checked by create_user (wtforms' Email() needs email_validator, not installed).
    email = EmailField("Email", validators=[DataRequired(), Length(max=200)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=[r.value for r in Role])
    party = SelectField("Party")
    password = PasswordField("Initial password", validators=[DataRequired(), Length(min=10)])


def _party_choices(form: UserForm) -> None:
    form.party.choices = [
        (code, code)
        for code in session().execute(select(Party.code).order_by(Party.listing_order)).scalars()
    ]


@bp.route("/users", methods=["GET", "POST"])
@login_required("admin")
def users() -> Any:
    form = UserForm()
    _party_choices(form)
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
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
                session().commit()
                flash(f"User {user.email} created.", "success")
                return redirect(url_for("admin.users"))
            except DomainError as e:
                session().rollback()
                flash(e.message, "error")
                for field, messages in e.errors.items():
                    if hasattr(form, field):
                        getattr(form, field).errors = list(messages)
                status = e.status
        else:
            status = 422
    rows = (
        session()
        .execute(select(User).options(selectinload(User.party)).order_by(User.email))
        .scalars()
        .all()
    )
    return render_template("admin/users.html", form=form, users=rows), status


class ApiKeyForm(FlaskForm):  # type: ignore[misc]
    customer_id = SelectField("Customer", coerce=int)
    name = StringField("Label", validators=[DataRequired(), Length(max=100)])


@bp.route("/api-keys", methods=["GET", "POST"])
@login_required("admin")
def api_keys() -> Any:
    form = ApiKeyForm()
    form.customer_id.choices = [
        (c.id, c.legal_name)
        for c in session().execute(select(Customer).order_by(Customer.legal_name)).scalars()
    ]
    new_secret = None
    status = 200
    if request.method == "POST":
        if form.validate():
            key, new_secret = create_api_key(
                session(),
                customer_id=form.customer_id.data,
                name=form.name.data,
                actor=actor(),
                now=now(),
            )
            session().commit()
            form.name.data = ""  # an empty form: a second click must not make a second key
        else:
            status = 422
    keys = (
        session()
        .execute(select(ApiKey).options(selectinload(ApiKey.customer)).order_by(ApiKey.id.desc()))
        .scalars()
        .all()
    )
    return render_template(
        "admin/api_keys.html",
        form=form,
        keys=keys,
        new_secret=new_secret,
        action_form=ActionForm(),
    ), status


@bp.post("/api-keys/<int:key_id>/revoke")
@login_required("admin")
def revoke_key(key_id: int) -> Any:
    if ActionForm().validate_on_submit():
        revoke_api_key(session(), key_id, actor=actor(), now=now())
        session().commit()
        flash(f"API key {key_id} revoked.", "success")
    return redirect(url_for("admin.api_keys"))
