"""Form helpers shared by the pages."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes state: a POST carrying only the CSRF token."""
