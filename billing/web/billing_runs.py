"""Finance's billing pages (SPEC 4 and 10): a month's billing run started and its result shown,
the tax rules kept, and a contract's IRU payment plan."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from billing.calendar import local_date
from billing.errors import NotFoundError
from billing.extensions import now, session
from billing.invoicing.charges import Instalment, InvalidTermsError
from billing.invoicing.models import BillingRun
from billing.invoicing.queries import (
    TAX_RULE_DEFAULT_SORT,
    TAX_RULE_SORTS,
    get_billing_run,
    get_tax_rule,
    recent_billing_runs,
    run_invoices,
    tax_rule_listing,
)
from billing.invoicing.runs import (
    check_period,
    estimate_run,
    is_abandoned,
    parse_period,
    run_progress,
)
from billing.invoicing.services import (
    NOTE_LANGUAGES,
    NOTE_MAX,
    add_tax_rule,
    delete_tax_rule,
    end_tax_rule,
    set_payment_plan,
    set_tax_rule_notes,
)
from billing.invoicing.tax import TAX_CATEGORIES
from billing.jobs.month_end import (
    cancel_run,
    lease_seconds,
    parties_to_bill,
    request_run,
    resume_run,
)
from billing.parties.queries import list_parties
from billing.sales.queries import get_contract
from billing.web.auth import login_required, staff
from billing.web.forms import (
    ActionForm,
    DecimalNumberField,
    IsoDateField,
    TextAreaField,
    TextField,
    WholeNumberField,
    saving,
)
from billing.web.frame import list_args, money, paginate, seller
from billing.web.language import error_text, run_state_words, status_words

bp = Blueprint("billing_runs", __name__, url_prefix="/finance")

FINANCE = ("admin", "finance")
PLAN_ROLES = ("admin", "finance", "sales")
BOTH = ""  # the issuer choice of an admin's run for every party
PLAN_ROWS = 6
MONTHS_AFTER_RFS_MAX = 600  # an IRU runs 25 years at most


def _issuer_choices(allow_both: bool) -> list[tuple[str, str]]:
    """An admin chooses any party (or, for a run, both); finance staff their own party."""
    me = seller()
    parties = [p for p in list_parties(session()) if me.may_sell_for(p.id)]
    choices = [(p.code, f"{p.code} · {p.legal_name}") for p in parties]
    if allow_both and me.is_admin:
        choices.insert(0, (BOTH, _("AZT and KTC")))
    return choices


def _known_issuer(form_field: Any, allow_both: bool) -> bool:
    """An issuer that is a party (or both, where allowed): anything else is a message beside the
    field. A party the user may not act for is left to the service, which refuses it (403)."""
    codes = {p.code for p in list_parties(session())} | ({BOTH} if allow_both else set())
    if form_field.data in codes:
        return True
    form_field.errors = [*form_field.errors, _("Choose AZT or KTC.")]
    return False


# -- billing runs -----------------------------------------------------------------------------


class BillingRunForm(FlaskForm):  # type: ignore[misc]
    period = TextField(_l("Month"), validators=[DataRequired()], max_length=7)
    issuer = SelectField(_l("Issuer"), validate_choice=False)
    issue = BooleanField(_l("Issue the drafts too"))
    # Set by the confirmation page, which says what the run would bill: without it, no run.
    confirmed = HiddenField()


@bp.route("/billing-runs", methods=["GET", "POST"])
@login_required(*FINANCE)
def billing_runs() -> Any:
    form = BillingRunForm()
    form.issuer.choices = _issuer_choices(allow_both=True)
    if request.method == "GET":
        form.period.data = f"{local_date(now(), staff().party.time_zone):%Y-%m}"
        return _runs_page(form)
    status = 422
    if form.validate() and _known_issuer(form.issuer, allow_both=True):
        if form.confirmed.data != "yes":
            return _confirm_run(form)
        # The runs and their first jobs are queued in this unit of work: a worker takes them
        # after the commit (on SQLite they run in-process right after it).
        with saving("The billing run was refused", form) as outcome:
            period = parse_period(form.period.data)
            requests = request_run(
                session(),
                period=period,
                issuer_code=form.issuer.data or None,
                issue=form.issue.data,
                actor=seller(),
                now=now(),
            )
        if not outcome.refused:
            for asked in requests:
                if asked.already:
                    flash(
                        _(
                            "The billing run of %(month)s for %(issuer)s was already %(state)s: "
                            "this is that run.",
                            month=period.start.strftime("%Y-%m"),
                            issuer=asked.issuer,
                            state=run_state_words(asked.state),
                        ),
                        "info",
                    )
                else:
                    flash(
                        _(
                            "Billing run of %(month)s for %(issuer)s requested.",
                            month=period.start.strftime("%Y-%m"),
                            issuer=asked.issuer,
                        ),
                        "success",
                    )
            if len(requests) == 1:
                return redirect(url_for("billing_runs.billing_run", run_id=requests[0].run_id), 303)
            return redirect(url_for("billing_runs.billing_runs"), 303)
        status = outcome.status
    return _runs_page(form), status


def _confirm_run(form: BillingRunForm) -> Any:
    """Before a run starts: how many invoices it would make and for how much, per issuer and
    currency, estimated by the run's own charge code without writing anything."""
    estimates = None
    with saving("The billing run was refused", form) as outcome:
        period = parse_period(form.period.data)
        parties = parties_to_bill(session(), form.issuer.data or None, seller())
        for party in parties:
            check_period(period, local_date(now(), party.time_zone))
        estimates = estimate_run(session(), period=period, parties=parties, now=now())
    if outcome.refused or estimates is None:
        return _runs_page(form), outcome.status
    return render_template(
        "invoicing/billing_run_confirm.html", form=form, period=period, estimates=estimates
    )


def _runs_page(form: BillingRunForm) -> str:
    runs = recent_billing_runs(session(), party_id=seller().party_id)
    at, lease = now(), lease_seconds()
    abandoned = {r.id for r in runs if is_abandoned(session(), r, at, lease)}
    return render_template(
        "invoicing/billing_runs.html",
        form=form,
        runs=runs,
        abandoned=abandoned,
        state_words=STATE_WORDS,
        phase_words=PHASE_WORDS,
    )


# A run's state and phase in words (the page, the list and the JSON the page polls).
STATE_WORDS = {
    "queued": _l("queued"),
    "running": _l("running"),
    "finished": _l("finished"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
}
PHASE_WORDS = {
    "billing": _l("Billing customers"),
    "issuing": _l("Issuing the drafts"),
    "rendering": _l("Rendering the PDFs"),
    "done": _l("Done"),
}
ENDED = ("finished", "failed", "cancelled")


def _visible_run(run_id: int) -> BillingRun:
    """A run the user's party issued (or, from before runs were per issuer, a run of every
    party): another party's run is not found, so its existence is not told either."""
    try:
        run = get_billing_run(session(), run_id)
    except NotFoundError:
        abort(404)
    if run.issuer_party_id is not None and not seller().may_sell_for(run.issuer_party_id):
        abort(404)
    return run


def _progress(run_id: int) -> dict[str, Any]:
    """What the run page shows, as the JSON its script polls (and the page's first render)."""
    p = run_progress(session(), run_id, now(), lease_seconds=lease_seconds())
    ended = p.state in ENDED
    # The texts are in the user's language: the page shows them as they come.
    state = run_state_words(p.state)
    if p.abandoned:
        state_text = _("abandoned (%(state)s, no worker has it)", state=state)
    elif p.cancel_requested and not ended:
        state_text = _("%(state)s, cancelling after this chunk", state=state)
    else:
        state_text = state
    return {
        "id": p.id,
        "issuer": p.issuer,
        "period": f"{p.period.start:%Y-%m}",
        "issue": p.issue,
        "state": p.state,
        "state_text": state_text,
        "abandoned": p.abandoned,
        "cancel_requested": p.cancel_requested,
        "phase": p.phase,
        "phase_text": str(PHASE_WORDS.get(p.phase, p.phase)),
        # Polling stops when nothing will change by itself: ended, or abandoned by its worker.
        "ended": ended or p.abandoned,
        "may_cancel": p.state in ("queued", "running") and not p.cancel_requested,
        "may_resume": p.abandoned or p.state in ("failed", "cancelled"),
        "started_at": p.started_at.isoformat(),
        "finished_at": p.finished_at.isoformat() if p.finished_at else None,
        "started_by": p.started_by,
        "customers_total": p.customers_total,
        "customers_done": p.customers_done,
        "services": p.services,
        "charges": p.charges,
        "drafts": p.drafts,
        "issued": p.issued,
        "rendered": p.rendered,
        "skipped": list(p.skipped),
        "errors": list(p.errors),
        "totals": [
            {"currency": t.currency, "amount": str(t.amount), "text": money(t, code=True)}
            for t in p.totals
        ]
        if p.state == "finished"
        else [],
        "invoices": [
            {
                "id": inv.id,
                "url": url_for("invoices.invoice_page", invoice_id=inv.id),
                "label": inv.number or _("Draft %(id)s", id=inv.id),
                "customer": inv.customer.legal_name,
                "currency": inv.currency,
                "status": inv.status,
                "status_text": status_words(inv.status),
            }
            for inv in run_invoices(session(), p.id)
        ]
        if ended
        else [],
    }


@bp.route("/billing-runs/<id:run_id>")
@login_required(*FINANCE)
def billing_run(run_id: int) -> Any:
    run = _visible_run(run_id)
    return render_template(
        "invoicing/billing_run.html",
        run=run,
        progress=_progress(run.id),
        action_form=ActionForm(),
    )


@bp.route("/billing-runs/<id:run_id>/progress")
@login_required(*FINANCE)
def billing_run_progress(run_id: int) -> Any:
    run = _visible_run(run_id)
    response = jsonify(_progress(run.id))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/billing-runs/<id:run_id>/cancel", methods=["POST"])
@login_required(*FINANCE)
def cancel_billing_run(run_id: int) -> Any:
    run = _visible_run(run_id)
    if not ActionForm().validate():
        flash(_("The run was not cancelled: the form expired, try again."), "error")
        return redirect(url_for("billing_runs.billing_run", run_id=run.id), 303)
    with saving("The run was not cancelled") as outcome:
        cancel_run(session(), run.id, actor=seller(), now=now())
    if not outcome.refused:
        flash(
            _(
                "Cancelling the run: it stops before its next chunk. What was billed stays "
                "billed; running the month again finishes it."
            ),
            "success",
        )
    return redirect(url_for("billing_runs.billing_run", run_id=run.id), 303)


@bp.route("/billing-runs/<id:run_id>/resume", methods=["POST"])
@login_required(*FINANCE)
def resume_billing_run(run_id: int) -> Any:
    run = _visible_run(run_id)
    if not ActionForm().validate():
        flash(_("The run was not resumed: the form expired, try again."), "error")
        return redirect(url_for("billing_runs.billing_run", run_id=run.id), 303)
    with saving("The run was not resumed") as outcome:
        resume_run(session(), run.id, actor=seller(), now=now())
    if not outcome.refused:
        flash(_("The run was resumed: it carries on from where it stopped."), "success")
    return redirect(url_for("billing_runs.billing_run", run_id=run.id), 303)


# -- tax rules --------------------------------------------------------------------------------


# The VAT categories in words, for the form's choices (the codes stay as they are).
TAX_CATEGORY_WORDS = {
    "S": _l("Standard rate"),
    "Z": _l("Zero rated"),
    "E": _l("Exempt from VAT"),
    "AE": _l("Reverse charge"),
    "K": _l("Intra-community supply"),
    "G": _l("Export outside the EU"),
    "O": _l("Outside the scope of VAT"),
}


def _category_label(code: str) -> str:
    return f"{code} · {TAX_CATEGORY_WORDS.get(code, TAX_CATEGORIES[code])}"


class TaxRuleForm(FlaskForm):  # type: ignore[misc]
    issuer = SelectField(_l("Issuer"), validate_choice=False)
    customer_country = TextField(
        _l("Customer country"), validators=[DataRequired()], max_length=9, render_kw={"size": 9}
    )
    rate_percent = DecimalNumberField(
        _l("Rate %"),
        validators=[InputRequired()],
        places=3,
        max_digits=6,
        minimum=Decimal(0),
        maximum=Decimal(100),
    )
    name = TextField(_l("Name"), validators=[DataRequired()], max_length=100)
    legal_note = TextAreaField(_l("Legal note"), validators=[DataRequired()], max_length=2000)
    effective_from = IsoDateField(_l("Effective from"), validators=[Optional()])
    effective_to = IsoDateField(_l("Effective to"), validators=[Optional()])
    # SPEC 14: the VAT category e-invoices state (empty: S above 0 %, else read from the words).
    category_code = SelectField(
        _l("VAT category"),
        choices=[SelectChoice("", _l("From the rate and note"))]
        + [SelectChoice(code, LazyString(_category_label, code)) for code in TAX_CATEGORIES],
        default="",
    )
    exemption_reason_code = TextField(
        _l("Exemption reason code"), validators=[Optional()], max_length=32
    )
    exemption_reason = TextAreaField(
        _l("Exemption reason"), validators=[Optional()], max_length=2000
    )


class EndTaxRuleForm(FlaskForm):  # type: ignore[misc]
    last_day = IsoDateField(_l("Last day"), validators=[InputRequired()])


@bp.route("/tax-rules", methods=["GET", "POST"])
@login_required(*FINANCE)
def tax_rules() -> Any:
    form = TaxRuleForm()
    form.issuer.choices = _issuer_choices(allow_both=False)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate() and _known_issuer(form.issuer, allow_both=False):
            issuer = next(p for p in list_parties(session()) if p.code == form.issuer.data)
            with saving("The tax rule was not added", form) as outcome:
                rule = add_tax_rule(
                    session(),
                    issuer=issuer,
                    customer_country=form.customer_country.data,
                    rate_percent=form.rate_percent.data,
                    name=form.name.data,
                    legal_note=form.legal_note.data,
                    effective_from=form.effective_from.data,
                    effective_to=form.effective_to.data,
                    actor=seller(),
                    now=now(),
                    category_code=form.category_code.data or "",
                    exemption_reason_code=form.exemption_reason_code.data or "",
                    exemption_reason=form.exemption_reason.data or "",
                )
            if not outcome.refused:
                flash(
                    _(
                        "Tax rule added: %(name)s for %(country)s.",
                        name=rule.name,
                        country=rule.customer_country,
                    ),
                    "success",
                )
                return redirect(url_for("billing_runs.tax_rules"))
            status = outcome.status
    return _tax_rules_page(form), status


@bp.route("/tax-rules/<id:rule_id>/end", methods=["POST"])
@login_required(*FINANCE)
def end_rule(rule_id: int) -> Any:
    form = EndTaxRuleForm()
    # A refusal is told on the list, where the row's form is (the page's links need its URL).
    if not form.validate():
        flash(
            _("The tax rule was not ended: %(errors)s", errors="; ".join(form.last_day.errors)),
            "error",
        )
        return redirect(url_for("billing_runs.tax_rules"))
    with saving("The tax rule was not ended") as outcome:
        rule = end_tax_rule(
            session(), rule_id, last_day=form.last_day.data, actor=seller(), now=now()
        )
    if not outcome.refused:
        flash(
            _("Tax rule %(name)s ends on %(day)s.", name=rule.name, day=rule.effective_to),
            "success",
        )
    return redirect(url_for("billing_runs.tax_rules"))


@bp.route("/tax-rules/<id:rule_id>/delete", methods=["POST"])
@login_required(*FINANCE)
def delete_rule(rule_id: int) -> Any:
    with saving("The tax rule was not deleted") as outcome:
        name = get_tax_rule(session(), rule_id).name
        delete_tax_rule(session(), rule_id, actor=seller(), now=now())
    if not outcome.refused:
        flash(_("Tax rule %(name)s deleted.", name=name), "success")
    return redirect(url_for("billing_runs.tax_rules"))


class TaxRuleNotesForm(FlaskForm):  # type: ignore[misc]
    """A rule's legal note in each invoice language beside English (SPEC 14)."""

    note_ru = TextAreaField(_l("Russian"), validators=[Optional()], max_length=NOTE_MAX)
    note_az = TextAreaField(_l("Azerbaijani"), validators=[Optional()], max_length=NOTE_MAX)
    note_kk = TextAreaField(_l("Kazakh"), validators=[Optional()], max_length=NOTE_MAX)


@bp.route("/tax-rules/<id:rule_id>/notes", methods=["GET", "POST"])
@login_required(*FINANCE)
def rule_notes(rule_id: int) -> Any:
    rule = get_tax_rule(session(), rule_id)
    changeable = seller().may_sell_for(rule.issuer_party_id)
    kept = {n.language: n.note for n in rule.notes}
    form = TaxRuleNotesForm(data={f"note_{code}": kept.get(code, "") for code in NOTE_LANGUAGES})
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            with saving(_("The legal notes were not saved"), form) as outcome:
                set_tax_rule_notes(
                    session(),
                    rule_id,
                    {code: getattr(form, f"note_{code}").data or "" for code in NOTE_LANGUAGES},
                    actor=seller(),
                    now=now(),
                )
            if not outcome.refused:
                flash(_("The legal notes of %(name)s are saved.", name=rule.name), "success")
                return redirect(url_for("billing_runs.rule_notes", rule_id=rule_id))
            status = outcome.status
    return render_template(
        "invoicing/tax_rule_notes.html", rule=rule, form=form, changeable=changeable
    ), status


def _tax_rules_page(form: TaxRuleForm) -> str:
    args = list_args(TAX_RULE_SORTS, TAX_RULE_DEFAULT_SORT)
    page = paginate(tax_rule_listing(q=args.q, sort=args.sort))
    me = seller()
    changeable = {r.id for r in page.items if me.may_sell_for(r.issuer_party_id)}
    return render_template(
        "invoicing/tax_rules.html",
        page=page,
        args=args,
        form=form,
        changeable=changeable,
        end_form=EndTaxRuleForm(formdata=None),
        action_form=ActionForm(),
    )


# -- IRU payment plans ------------------------------------------------------------------------


class InstalmentRow(Form):  # type: ignore[misc]
    percent = DecimalNumberField(
        _l("Percent"),
        validators=[Optional()],
        places=4,
        max_digits=7,
        minimum=Decimal(0),
        maximum=Decimal(100),
    )
    due_date = IsoDateField(_l("Due on"), validators=[Optional()])
    months_after_rfs = WholeNumberField(
        _l("or months after RFS"),
        validators=[Optional()],
        minimum=0,
        maximum=MONTHS_AFTER_RFS_MAX,
    )


class PaymentPlanForm(FlaskForm):  # type: ignore[misc]
    rows = FieldList(FormField(InstalmentRow), min_entries=PLAN_ROWS, max_entries=PLAN_ROWS)


def _instalments(form: PaymentPlanForm) -> list[Instalment] | None:
    """The rows filled in, as instalments; None (with messages beside the rows) if one is not."""
    plan: list[Instalment] = []
    valid = True
    for row in form.rows:
        percent, due, months = row.percent, row.due_date, row.months_after_rfs
        if percent.data is None and due.data is None and months.data is None:
            continue
        if percent.data is None:
            valid = False
            percent.errors = [*percent.errors, _("Give the percent of the fee.")]
            continue
        try:
            plan.append(Instalment(percent.data, due_date=due.data, months_after_rfs=months.data))
        except InvalidTermsError as error:
            valid = False
            beside = percent if "%" in error.message else due
            said = error_text(error.message)
            beside.errors = [*beside.errors, said[:1].upper() + said[1:] + "."]
    return plan if valid else None


@bp.route("/contracts/<id:contract_id>/payment-plan", methods=["GET", "POST"])
@login_required(*PLAN_ROLES)
def payment_plan(contract_id: int) -> Any:
    contract = get_contract(session(), contract_id)
    form = PaymentPlanForm()
    status = 200
    if request.method == "GET":
        _fill(form, contract.instalments)
    else:
        status = 422
        plan = _instalments(form) if form.validate() else None
        if plan is not None:
            with saving("The payment plan was not saved") as outcome:
                set_payment_plan(session(), contract_id, plan, actor=seller(), now=now())
            if not outcome.refused:
                flash(_("Payment plan of %(number)s saved.", number=contract.number), "success")
                return redirect(url_for("billing_runs.payment_plan", contract_id=contract_id))
            status = outcome.status
    return render_template(
        "invoicing/payment_plan.html",
        contract=contract,
        form=form,
        may_change=seller().may_sell_for(contract.party_id),
        has_iru=any(s.model == "iru" for s in contract.services),
    ), status


def _fill(form: PaymentPlanForm, instalments: Sequence[Any]) -> None:
    for row, instalment in zip(form.rows, instalments, strict=False):
        row.percent.data = instalment.percent.normalize()
        row.due_date.data = instalment.due_date
        row.months_after_rfs.data = instalment.months_after_rfs
