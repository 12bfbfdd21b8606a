"""Domain errors. Each maps to one HTTP status at the edge (API, web, CLI).

A message is English with its values put in (the API, the CLI and the logs read it so), and
keeps the template it was made from: the web layer says it in the page's language through the
UI's catalogs (billing/web/language.py `error_text`). Templates are marked `N_` for `make
messages` and name their values: `ConflictError(N_("Invoice %(number)s is void"), number=n)`.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a message for the UI's catalogs (babel.cfg: `make messages` extracts it) without
    translating it here: the web layer translates it, the API and the CLI keep it English."""
    return message


class Text(str):
    """A message as English text, carrying its template and values: `Text(N_("%(n)s left"),
    n=3)` is the str "3 left", and a page can say it in its language from `template`."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, **values: Any) -> Text:
        text = super().__new__(cls, template % values if values else template)
        text.template = template
        text.values = values
        return text


class DomainError(Exception):
    """`type` is the machine-readable kind beside the status (the API's error `type`): the
    class's, or one given for this error (`card_payment_disabled`, `nothing_due`, …).

    `message` is a template marked N_ when `values` are given (put in by name), else the whole
    message; field messages in `errors` are plain marked strings or `Text`s."""

    status = 400
    type = "bad_request"

    def __init__(
        self,
        message: str,
        errors: dict[str, Any] | None = None,
        *,
        type: str | None = None,
        **values: Any,
    ) -> None:
        if values:
            message = Text(message, **values)
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if type is not None:
            self.type = type


class InvalidRequestError(DomainError):
    """Input that is well-formed but breaks a business rule."""

    status = 422
    type = "invalid_request"


class NotFoundError(DomainError):
    status = 404
    type = "not_found"


class PermissionDeniedError(DomainError):
    status = 403
    type = "forbidden"


class ConflictError(DomainError):
    status = 409
    type = "conflict"
