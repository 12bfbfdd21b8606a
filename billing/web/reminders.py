"""Payment reminders on the web (SPEC 13): each issuer's steps for its finance staff, and the
unsubscribe link every reminder carries (public: its token names the contact)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField

from billing.errors import NotFoundError
from billing.extensions import csrf, now, session
from billing.parties.models import Party
from billing.parties.queries import list_parties
from billing.reminders.models import EARLIEST_OFFSET, LATEST_OFFSET, ReminderStep
from billing.reminders.queries import steps_of
from billing.reminders.services import (
    StepChange,
    add_step,
    contact_by_token,
    remove_step,
    unsubscribe,
    update_step,
)
from billing.reminders.steps import PLACEHOLDERS
from billing.web.auth import login_required, staff
from billing.web.forms import ActionForm, TextAreaField, TextField, WholeNumberField, saving
from billing.web.frame import seller

bp = Blueprint("reminders", __name__)

FINANCE = ("finance", "admin")
ISSUERS = ("AZT", "KTC")


class StepForm(FlaskForm):  # type: ignore[misc]
    offset_days = WholeNumberField(
        _l("Day (from the due date)"), minimum=EARLIEST_OFFSET, maximum=LATEST_OFFSET
    )
    subject = TextField(_l("Subject"), max_length=200)
    body = TextAreaField(_l("Text"), max_length=5000)
    active = BooleanField(_l("Active"), default=True)


def _issuers() -> list[Party]:
    """The issuers whose steps the user sees: an administrator both, finance its own party."""
    user = staff()
    return [
        p
        for p in list_parties(session())
        if p.code in ISSUERS and (user.role == "admin" or p.id == user.party_id)
    ]


def _change(form: StepForm) -> StepChange:
    return StepChange(
        offset_days=form.offset_days.data if form.offset_days.data is not None else 10_000,
        subject=form.subject.data or "",
        body=form.body.data or "",
        active=bool(form.active.data),
    )


def _page(forms: dict[str, Any] | None = None, status: int = 200) -> Any:
    forms = forms or {}
    issuers = _issuers()
    sections = []
    for party in issuers:
        steps = steps_of(session(), party.id)
        sections.append(
            {
                "party": party,
                "steps": [
                    (
                        step,
                        forms.get(f"step-{step.id}") or StepForm(prefix=f"step{step.id}", obj=step),
                    )
                    for step in steps
                ],
                "new": forms.get(f"new-{party.id}") or StepForm(prefix=f"new{party.id}"),
            }
        )
    return (
        render_template(
            "reminders/steps.html",
            sections=sections,
            placeholders=PLACEHOLDERS,
            action_form=ActionForm(),
        ),
        status,
    )


@bp.get("/reminders")
@login_required(*FINANCE)
def steps_page() -> Any:
    return _page()


def _party(party_id: int) -> Party:
    party = next((p for p in _issuers() if p.id == party_id), None)
    if party is None:
        abort(404)
    return party


@bp.post("/reminders/<id:party_id>/steps")
@login_required(*FINANCE)
def add_step_view(party_id: int) -> Any:
    party = _party(party_id)
    form = StepForm(prefix=f"new{party.id}")
    if not form.validate():
        flash(_("The reminder step was not saved: see the marked fields."), "error")
        return _page({f"new-{party.id}": form}, 422)
    with saving(_("The reminder step was not saved"), form) as outcome:
        add_step(session(), party, _change(form), editor=seller(), now=now())
    if outcome.refused:
        return _page({f"new-{party.id}": form}, outcome.status)
    flash(_("Reminder step added."), "success")
    return redirect(url_for("reminders.steps_page") + f"#issuer-{party.code}", 303)


def _step(step_id: int) -> ReminderStep:
    step = session().get(ReminderStep, step_id)
    if step is None or step.party_id not in {p.id for p in _issuers()}:
        abort(404)
    return step


@bp.post("/reminders/steps/<id:step_id>")
@login_required(*FINANCE)
def update_step_view(step_id: int) -> Any:
    step = _step(step_id)
    form = StepForm(prefix=f"step{step.id}")
    if not form.validate():
        flash(_("The reminder step was not saved: see the marked fields."), "error")
        return _page({f"step-{step.id}": form}, 422)
    with saving(_("The reminder step was not saved"), form) as outcome:
        update_step(session(), step.id, _change(form), editor=seller(), now=now())
    if outcome.refused:
        return _page({f"step-{step.id}": form}, outcome.status)
    flash(_("Reminder step saved."), "success")
    return redirect(url_for("reminders.steps_page") + f"#step-{step.id}", 303)


@bp.post("/reminders/steps/<id:step_id>/remove")
@login_required(*FINANCE)
def remove_step_view(step_id: int) -> Any:
    step = _step(step_id)
    if not ActionForm().validate():
        abort(400)
    with saving(_("The reminder step was not removed")) as outcome:
        remove_step(session(), step.id, editor=seller(), now=now())
    if not outcome.refused:
        flash(_("Reminder step removed."), "success")
    return redirect(url_for("reminders.steps_page"), 303)


# --- unsubscribe (public) ------------------------------------------------------------------


def _contact(contact_id: int, token: str) -> Any:
    try:
        return contact_by_token(session(), current_app.config["SECRET_KEY"], contact_id, token)
    except NotFoundError:
        abort(404)


@bp.get("/unsubscribe/<id:contact_id>/<token>")
def unsubscribe_page(contact_id: int, token: str) -> Any:
    """Asks first: a GET changes nothing (mail scanners follow links)."""
    contact = _contact(contact_id, token)
    return render_template(
        "reminders/unsubscribe.html", contact=contact, token=token, done=not contact.reminders
    )


@bp.post("/unsubscribe/<id:contact_id>/<token>")
def unsubscribe_view(contact_id: int, token: str) -> Any:
    """The button on the page, or a mail client's one-click POST (RFC 8058,
    `List-Unsubscribe=One-Click`): the token in the address is the proof, so no CSRF token."""
    contact = _contact(contact_id, token)
    with saving(_("You were not unsubscribed")) as outcome:
        contact = unsubscribe(session(), contact.id, now=now())
    if outcome.refused:
        return redirect(url_for("reminders.unsubscribe_page", contact_id=contact_id, token=token))
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 204
    return render_template("reminders/unsubscribe.html", contact=contact, token=token, done=True)


csrf.exempt(unsubscribe_view)
