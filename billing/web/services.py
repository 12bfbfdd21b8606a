"""Contracts and the services they made: the list, a service's page and history, its transitions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms.validators import DataRequired, Optional

from billing.extensions import now, session
from billing.parties.customers import get_customer, list_customers
from billing.sales.lifecycle import (
    actions_for,
    schedule_text,
    service_today,
    transition_service,
    waive_early_termination,
)
from billing.sales.models import ServiceState
from billing.sales.pricing import unit_charges
from billing.sales.queries import (
    SERVICE_DEFAULT_SORT,
    SERVICE_SORTS,
    get_contract,
    get_service,
    service_listing,
)
from billing.web.auth import login_required, staff
from billing.web.forms import IsoDateField, TextField, saving
from billing.web.frame import (
    SELLING_ROLES,
    id_arg,
    list_args,
    may_sell_for,
    paginate,
    seller,
)

bp = Blueprint("services", __name__)

ACTIONS = {
    # action: (button, date label or None, explanation)
    "activate": (
        "Activate",
        "Ready for service",
        "Billing starts on the ready-for-service date. A date ahead is scheduled: the service "
        "is active from it. Back-dated (at most 90 days): say why in the note.",
    ),
    "suspend": ("Suspend", None, "The spectrum stays allocated."),
    "resume": ("Resume", None, "Back to active."),
    "terminate": (
        "Terminate",
        "End date",
        "Billing stops on the end date and the spectrum is released; a date ahead is scheduled. "
        "Back-dated (at most 90 days): say why in the note. A lease ended before its term owes "
        "the early-termination charge.",
    ),
}


class WaiveForm(FlaskForm):  # type: ignore[misc]
    reason = TextField("Reason", validators=[DataRequired("say why")], max_length=500)


class TransitionForm(FlaskForm):  # type: ignore[misc]
    effective_date = IsoDateField("Date", validators=[Optional()])
    note = TextField("Note", max_length=500)


@bp.get("/services")
@login_required()
def services() -> Any:
    state = request.args.get("state", "")
    state = state if state in set(ServiceState) else ""
    customer_id = id_arg("customer_id")
    args = list_args(SERVICE_SORTS, SERVICE_DEFAULT_SORT)
    stmt = service_listing(customer_id=customer_id, state=state, q=args.q, sort=args.sort)
    return render_template(
        "sales/services.html",
        page=paginate(stmt),
        args=args,
        state=state,
        states=[s.value for s in ServiceState],
        customer_id=customer_id,
        customers=list_customers(session()),
        customer=get_customer(session(), customer_id) if customer_id else None,
    )


def _service_page(
    circuit_id: str,
    *,
    status: int = 200,
    failed: tuple[str, TransitionForm] | None = None,
    waive: WaiveForm | None = None,
) -> Any:
    service = get_service(session(), circuit_id)
    forms = {}
    for action in actions_for(service.state):
        if failed and failed[0] == action:
            form = failed[1]
        else:
            form = TransitionForm(formdata=None)
            form.effective_date.data = service_today(service, now())
        form.effective_date.label.text = ACTIONS[action][1] or ""
        forms[action] = form
    return render_template(
        "sales/service.html",
        service=service,
        annual_om=unit_charges(service, service.currency).annual_om,
        forms=forms if may_sell_for(service.contract.party_id) else {},
        actions=ACTIONS,
        schedule=schedule_text(service),
        early_termination=service.early_termination,
        waive_form=(waive or WaiveForm(formdata=None)) if staff().role == "admin" else None,
        now=now(),
    ), status


@bp.get("/services/<circuit_id>")
@login_required()
def service_page(circuit_id: str) -> Any:
    return _service_page(circuit_id)


@bp.post("/services/<circuit_id>/<action>")
@login_required(*SELLING_ROLES)
def transition(circuit_id: str, action: str) -> Any:
    if action not in ACTIONS:
        abort(404)
    form = TransitionForm()
    if not form.validate():
        flash(
            f"The service was not changed: correct the fields of “{ACTIONS[action][0]}”.", "error"
        )
        return _service_page(circuit_id, status=422, failed=(action, form))
    with saving(f"{circuit_id} was not changed", form) as outcome:
        service = transition_service(
            session(),
            circuit_id,
            action,
            effective_date=form.effective_date.data if ACTIONS[action][1] else None,
            seller=seller(),
            now=now(),
            note=(form.note.data or "").strip(),
        )
        state = service.state
    if outcome.refused:
        return _service_page(circuit_id, status=outcome.status, failed=(action, form))
    flash(f"{circuit_id} is now {state}.", "success")
    return redirect(url_for("services.service_page", circuit_id=circuit_id))


@bp.get("/contracts/<id:contract_id>")
@login_required()
def contract_page(contract_id: int) -> Any:
    contract = get_contract(session(), contract_id)
    return render_template("sales/contract.html", contract=contract)


@bp.post("/services/<circuit_id>/early-termination/waive")
@login_required("admin")
def waive(circuit_id: str) -> Any:
    form = WaiveForm()
    if not form.validate():
        flash(f"The charge of {circuit_id} was not waived: give a reason.", "error")
        return _service_page(circuit_id, status=422, waive=form)
    with saving(f"The charge of {circuit_id} was not waived", form) as outcome:
        waive_early_termination(
            session(), circuit_id, reason=form.reason.data, seller=seller(), now=now()
        )
    if outcome.refused:
        return _service_page(circuit_id, status=outcome.status, waive=form)
    flash(f"The early-termination charge of {circuit_id} is waived.", "success")
    return redirect(url_for("services.service_page", circuit_id=circuit_id))
