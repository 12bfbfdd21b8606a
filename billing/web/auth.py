"""Staff login, logout and the guards every page uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    session as web_session,
)
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from billing.access.models import User
from billing.access.services import authenticate
from billing.extensions import now, session

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


class LoginForm(FlaskForm):  # type: ignore[misc]
    # No Email() check: it needs email_validator, and a malformed address simply fails to log in.
    email = EmailField("Email", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def load_current_user() -> None:
    g.user = None
    user_id = web_session.get("user_id")
    if user_id is None:
        return
    user = (
        session()
        .execute(select(User).where(User.id == user_id).options(selectinload(User.party)))
        .scalar_one_or_none()
    )
    if user is None or not user.active:
        web_session.clear()
        return
    g.user = user


def current_user() -> User:
    return cast(User, g.user)


def actor() -> str:
    return current_user().label


def login_required(*roles: str) -> Callable[[F], F]:
    """Require a logged-in staff user, and one of `roles` when given."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.get("user") is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if roles and g.user.role not in roles:
                abort(403, description="Your role may not do this.")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("inventory.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return url_for("inventory.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(session(), form.email.data, form.password.data, now=now())
        if user is not None:
            session().commit()
            web_session.clear()
            web_session["user_id"] = user.id
            web_session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("Email or password is not right.")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required()
def logout() -> Any:
    web_session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
