"""Settlement statements and revenue recognition for finance (SPEC 5, 10): the month's
statement built, approved by each party, marked settled; its PDF and CSV; the recognition
report with its CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from billing.agreement.queries import parties_in_order
from billing.calendar import billing_period, local_date
from billing.errors import DomainError
from billing.extensions import now, session
from billing.invoicing.runs import parse_period
from billing.mail.documents import email_statement_again
from billing.mail.services import mails_for_document
from billing.parties.customers import Seller
from billing.reports.history import statement_history
from billing.settlement.document import statement_pdf
from billing.settlement.models import Basis
from billing.settlement.queries import (
    documents_not_in,
    get_statement,
    is_stale,
    list_statements,
    split_statement_csv,
)
from billing.settlement.revenue import revenue_csv, revenue_report
from billing.settlement.services import (
    approve_statement,
    build_statement,
    mark_settled,
)
from billing.web.auth import actor, login_required, staff
from billing.web.forms import ActionForm, TextField, saving
from billing.web.frame import seller
from billing.web.language import error_text

bp = Blueprint("settlement", __name__, url_prefix="/finance")

FINANCE = ("admin", "finance")

# Words for a statement's stored codes (the codes stay English in the database, the API and CSV).
BASIS_WORDS = {"invoiced": _l("invoiced"), "collected": _l("collected")}
STATEMENT_STATE_WORDS = {
    "draft": _l("draft"),
    "approved": _l("approved"),
    "settled": _l("settled"),
}


def basis_words(code: str) -> str:
    return str(BASIS_WORDS[code]) if code in BASIS_WORDS else code


def statement_state_words(code: str) -> str:
    return str(STATEMENT_STATE_WORDS[code]) if code in STATEMENT_STATE_WORDS else code


def stale_words() -> str:
    """billing.settlement.services.STALE in the page's language."""
    return str(_("Stale — rebuild before approval"))


@bp.context_processor
def _statement_words() -> dict[str, Any]:
    return {
        "basis_words": basis_words,
        "statement_state_words": statement_state_words,
        "STALE": stale_words(),
    }


class BuildForm(FlaskForm):  # type: ignore[misc]
    period = TextField(_l("Month (YYYY-MM)"), validators=[DataRequired()], max_length=7)
    basis = SelectField(
        _l("Basis"), choices=[SelectChoice(b.value, BASIS_WORDS[b.value]) for b in Basis]
    )


class ApproveForm(FlaskForm):  # type: ignore[misc]
    party = SelectField(_l("Approve for"), choices=[])


class SettleForm(FlaskForm):  # type: ignore[misc]
    payment_reference = TextField(
        _l("Payment reference"), validators=[DataRequired()], max_length=200
    )


def party_actor() -> Seller:
    """The logged-in user acting for their own party: approving and settling a statement are
    acts of a party, so an administrator acts for theirs too, never for the other."""
    return Seller(label=actor(), party_id=staff().party_id)


def business_today() -> Any:
    """Today in the logged-in user's party's calendar."""
    return local_date(now(), staff().party.time_zone)


def _approve_form() -> ApproveForm:
    form = ApproveForm()
    user = staff()
    form.party.choices = [p.code for p in parties_in_order(session()) if p.id == user.party_id]
    return form


@bp.route("/settlements", methods=["GET", "POST"])
@login_required(*FINANCE)
def settlements() -> Any:
    form = BuildForm()
    if request.method == "GET" and not form.period.data:
        form.period.data = f"{business_today():%Y-%m}"
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 422
        else:
            with saving(_("The statement was not built"), form) as outcome:
                statement = build_statement(
                    session(), form.period.data, form.basis.data, actor=seller(), now=now()
                )
                statement_id = statement.id
            if not outcome.refused:
                flash(
                    _(
                        "Statement %(period)s (%(basis)s) built: a draft until both parties"
                        " approve it.",
                        period=form.period.data,
                        basis=basis_words(form.basis.data),
                    ),
                    "success",
                )
                return redirect(url_for("settlement.statement_page", statement_id=statement_id))
            status = outcome.status
    statements = list_statements(session())
    stale = {s.id for s in statements if is_stale(session(), s)}
    return render_template(
        "settlement/statements.html", statements=statements, stale=stale, form=form
    ), status


def _statement_page(
    statement_id: int,
    status: int = 200,
    approve: ApproveForm | None = None,
    settle: SettleForm | None = None,
) -> Any:
    statement = get_statement(session(), statement_id)
    approve = approve or _approve_form()
    approved = {a.party.code for a in statement.approvals}
    approve.party.choices = [c for c in approve.party.choices if c not in approved]
    head, rows = split_statement_csv(statement.csv)
    user = staff()
    return render_template(
        "settlement/statement.html",
        s=statement,
        history=statement_history(session(), statement.id, user.party.time_zone),
        head=head,
        rows=rows,
        stale=is_stale(session(), statement),
        not_in=documents_not_in(session(), statement),
        approve=approve,
        settle=settle or SettleForm(),
        may_settle=statement.payer_party_id in (None, user.party_id),
        mails=mails_for_document(session(), statement_id=statement.id),
        action_form=ActionForm(),
    ), status


@bp.get("/settlements/<id:statement_id>")
@login_required(*FINANCE)
def statement_page(statement_id: int) -> Any:
    return _statement_page(statement_id)


@bp.post("/settlements/<id:statement_id>/approve")
@login_required(*FINANCE)
def approve(statement_id: int) -> Any:
    form = _approve_form()
    if not form.validate():
        return _statement_page(statement_id, 422, approve=form)
    with saving(_("The statement was not approved"), form) as outcome:
        state = approve_statement(
            session(), statement_id, actor=party_actor(), now=now(), party_code=form.party.data
        ).state
    if outcome.refused:
        return _statement_page(statement_id, outcome.status, approve=form)
    if state == "approved":
        message = _(
            "Approved for %(party)s. Both parties have approved: it can be settled.",
            party=form.party.data,
        )
    else:
        message = _("Approved for %(party)s.", party=form.party.data)
    flash(message, "success")
    return redirect(url_for("settlement.statement_page", statement_id=statement_id))


@bp.post("/settlements/<id:statement_id>/settle")
@login_required(*FINANCE)
def settle(statement_id: int) -> Any:
    form = SettleForm()
    if not form.validate():
        return _statement_page(statement_id, 422, settle=form)
    with saving(_("The statement was not marked settled"), form) as outcome:
        mark_settled(
            session(), statement_id, form.payment_reference.data, actor=party_actor(), now=now()
        )
    if outcome.refused:
        return _statement_page(statement_id, outcome.status, settle=form)
    flash(_("The statement is settled."), "success")
    return redirect(url_for("settlement.statement_page", statement_id=statement_id))


@bp.post("/settlements/<id:statement_id>/email")
@login_required(*FINANCE)
def email_again(statement_id: int) -> Any:
    """Email the approved statement again to the other party's finance users (SPEC 13)."""
    if not ActionForm().validate():
        abort(400)
    with saving(_("The statement was not emailed")) as outcome:
        email_statement_again(session(), statement_id, editor=party_actor(), now=now())
    if outcome.refused:
        return _statement_page(statement_id, outcome.status)
    flash(_("The statement is queued to be emailed; its delivery shows below."), "success")
    return redirect(url_for("settlement.statement_page", statement_id=statement_id) + "#delivery")


def _name(statement: Any) -> str:
    return f"settlement-{statement.month}-{statement.basis}"


@bp.get("/settlements/<id:statement_id>/pdf")
@login_required(*FINANCE)
def statement_download_pdf(statement_id: int) -> Any:
    statement = get_statement(session(), statement_id)
    return Response(
        statement_pdf(statement),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{_name(statement)}.pdf"'},
    )


@bp.get("/settlements/<id:statement_id>/csv")
@login_required(*FINANCE)
def statement_download_csv(statement_id: int) -> Any:
    statement = get_statement(session(), statement_id)
    return Response(
        statement.csv,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_name(statement)}.csv"'},
    )


def _report_month() -> tuple[Any, str | None]:
    today = business_today()
    text = request.args.get("period", "") or f"{today:%Y-%m}"
    try:
        return parse_period(text), None
    except DomainError as error:
        return billing_period(today), error_text(error.message)


@bp.get("/revenue-recognition")
@login_required(*FINANCE)
def revenue_recognition() -> Any:
    month, error = _report_month()
    if error:
        flash(_("The report was not made: %(error)s.", error=error), "error")
        return render_template(
            "settlement/revenue.html", report=None, period=request.args.get("period", "")
        ), 422
    return render_template(
        "settlement/revenue.html",
        report=revenue_report(session(), month),
        period=f"{month.start:%Y-%m}",
    )


@bp.get("/revenue-recognition.csv")
@login_required(*FINANCE)
def revenue_recognition_csv() -> Any:
    month, error = _report_month()
    if error:
        return Response(error + "\n", status=422, mimetype="text/plain")
    return Response(
        revenue_csv(revenue_report(session(), month)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="revenue-{month.start:%Y-%m}.csv"'},
    )
