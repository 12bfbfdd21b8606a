"""The UI's language (SPEC 14): English, Russian, Azerbaijani or Kazakh, through Flask-Babel's
gettext catalogs (billing/translations, compiled at install: `make install`, the Dockerfile).

A logged-in user's choice is stored on the user (users.language) and audited; a visitor's choice
is kept in the session; without a choice a page follows the browser's Accept-Language, best
match among the four, English when none matches. Dates, numbers and amounts on pages read the
locale's way; CSV, the API, PDFs and the audit log never pass through here and stay locale-free.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime, get_timezone
from babel.numbers import format_currency, format_decimal, get_currency_symbol
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask import session as web_session
from flask_babel import Babel, get_locale, refresh
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from billing.access.models import User
from billing.audit import record
from billing.errors import Text
from billing.extensions import now, transaction
from billing.money import DEFAULT_LOCALE, Money, format_money
from billing.validation import InvalidValueError

bp = Blueprint("language", __name__)

# The UI's languages, each named in itself (a picker reads the same whatever language is on).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "az": "Azərbaycanca",
    "kk": "Қазақша",
}
SESSION_KEY = "language"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def valid_language(code: object) -> str | None:
    """`code` when it is one of the UI's languages, else None."""
    return code if isinstance(code, str) and code in LANGUAGES else None


def select_language() -> str:
    """The request's language: the user's stored choice, the visitor's (session), or the best
    match of Accept-Language; English outside a request or when nothing matches."""
    if not has_request_context():
        return "en"
    if current_user and current_user.is_authenticated:
        chosen = valid_language(getattr(current_user, "language", None))
        if chosen:
            return chosen
    chosen = valid_language(web_session.get(SESSION_KEY))
    if chosen:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="en") or "en"


def current_language() -> str:
    """The language of this page: Flask-Babel's locale where it is set up, else English."""
    if "babel" not in current_app.extensions:
        return "en"
    locale = get_locale()
    return locale.language if locale is not None else "en"


def _format_locale() -> str:
    """The Babel locale numbers are written in: English pages keep the configured MONEY_LOCALE
    (en_US by default), the others their language's own."""
    language = current_language()
    if language == "en":
        return str(current_app.config.get("MONEY_LOCALE", DEFAULT_LOCALE))
    return language


def money_text(value: Money, *, with_code: bool = False) -> str:
    """An amount the page's way, to its currency's ISO 4217 minor unit (rounded half-up by Money
    first), from Babel's locale data: 10,800.00 in English (the configured MONEY_LOCALE), 10 800,00
    in Russian and Kazakh, 10.800,00 in Azerbaijani. With its currency: $10,800.00, €10,800.00,
    AZN 10,800.00 in English; 10 800,00 $ in Russian; 10.800,00 US$ in Azerbaijani."""
    locale = _format_locale()
    if not with_code:
        return format_money(value, locale=locale)
    text = format_currency(value.rounded().amount, value.currency, locale=locale)
    return _currency_spaced(text, get_currency_symbol(value.currency, locale=locale))


def _currency_spaced(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a symbol that ends (or starts) with a
    letter is kept from the digits by a no-break space (AZN 5,600.00, not AZN5,600.00)."""
    if symbol and symbol[-1].isalpha():
        text = re.sub(re.escape(symbol) + r"(?=\d)", symbol + "\u00a0", text)
    if symbol and symbol[0].isalpha():
        text = re.sub(r"(?<=\d)" + re.escape(symbol), "\u00a0" + symbol, text)
    return text


def decimal_text(value: Decimal | int) -> str:
    """A number the page's way (12.5 → 12,5 in Russian), with no trailing zeros added."""
    return format_decimal(value, locale=_format_locale())


def day_text(value: date | None) -> str:
    """A business day: ISO in English (2026-11-30, as the pages have always read), the
    locale's medium form elsewhere (30 нояб. 2026 г.)."""
    if value is None:
        return ""
    if current_language() == "en":
        return value.isoformat()
    return format_date(value, "medium", locale=current_language())


def month_text(value: date | None) -> str:
    """A month in words: November 2026, ноябрь 2026 г., noyabr 2026, 2026 ж. қараша."""
    if value is None:
        return ""
    if current_language() == "en":
        return f"{value:%B %Y}"
    return format_date(value, "LLLL y", locale=current_language())


def instant_text(value: datetime | None) -> str:
    """An instant in UTC: 2026-11-25 09:00 UTC in English, the locale's short form elsewhere."""
    if value is None:
        return ""
    if current_language() == "en":
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return (
        format_datetime(value, "short", tzinfo=get_timezone("UTC"), locale=current_language())
        + " UTC"
    )


def month_short(value: date) -> str:
    """A month's short name for a chart's axis: Nov; нояб.; noy; қар."""
    if current_language() == "en":
        return f"{value:%b}"
    return format_date(value, "LLL", locale=current_language())


def month_short_year(value: date) -> str:
    """Nov 2026 in English, the locale's abbreviated month and year elsewhere."""
    if current_language() == "en":
        return f"{value:%b %Y}"
    return format_date(value, "LLL y", locale=current_language())


# Words for stored codes a page shows (the codes themselves stay English in the database, the
# API and CSV). English reads as the pages always did: the code with spaces for underscores.
STATUS_WORDS = {
    "draft": _l("draft"),
    "issued": _l("issued"),
    "partially_paid": _l("partially paid"),
    "paid": _l("paid"),
    "credited": _l("credited"),
}
RUN_STATE_WORDS = {
    "queued": _l("queued"),
    "running": _l("running"),
    "finished": _l("finished"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
}
SERVICE_STATE_WORDS = {
    "pending": _l("pending"),
    "active": _l("active"),
    "suspended": _l("suspended"),
    "terminated": _l("terminated"),
}
DELIVERY_WORDS = {
    "pending": _l("pending"),
    "succeeded": _l("succeeded"),
    "failed": _l("failed"),
}
LEGAL_STATUS_WORDS = {
    "not_submitted": _l("not submitted"),
    "submitted": _l("submitted"),
    "accepted": _l("accepted"),
    "rejected": _l("rejected"),
}
# A customer's invoice language (SPEC 14), as its page and the invoice page name it.
INVOICE_LANGUAGE_WORDS = {
    "en": _l("English only"),
    "ru": _l("Russian beside English"),
    "az": _l("Azerbaijani beside English"),
    "kk": _l("Kazakh beside English"),
}
PROTECTION_WORDS = {"unprotected": _l("unprotected"), "protected": _l("protected")}
DOCUMENT_WORDS = {
    "invoices": _l("invoices"),
    "credit_notes": _l("credit notes"),
    "reminders": _l("reminders"),
}


def _words(table: dict[str, Any], code: str) -> str:
    return str(table[code]) if code in table else code.replace("_", " ")


def status_words(code: str) -> str:
    return _words(STATUS_WORDS, code)


def run_state_words(code: str) -> str:
    return _words(RUN_STATE_WORDS, code)


def document_words(code: str) -> str:
    return _words(DOCUMENT_WORDS, code)


def service_state_words(code: str) -> str:
    return _words(SERVICE_STATE_WORDS, code)


def delivery_words(code: str) -> str:
    return _words(DELIVERY_WORDS, code)


def legal_status_words(code: str) -> str:
    return _words(LEGAL_STATUS_WORDS, code)


def value_error_text(error: InvalidValueError) -> str:
    """A refused value's message in the page's language (billing/validation.py marks them)."""
    return _said(error.template, error.values)


def error_text(message: object) -> str:
    """A domain error's message (or one of its field messages) in the page's language: a `Text`
    through its template and values, a plain marked string as it is; English when the catalog
    has none, or when a translation names a value the message does not have."""
    if not isinstance(message, Text):
        return _said(str(message), {})
    values = {k: error_text(v) if isinstance(v, Text) else v for k, v in message.values.items()}
    return _said(message.template, values)


def _said(template: str, values: dict[str, Any]) -> str:
    try:
        return str(_(template, **values))
    except (KeyError, ValueError, TypeError):
        return template % values if values else template


def invoice_language_words(code: str) -> str:
    return _words(INVOICE_LANGUAGE_WORDS, code)


def protection_words(code: str) -> str:
    return _words(PROTECTION_WORDS, code)


def _back() -> str:
    """Where the picker returns to: the page it was on (a path of this site), else home."""
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        if all(ch.isprintable() and not ch.isspace() for ch in target) and len(target) < 2000:
            return target
    if not current_user.is_authenticated:
        return url_for("auth.login")
    return url_for("portal.home" if current_user.is_portal else "inventory.dashboard")


@bp.post("/language")
def choose() -> Any:
    """The language picker (every page's header, the login page): a logged-in user's choice is
    stored and audited, a visitor's kept in the session. An unknown code is a 400."""
    code = valid_language(request.form.get("language"))
    if code is None:
        abort(400, description=_("Choose one of the languages offered."))
    if current_user.is_authenticated:
        user: User = current_user._get_current_object()
        before = user.language
        if before != code:
            with transaction() as work:
                user.language = code
                record(
                    work,
                    actor=user.label,
                    action="user.language",
                    entity_type="user",
                    entity_id=user.id,
                    now=now(),
                    before={"language": before},
                    after={"language": code},
                )
    web_session[SESSION_KEY] = code
    refresh()
    flash(_("The language is now %(language)s.", language=LANGUAGES[code]), "info")
    return redirect(_back())


def init_language(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_language)
    app.register_blueprint(bp)
    app.jinja_env.globals["ui_languages"] = LANGUAGES
    app.jinja_env.globals["ui_language"] = current_language
    app.jinja_env.filters["day"] = day_text
    app.jinja_env.filters["month"] = month_text
    app.jinja_env.filters["number"] = decimal_text
    app.jinja_env.filters["said"] = error_text
    app.jinja_env.filters["month_short"] = month_short
    app.jinja_env.filters["month_short_year"] = month_short_year
    app.jinja_env.filters["document_words"] = document_words
    app.jinja_env.globals["status_words"] = status_words
    app.jinja_env.globals["run_state_words"] = run_state_words
    app.jinja_env.globals["service_state_words"] = service_state_words
    app.jinja_env.filters["protection_words"] = protection_words
    app.jinja_env.globals["delivery_words"] = delivery_words
    app.jinja_env.globals["legal_status_words"] = legal_status_words
    app.jinja_env.globals["invoice_language_words"] = invoice_language_words


__all__ = ["LANGUAGES", "init_language", "money_text", "select_language"]
