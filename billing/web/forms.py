"""Form fields on the platform's one set of field rules, the form helpers the pages share, and
the one way a page saves: `saving`.

Every form of billing/web/ takes text, integers, decimals and dates through the fields below,
which call billing/validation.py, as the API's marshmallow fields (billing/api/fields.py) do: a
value refused on one side is refused on the other with the same words, beside the field, and
nothing out of a column's range reaches the database (no 500, no silent truncation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms import TextAreaField as _TextAreaField
from wtforms.csrf.core import CSRFTokenField
from wtforms.meta import DefaultMeta
from wtforms.validators import DataRequired, Optional, StopValidation

from billing.errors import DomainError
from billing.extensions import transaction
from billing.mail.models import LANGUAGES
from billing.mail.services import EMAIL_MAX, NAME_MAX
from billing.text import decimal_text
from billing.validation import (
    INT_MAX,
    INT_MIN,
    InvalidValueError,
    clean_text,
    parse_date,
    parse_decimal,
    parse_integer,
)
from billing.web.language import error_text, value_error_text


def _render_field(meta: Any, field: Any, render_kw: dict[str, Any]) -> Any:
    """Render a field as WTForms does, but a CSRF token without an id: a page shows many forms,
    and each would repeat id="csrf_token" (ids are unique on every page, SPEC 10)."""
    if isinstance(field, CSRFTokenField):
        render_kw = {**render_kw, "id": False}  # html_params leaves out a False attribute
    return DefaultMeta.render_field(meta, field, render_kw)


FlaskForm.Meta.render_field = _render_field


class _CleanText:
    """Text as billing.validation.clean_text allows it, at most `max_length` long; with `strip`,
    outer spaces are dropped first. Its message stands beside the field."""

    data: Any
    max_length: int
    multiline: bool

    def _setup(self, max_length: int, multiline: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.max_length = max_length
        self.multiline = multiline
        strip = kwargs.pop("strip", True)
        filters = list(kwargs.pop("filters", ()))
        if strip:
            filters.insert(0, _strip)
        render_kw = dict(kwargs.pop("render_kw", None) or {})
        render_kw.setdefault("maxlength", max_length)
        return {**kwargs, "filters": filters, "render_kw": render_kw}

    def pre_validate(self, form: Any) -> None:
        if self.data is None:
            return
        try:
            self.data = clean_text(self.data, max_length=self.max_length, multiline=self.multiline)
        except InvalidValueError as error:
            raise StopValidation(value_error_text(error)) from None


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class TextField(_CleanText, StringField):  # type: ignore[misc]
    """One line of text (no control characters), at most `max_length` characters."""

    def __init__(
        self, label: str | None = None, validators: Any = None, *, max_length: int, **kwargs: Any
    ) -> None:
        super().__init__(label, validators, **self._setup(max_length, False, kwargs))


class TextAreaField(_CleanText, _TextAreaField):  # type: ignore[misc]
    """Several lines of text (newlines and tabs allowed), at most `max_length` characters."""

    def __init__(
        self, label: str | None = None, validators: Any = None, *, max_length: int, **kwargs: Any
    ) -> None:
        super().__init__(label, validators, **self._setup(max_length, True, kwargs))


class EmailTextField(_CleanText, EmailField):  # type: ignore[misc]
    """An email address as text (create_user and the login check the address itself)."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        max_length: int = 200,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **self._setup(max_length, False, kwargs))


class PasswordTextField(_CleanText, PasswordField):  # type: ignore[misc]
    """A password: any characters but control characters, never stripped."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        max_length: int = 200,
        **kwargs: Any,
    ) -> None:
        kwargs["strip"] = False
        super().__init__(label, validators, **self._setup(max_length, False, kwargs))


class _ParsedNumber:
    """A number field whose text is parsed by billing.validation; an empty input is None (left
    to Optional / InputRequired), anything else that does not parse is a message beside it."""

    data: Any
    raw_data: Any
    flags: Any
    process_errors: list[Any]
    _parse: Callable[[str], Any]  # each number field parses its own way

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        text = valuelist[0]
        if not isinstance(text, str) or not text.strip():
            self.data = None
            return
        try:
            self.data = self._parse(text)
        except InvalidValueError as error:
            self.data = None
            raise ValueError(value_error_text(error)) from None

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:  # the parse message says it all: no "required" or range after it
            raise StopValidation()
        # Spaces alone are no value: InputRequired would let them through as None.
        if self.data is None and self.flags.required:
            raise StopValidation(_("This field is required."))


class WholeNumberField(_ParsedNumber, IntegerField):  # type: ignore[misc]
    """An integer that must be one ("12.9", "1e3", "NaN" are refused, never truncated), within
    `minimum`..`maximum` when given, and always within an INTEGER column's range."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def _parse(self, text: str) -> int:
        number = parse_integer(text, minimum=self.minimum, maximum=self.maximum)
        return parse_integer(number, minimum=INT_MIN, maximum=INT_MAX)


class DecimalNumberField(_ParsedNumber, DecimalField):  # type: ignore[misc]
    """A finite decimal that fits a NUMERIC(max_digits, places) column: NaN, Infinity, 1e30,
    more decimals than the column keeps and "0E-1000000" are refused; "-0" is 0."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        places: int,
        max_digits: int,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, places=places, **kwargs)
        self.decimal_places = places
        self.max_digits = max_digits
        self.minimum = minimum
        self.maximum = maximum

    def _value(self) -> str:
        """What was typed, or the value without trailing zeros (37.5, not 37.500)."""
        if self.raw_data:
            return str(self.raw_data[0])
        return decimal_text(self.data) if isinstance(self.data, Decimal) else ""

    def _parse(self, text: str) -> Decimal:
        number = parse_decimal(
            text,
            places=self.decimal_places,
            max_digits=self.max_digits,
            minimum=self.minimum,
            maximum=self.maximum,
        )
        # As typed, without the column's padding: "30" reads 30 in messages, not 30.000.
        return Decimal(decimal_text(number))


class IsoDateField(_ParsedNumber, DateField):  # type: ignore[misc]
    """A date as YYYY-MM-DD (billing.validation.parse_date)."""

    def _parse(self, text: str) -> date:
        return parse_date(text)


def record_id(value: Any) -> int:
    """A SelectField's `coerce` for row ids: a positive INTEGER, so that no id out of a
    column's range reaches a query (a ValueError is WTForms' "not a valid choice")."""
    return parse_integer(value, minimum=1, maximum=INT_MAX)


class IdSelectField(SelectField):  # type: ignore[misc]
    """A choice of a row by its id."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("coerce", record_id)
        super().__init__(label, validators, **kwargs)


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes state: a POST carrying only the CSRF token."""


def apply_errors(form: Any, errors: dict[str, Any]) -> list[str]:
    """Put a domain error's field messages on the form's fields; returns those with no field."""
    unplaced: list[str] = []
    for name, messages in errors.items():
        listed = [error_text(m) for m in (messages if isinstance(messages, list) else [messages])]
        if hasattr(form, name) and hasattr(getattr(form, name), "errors"):
            field = getattr(form, name)
            field.errors = [*field.errors, *listed]
        else:
            unplaced.extend(f"{name.replace('_', ' ')}: {m}" for m in listed)
    return unplaced


@dataclass
class Outcome:
    """How a save went: `error` is the DomainError that refused it, None when it was committed."""

    error: DomainError | None = None

    @property
    def refused(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> int:
        return 200 if self.error is None else self.error.status


@contextmanager
def saving(refused: str, form: Any = None) -> Iterator[Outcome]:
    """Do the block in the request's unit of work and commit it.

    A DomainError rolls it back and is told to the user instead of raised: "<refused>: <its
    message>." is flashed, and with a `form` its field messages go onto the form's fields (those
    with no field are flashed too). Look at the outcome after the block:

        with saving("The customer was not saved", form) as outcome:
            customer = create_customer(...)
        if outcome.refused:
            return render_the_form_again(status=outcome.status)
    """
    outcome = Outcome()
    try:
        with transaction():
            yield outcome
    except DomainError as error:
        outcome.error = error
        flash(
            _("%(refused)s: %(message)s.", refused=refused, message=error_text(error.message)),
            "error",
        )
        if form is not None:
            for message in apply_errors(form, error.errors):
                flash(message, "error")


# The columns a quote line's numbers go into: NUMERIC(5, 2) discount, NUMERIC(8, 3) width.
DISCOUNT_PLACES, DISCOUNT_DIGITS = 2, 5
WIDTH_PLACES, WIDTH_DIGITS = 3, 8
NOTES_LENGTH = 2000  # notes for the customer on a quote


def discount_field(label: str) -> DecimalNumberField:
    """A discount in percent, 0 to 100 with two decimals; empty is none."""
    return DecimalNumberField(
        label,
        validators=[Optional()],
        default=Decimal(0),
        places=DISCOUNT_PLACES,
        max_digits=DISCOUNT_DIGITS,
        minimum=Decimal(0),
        maximum=Decimal(100),
    )


def width_field(label: str) -> DecimalNumberField:
    """A spectrum width in GHz (spectrum products only); empty for the others."""
    return DecimalNumberField(
        label,
        validators=[Optional()],
        places=WIDTH_PLACES,
        max_digits=WIDTH_DIGITS,
        minimum=Decimal(0),
    )


# A customer's billing contact (SPEC 13): kept by staff on the customer page and by the customer's
# own staff in the portal, through the same mail services.
LANGUAGE_NAMES = {
    "en": _l("English"),
    "ru": _l("Russian"),
    "az": _l("Azerbaijani"),
    "kk": _l("Kazakh"),
}


class ContactForm(FlaskForm):  # type: ignore[misc]
    name = TextField(_l("Name"), validators=[DataRequired()], max_length=NAME_MAX)
    email = EmailTextField(_l("Email"), validators=[DataRequired()], max_length=EMAIL_MAX)
    language = SelectField(_l("Language"), choices=list(LANGUAGES), default="en")
    invoices = BooleanField(_l("Invoices"), default=True)
    credit_notes = BooleanField(_l("Credit notes"), default=True)
    reminders = BooleanField(_l("Payment reminders"), default=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = [(code, str(LANGUAGE_NAMES[code])) for code in LANGUAGES]

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.data or "",
            "email": self.email.data or "",
            "language": self.language.data,
            "documents": [
                name for name in ("invoices", "credit_notes", "reminders") if self[name].data
            ],
        }
