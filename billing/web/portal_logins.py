"""Portal logins for a customer's staff (SPEC 8), made by an admin: each is scoped to one
customer and follows the staff logins' password, throttling and session rules (billing/web/auth.py).
Deactivating one or resetting its password is done on the users page, as for staff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.validators import DataRequired, Length

from billing.access.services import create_portal_login, portal_logins_of
from billing.errors import NotFoundError
from billing.extensions import now, session
from billing.parties.customers import get_customer
from billing.web.auth import actor, login_required
from billing.web.forms import EmailTextField, PasswordTextField, TextField, saving

bp = Blueprint("portal_logins", __name__, url_prefix="/admin")


class PortalLoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailTextField(_l("Email"), validators=[DataRequired()], max_length=200)
    name = TextField(_l("Name"), validators=[DataRequired()], max_length=200)
    password = PasswordTextField(
        _l("Initial password"), validators=[DataRequired(), Length(min=10)], max_length=200
    )


@bp.route("/customers/<id:customer_id>/portal-logins", methods=["GET", "POST"])
@login_required("admin")
def portal_logins(customer_id: int) -> Any:
    try:
        customer = get_customer(session(), customer_id)
    except NotFoundError:
        abort(404, description=_("There is no customer %(id)s.", id=customer_id))
    form = PortalLoginForm()
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 422
        else:
            with saving(_("The portal login was not created"), form) as outcome:
                user = create_portal_login(
                    session(),
                    customer_id=customer.id,
                    email=form.email.data,
                    name=form.name.data,
                    password=form.password.data,
                    actor=actor(),
                    now=now(),
                )
                email = user.email
            if not outcome.refused:
                flash(
                    _(
                        "Portal login %(email)s created for %(customer)s.",
                        email=email,
                        customer=customer.legal_name,
                    ),
                    "success",
                )
                return redirect(url_for("portal_logins.portal_logins", customer_id=customer.id))
            status = outcome.status
    return render_template(
        "payments/portal_logins.html",
        customer=customer,
        logins=portal_logins_of(session(), customer.id),
        form=form,
    ), status
