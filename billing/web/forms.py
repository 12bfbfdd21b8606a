"""Form helpers shared by the pages, and the one way a page saves: `saving`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import flash
from flask_wtf import FlaskForm

from billing.errors import DomainError
from billing.extensions import transaction


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes state: a POST carrying only the CSRF token."""


def apply_errors(form: Any, errors: dict[str, Any]) -> list[str]:
    """Put a domain error's field messages on the form's fields; returns those with no field."""
    unplaced: list[str] = []
    for name, messages in errors.items():
        listed = [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
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
        flash(f"{refused}: {error.message}.", "error")
        if form is not None:
            for message in apply_errors(form, error.errors):
                flash(message, "error")
