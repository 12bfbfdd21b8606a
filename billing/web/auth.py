"""Staff login (Flask-Login), logout, login throttling (Flask-Limiter) and the guards every page
uses.

A session carries the user's session token, not their id: logout, a password change and
deactivation replace the token, so every copy of an old session cookie stops working. A session
left idle longer than SESSION_IDLE_SECONDS ends. Wrong passwords are counted per account and per
client address; past the limit the login answers 429 with Retry-After, whoever the account is.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    session as web_session,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from limits import parse
from wtforms.validators import DataRequired

from billing.access.models import User
from billing.access.services import authenticate, log_out, user_for_session
from billing.audit import record
from billing.extensions import now, session, transaction
from billing.web.forms import EmailTextField, PasswordTextField

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
# Storage and strategy come from the app's RATELIMIT_* settings (billing/config.py).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
LANGUAGE_KEY = "language"  # billing.web.language.SESSION_KEY
LAST_SEEN = "seen"  # when the session was last used, by the injected clock (epoch seconds)
LOGIN_REFUSED = _l("Email or password is not right.")
_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


class LoginForm(FlaskForm):  # type: ignore[misc]
    # No Email() check: it needs email_validator, and a malformed address simply fails to log in.
    email = EmailTextField(_l("Email"), validators=[DataRequired()], max_length=200)
    password = PasswordTextField(_l("Password"), validators=[DataRequired()], max_length=200)


def _load_user(token: str) -> User | None:
    """Flask-Login's user loader: the session holds the user's token, not their id."""
    return user_for_session(session(), token)


def staff() -> User:
    """The logged-in staff user (Flask-Login's `current_user`), typed."""
    return cast(User, current_user._get_current_object())


def actor() -> str:
    return staff().label


def login_required(*roles: str) -> Callable[[F], F]:
    """Require a logged-in staff user, and one of `roles` when given."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if current_user.is_portal:
                # A customer's portal login never reaches a staff page.
                abort(403, description=_("This page is for staff; your pages are under /portal."))
            if roles and current_user.role not in roles:
                abort(403, description=_("Your role may not do this."))
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def portal_required(view: F) -> F:
    """Require a logged-in portal user (a customer's staff); staff are refused."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not current_user.is_portal:
            abort(403, description=_("The portal is for customers' logins; staff use the app."))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _end_idle_session() -> None:
    """Log out a session unused for longer than SESSION_IDLE_SECONDS; stamp the others."""
    if request.endpoint == "static" or "_user_id" not in web_session:
        return
    moment = now()
    seen = web_session.get(LAST_SEEN)
    idle = timedelta(seconds=current_app.config["SESSION_IDLE_SECONDS"])
    if not isinstance(seen, int | float) or moment - datetime.fromtimestamp(seen, UTC) > idle:
        logout_user()
        web_session.clear()
        flash(
            _(
                "Your session ended after %(minutes)s minutes without use.",
                minutes=idle.seconds // 60,
            ),
            "info",
        )
        return
    web_session[LAST_SEEN] = moment.timestamp()


def _safe_next(target: str | None) -> str:
    """Where a login goes on to: `target` when it is a path of this site, else the dashboard.

    Refused: another site (`https://x`, `//x`, and `/\\x`, which browsers read as `//x`),
    anything not starting with `/`, and control characters or spaces (CR/LF would split the
    Location header; werkzeug refuses them with a 500 after the session cookie was issued)."""
    home = url_for("inventory.dashboard")
    if not target or len(target) > 2000 or not target.startswith("/"):
        return home
    if _UNSAFE_IN_NEXT.search(target) or target.startswith("//"):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target


def _typed_email() -> str:
    return (request.form.get("email") or "").strip().lower()


def _account_key() -> str:
    # A digest: any text an attacker types makes a short, plain key in the shared store.
    return "account:" + hashlib.sha256(_typed_email().encode(errors="replace")).hexdigest()


def _address_key() -> str:
    return "address:" + get_remote_address()


def _wrong_password(response: Response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: str(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]),
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_wrong_password,
)
@limiter.limit(
    lambda: str(current_app.config["LOGIN_LIMIT_PER_ADDRESS"]),
    key_func=_address_key,
    methods=["POST"],
    deduct_when=_wrong_password,
)
def login() -> Any:
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        with transaction():
            user = authenticate(session(), form.email.data, form.password.data, now=now())
        if user is not None:
            chosen = web_session.get(LANGUAGE_KEY)
            web_session.clear()  # nothing of the anonymous session survives the login
            if chosen:  # but the language the visitor picked on the login page
                web_session[LANGUAGE_KEY] = chosen
            login_user(user)
            web_session.permanent = True
            web_session[LAST_SEEN] = now().timestamp()
            if user.is_portal:
                target = request.args.get("next") or ""
                home = url_for("portal.home")
                return redirect(
                    target
                    if target.startswith("/portal/") and _safe_next(target) == target
                    else home
                )
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(str(LOGIN_REFUSED))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


def _throttled(_error: RateLimitExceeded) -> Response:
    """429 with Retry-After, the same for known and unknown accounts; audited once per window
    and key, so that a flood of refused attempts does not flood the audit log."""
    breached = limiter.current_limit
    retry_after = max(
        1, (breached.reset_at if breached else int(time.time()) + 60) - int(time.time())
    )
    key = breached.key if breached else _address_key()
    if limiter.limiter.hit(parse("1 per 15 minutes"), "login-throttled-audit", key):
        with transaction():
            record(
                session(),
                actor=f"login from {get_remote_address()}",
                action="user.login_throttled",
                entity_type="user",
                entity_id=_typed_email()[:64],
                now=now(),
                after={
                    "email": _typed_email()[:200],
                    "address": get_remote_address(),
                    "limit": str(breached.limit) if breached else "",
                },
            )
    form = LoginForm()
    minutes = max(1, round(retry_after / 60))
    form.password.errors = [
        ngettext(
            "Too many failed logins. Try again in %(num)d minute.",
            "Too many failed logins. Try again in %(num)d minutes.",
            minutes,
        )
    ]
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/logout")
def logout() -> Any:
    # Staff and portal logins alike.
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    with transaction():
        log_out(session(), staff(), now=now())
    logout_user()
    web_session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def init_login(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    login_manager.init_app(app)
    limiter.init_app(app)
    app.before_request(_end_idle_session)
    app.register_error_handler(RateLimitExceeded, _throttled)
