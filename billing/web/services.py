"""Contracts and the services they made: the list, a service's page and history, its transitions."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Optional

from billing.calendar import Period, billing_period, local_date
from billing.extensions import now, session
from billing.invoicing.sla_credits import MonthCredit, decide_credit, month_credit, undo_decision
from billing.parties.customers import get_customer, list_customers
from billing.reports.history import contract_history, service_history
from billing.reports.sla import recent_months, recent_periods
from billing.sales.lifecycle import (
    actions_for,
    schedule_text,
    service_today,
    transition_service,
    waive_early_termination,
)
from billing.sales.models import Service, ServiceState
from billing.sales.pricing import unit_charges
from billing.sales.queries import (
    CONTRACT_DEFAULT_SORT,
    CONTRACT_SORTS,
    SERVICE_DEFAULT_SORT,
    SERVICE_SORTS,
    contracts_listing,
    get_contract,
    get_service,
    service_listing,
)
from billing.sla.queries import chronic_failures_of, chronic_on_contract
from billing.web.auth import login_required, staff
from billing.web.forms import ActionForm, DecimalNumberField, IsoDateField, TextField, saving
from billing.web.frame import (
    SELLING_ROLES,
    csv_download,
    every_row,
    id_arg,
    list_args,
    may_sell_for,
    paginate,
    seller,
    wants_csv,
)
from billing.web.language import month_text, service_state_words

bp = Blueprint("services", __name__)

ACTIONS = {
    # action: (button, date label or None, explanation)
    "activate": (
        _l("Activate"),
        _l("Ready for service"),
        _l(
            "Billing starts on the ready-for-service date. A date ahead is scheduled: the service "
            "is active from it. Back-dated (at most 90 days): say why in the note."
        ),
    ),
    "suspend": (_l("Suspend"), None, _l("The spectrum stays allocated.")),
    "resume": (_l("Resume"), None, _l("Back to active.")),
    "terminate": (
        _l("Terminate"),
        _l("End date"),
        _l(
            "Billing stops on the end date and the spectrum is released; a date ahead is "
            "scheduled. Back-dated (at most 90 days): say why in the note. A lease ended before "
            "its term owes the early-termination charge."
        ),
    ),
}


class WaiveForm(FlaskForm):  # type: ignore[misc]
    reason = TextField(_l("Reason"), validators=[DataRequired(_l("say why"))], max_length=500)


class CreditDecisionForm(FlaskForm):  # type: ignore[misc]
    """Finance's word on a month's SLA credit: waive it, or grant a percentage of the month's
    charge, with the reason (SPEC 7)."""

    credit_percent = DecimalNumberField(
        # The % is a value, not in the message: a bare % would read as a format placeholder.
        _l("Credit (%(percent)s of the month's charge)", percent="%"),
        validators=[Optional()],
        places=3,
        max_digits=6,
        minimum=Decimal("0.001"),
        maximum=Decimal(100),
    )
    reason = TextField(_l("Reason"), validators=[DataRequired(_l("say why"))], max_length=1000)
    # Set by the confirmation page: without it nothing is decided.
    confirmed = HiddenField()


DECISIONS = {"waive": "Waive", "grant": "Grant"}
SLA_MONTHS = 12  # the service page shows the last twelve months of the issuer's calendar


class TransitionForm(FlaskForm):  # type: ignore[misc]
    effective_date = IsoDateField(_l("Date"), validators=[Optional()])
    note = TextField(_l("Note"), max_length=500)
    # Set by the confirmation page of an action in ASK_FIRST: without it nothing changes.
    confirmed = HiddenField()


# Actions that stop what the customer gets: the page asks first (a page of its own, no script).
ASK_FIRST = {
    "suspend": _l(
        "The service stops for the customer until it is resumed; its spectrum stays allocated."
    ),
    "terminate": _l(
        "On its end date billing stops and its spectrum is released for others: it cannot be "
        "undone."
    ),
}


@bp.get("/services")
@login_required()
def services() -> Any:
    state = request.args.get("state", "")
    state = state if state in set(ServiceState) else ""
    customer_id = id_arg("customer_id")
    args = list_args(SERVICE_SORTS, SERVICE_DEFAULT_SORT)
    stmt = service_listing(customer_id=customer_id, state=state, q=args.q, sort=args.sort)
    if wants_csv():
        return csv_download(
            "services",
            (
                "circuit customer product protection model term_months state ready_for_service"
                " end_date contract party"
            ).split(),
            (
                (
                    s.circuit_id,
                    s.customer.legal_name,
                    s.product.name,
                    s.protection,
                    "IRU" if s.model == "iru" else "lease",
                    s.term_months,
                    s.state,
                    s.ready_for_service_date.isoformat() if s.ready_for_service_date else "",
                    s.end_date.isoformat() if s.end_date else "",
                    s.contract.number,
                    s.contract.party.code,
                )
                for s in every_row(stmt)
            ),
        )
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
    decision: tuple[str, str, CreditDecisionForm] | None = None,
) -> Any:
    service = get_service(session(), circuit_id)
    months = availability_months(service)
    decide = may_decide_credits(service)
    decision_forms: dict[tuple[str, str], CreditDecisionForm] = {}
    if decide:
        for row in months:
            if row.month.closed and row.billed is None and row.month.decision is None:
                key = f"{row.month.period.start:%Y-%m}"
                for kind in DECISIONS:
                    if decision and decision[:2] == (key, kind):
                        decision_forms[key, kind] = decision[2]
                    else:
                        decision_forms[key, kind] = CreditDecisionForm(formdata=None)
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
        chronic_flags=chronic_failures_of(session(), service.id),
        history=service_history(session(), service.circuit_id, staff().party.time_zone),
        annual_om=unit_charges(service, service.currency).annual_om,
        forms=forms if may_sell_for(service.contract.party_id) else {},
        actions=ACTIONS,
        ask_first=ASK_FIRST,
        schedule=schedule_text(service),
        early_termination=service.early_termination,
        waive_form=(waive or WaiveForm(formdata=None)) if staff().role == "admin" else None,
        now=now(),
        sla_months=months,
        decision_forms=decision_forms,
        undo_form=ActionForm(formdata=None) if decide else None,
    ), status


def availability_periods(service: Service) -> list[Period]:
    """The last SLA_MONTHS months of the service's issuer's calendar it was in service in,
    newest first (the portal shows the same months)."""
    return recent_periods(service, now(), SLA_MONTHS)


def availability_months(service: Service) -> list[MonthCredit]:
    """The availability and credit of each month availability_periods gives (each read once:
    the page computes no other month)."""
    return recent_months(session(), service, now(), SLA_MONTHS)


def may_decide_credits(service: Service) -> bool:
    """Finance of the service's party, and administrators, waive or grant its credits."""
    return staff().role in ("finance", "admin") and seller().may_sell_for(service.contract.party_id)


def _decidable_period(service: Service, month: str) -> Period | None:
    """The month `month` (YYYY-MM) if the page shows it and it is over, else None."""
    if not re.fullmatch(r"[1-9][0-9]{3}-(0[1-9]|1[0-2])", month):
        return None
    period = billing_period(date(int(month[:4]), int(month[5:]), 1))
    closed = local_date(now(), service.contract.party.time_zone) > period.end
    return period if closed and period in availability_periods(service) else None


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
            _(
                "The service was not changed: correct the fields of “%(action)s”.",
                action=ACTIONS[action][0],
            ),
            "error",
        )
        return _service_page(circuit_id, status=422, failed=(action, form))
    if action in ASK_FIRST and form.confirmed.data != "yes":
        return render_template(
            "sales/service_confirm.html",
            service=get_service(session(), circuit_id),
            action=action,
            label=ACTIONS[action][0],
            consequence=ASK_FIRST[action],
            form=form,
        )
    with saving(_("%(circuit)s was not changed", circuit=circuit_id), form) as outcome:
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
    flash(
        _("%(circuit)s is now %(state)s.", circuit=circuit_id, state=service_state_words(state)),
        "success",
    )
    return redirect(url_for("services.service_page", circuit_id=circuit_id))


@bp.get("/contracts")
@login_required()
def contracts() -> Any:
    customer_id = id_arg("customer_id")
    args = list_args(CONTRACT_SORTS, CONTRACT_DEFAULT_SORT)
    stmt = contracts_listing(customer_id=customer_id, q=args.q, sort=args.sort)
    if wants_csv():
        return csv_download(
            "contracts",
            "number customer party signed_at services purchase_order quote".split(),
            (
                (
                    c.number,
                    c.customer.legal_name,
                    c.party.code,
                    c.signed_at.isoformat(),
                    len(c.services),
                    c.purchase_order or "",
                    c.quote.number,
                )
                for c in every_row(stmt)
            ),
        )
    return render_template(
        "sales/contracts.html",
        page=paginate(stmt),
        args=args,
        customer_id=customer_id,
        customers=list_customers(session()),
        customer=get_customer(session(), customer_id) if customer_id else None,
    )


@bp.get("/contracts/<id:contract_id>")
@login_required()
def contract_page(contract_id: int) -> Any:
    contract = get_contract(session(), contract_id)
    return render_template(
        "sales/contract.html",
        contract=contract,
        chronic=chronic_on_contract(session(), contract.id),
        history=contract_history(session(), contract.id, staff().party.time_zone),
    )


@bp.post("/services/<circuit_id>/early-termination/waive")
@login_required("admin")
def waive(circuit_id: str) -> Any:
    form = WaiveForm()
    if not form.validate():
        flash(
            _("The charge of %(circuit)s was not waived: give a reason.", circuit=circuit_id),
            "error",
        )
        return _service_page(circuit_id, status=422, waive=form)
    with saving(_("The charge of %(circuit)s was not waived", circuit=circuit_id), form) as outcome:
        waive_early_termination(
            session(), circuit_id, reason=form.reason.data, seller=seller(), now=now()
        )
    if outcome.refused:
        return _service_page(circuit_id, status=outcome.status, waive=form)
    flash(
        _("The early-termination charge of %(circuit)s is waived.", circuit=circuit_id), "success"
    )
    return redirect(url_for("services.service_page", circuit_id=circuit_id))


@bp.post("/services/<circuit_id>/sla-credit/<month>/<kind>")
@login_required("finance", "admin")
def decide_sla_credit(circuit_id: str, month: str, kind: str) -> Any:
    """Waive or grant a closed month's SLA credit, after a confirmation page."""
    service = get_service(session(), circuit_id)
    period = _decidable_period(service, month)
    if kind not in DECISIONS or period is None:
        abort(404)
    if not may_decide_credits(service):
        abort(
            403,
            description=_(
                "%(party)s's finance decides its credits.", party=service.contract.party.code
            ),
        )
    form = CreditDecisionForm()
    month_words = month_text(period.start)
    label = (
        _("Waive the %(month)s credit", month=month_words)
        if kind == "waive"
        else _("Grant the %(month)s credit", month=month_words)
    )
    valid = form.validate()
    if valid and kind == "grant" and form.credit_percent.data is None:
        form.credit_percent.errors = [*form.credit_percent.errors, _("Give the percentage.")]
        valid = False
    if not valid:
        flash(
            _(
                "%(circuit)s: %(action)s was not done: correct the fields.",
                circuit=circuit_id,
                action=label,
            ),
            "error",
        )
        return _service_page(circuit_id, status=422, decision=(month, kind, form))
    if form.confirmed.data != "yes":
        return render_template(
            "sales/sla_credit_confirm.html",
            service=service,
            row=month_credit(session(), service, period, now()),
            kind=kind,
            month=month,
            label=label,
            form=form,
        )
    refused = _(
        "%(circuit)s's %(month)s credit was not decided", circuit=circuit_id, month=month_words
    )
    with saving(refused, form) as outcome:
        decide_credit(
            session(),
            service,
            period,
            kind=kind,
            credit_percent=form.credit_percent.data if kind == "grant" else None,
            reason=form.reason.data,
            actor=seller(),
            now=now(),
        )
    if outcome.refused:
        return _service_page(circuit_id, status=outcome.status, decision=(month, kind, form))
    if kind == "waive":
        said = _("%(circuit)s's %(month)s credit is waived.", circuit=circuit_id, month=month_words)
    else:
        granted = f"{form.credit_percent.data}%"
        said = _(
            "%(circuit)s's %(month)s credit is granted at %(percent)s.",
            circuit=circuit_id,
            month=month_words,
            percent=granted,
        )
    flash(said, "success")
    return redirect(url_for("services.service_page", circuit_id=circuit_id, _anchor="availability"))


@bp.post("/services/<circuit_id>/sla-credit/<month>/undo")
@login_required("finance", "admin")
def undo_sla_credit(circuit_id: str, month: str) -> Any:
    """Take back finance's decision on a month not billed yet: the tiers apply again."""
    service = get_service(session(), circuit_id)
    period = _decidable_period(service, month)
    if period is None:
        abort(404)
    if not may_decide_credits(service):
        abort(
            403,
            description=_(
                "%(party)s's finance decides its credits.", party=service.contract.party.code
            ),
        )
    form = ActionForm()
    if not form.validate():
        flash(_("The decision was not undone: reload the page and try again."), "error")
        return _service_page(circuit_id, status=422)
    month_words = month_text(period.start)
    refused = _(
        "%(circuit)s's %(month)s decision was not undone", circuit=circuit_id, month=month_words
    )
    with saving(refused) as outcome:
        undo_decision(session(), service, period, actor=seller(), now=now())
    if outcome.refused:
        return _service_page(circuit_id, status=outcome.status)
    flash(
        _(
            "%(circuit)s's %(month)s decision is undone: the tiers apply.",
            circuit=circuit_id,
            month=month_words,
        ),
        "success",
    )
    return redirect(url_for("services.service_page", circuit_id=circuit_id, _anchor="availability"))
