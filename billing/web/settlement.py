"""Settlement statements and revenue recognition for finance (SPEC 5, 10): the month's
statement built, approved by each party, marked settled; its PDF and CSV; the recognition
report with its CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired

from billing.agreement.queries import parties_in_order
from billing.calendar import billing_period
from billing.errors import DomainError
from billing.extensions import now, session
from billing.invoicing.runs import parse_period
from billing.settlement.document import statement_pdf
from billing.settlement.models import Basis
from billing.settlement.queries import get_statement, list_statements
from billing.settlement.revenue import revenue_csv, revenue_report
from billing.settlement.services import (
    approve_statement,
    build_statement,
    csv_rows,
    mark_settled,
)
from billing.web.auth import login_required, staff
from billing.web.forms import TextField, saving
from billing.web.sales import seller

bp = Blueprint("settlement", __name__, url_prefix="/finance")

FINANCE = ("admin", "finance")


class BuildForm(FlaskForm):  # type: ignore[misc]
    period = TextField("Month (YYYY-MM)", validators=[DataRequired()], max_length=7)
    basis = SelectField("Basis", choices=[b.value for b in Basis])


class ApproveForm(FlaskForm):  # type: ignore[misc]
    party = SelectField("Approve for", choices=[])


class SettleForm(FlaskForm):  # type: ignore[misc]
    payment_reference = TextField("Payment reference", validators=[DataRequired()], max_length=200)


def _approve_form() -> ApproveForm:
    form = ApproveForm()
    user = staff()
    parties = parties_in_order(session())
    if user.role != "admin":
        parties = [p for p in parties if p.id == user.party_id]
    form.party.choices = [p.code for p in parties]
    return form


@bp.route("/settlements", methods=["GET", "POST"])
@login_required(*FINANCE)
def settlements() -> Any:
    form = BuildForm()
    if request.method == "GET" and not form.period.data:
        form.period.data = f"{now():%Y-%m}"
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 422
        else:
            with saving("The statement was not built", form) as outcome:
                statement = build_statement(
                    session(), form.period.data, form.basis.data, actor=seller(), now=now()
                )
                statement_id = statement.id
            if not outcome.refused:
                flash(
                    f"Statement {form.period.data} ({form.basis.data}) built: a draft until "
                    "both parties approve it.",
                    "success",
                )
                return redirect(url_for("settlement.statement_page", statement_id=statement_id))
            status = outcome.status
    return render_template(
        "settlement/statements.html", statements=list_statements(session()), form=form
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
    return render_template(
        "settlement/statement.html",
        s=statement,
        rows=csv_rows(statement.csv),
        approve=approve,
        settle=settle or SettleForm(),
        is_admin=staff().role == "admin",
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
    with saving("The statement was not approved", form) as outcome:
        state = approve_statement(
            session(), statement_id, actor=seller(), now=now(), party_code=form.party.data
        ).state
    if outcome.refused:
        return _statement_page(statement_id, outcome.status, approve=form)
    flash(
        f"Approved for {form.party.data}."
        + (" Both parties have approved: it can be settled." if state == "approved" else ""),
        "success",
    )
    return redirect(url_for("settlement.statement_page", statement_id=statement_id))


@bp.post("/settlements/<id:statement_id>/settle")
@login_required(*FINANCE)
def settle(statement_id: int) -> Any:
    form = SettleForm()
    if not form.validate():
        return _statement_page(statement_id, 422, settle=form)
    with saving("The statement was not marked settled", form) as outcome:
        mark_settled(
            session(), statement_id, form.payment_reference.data, actor=seller(), now=now()
        )
    if outcome.refused:
        return _statement_page(statement_id, outcome.status, settle=form)
    flash("The statement is settled.", "success")
    return redirect(url_for("settlement.statement_page", statement_id=statement_id))


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
    text = request.args.get("period", "") or f"{now():%Y-%m}"
    try:
        return parse_period(text), None
    except DomainError as error:
        return billing_period(now().date()), error.message


@bp.get("/revenue-recognition")
@login_required(*FINANCE)
def revenue_recognition() -> Any:
    month, error = _report_month()
    if error:
        flash(f"The report was not made: {error}.", "error")
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
