"""What a webhook's `data` is: the event's subject as the API's GET shows it.

This package may not import the API (it sits below it), so the API registers, when the app is
created, one function per subject type (`invoice`, `service`, `quote`) that answers the subject
as its GET would. The worker runs inside the same app, so it finds them too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

Shower = Callable[[Session, str, datetime], dict[str, Any]]

_SHOWERS: dict[str, Shower] = {}


class UnknownSubjectError(LookupError):
    """No registered way to show a subject of this type."""


def register_subject(subject_type: str, show: Shower) -> None:
    _SHOWERS[subject_type] = show


def show_subject(
    session: Session, subject_type: str, subject_id: str, at: datetime
) -> dict[str, Any]:
    show = _SHOWERS.get(subject_type)
    if show is None:
        raise UnknownSubjectError(f"no way to show a {subject_type!r} in a webhook")
    return show(session, subject_id, at)
