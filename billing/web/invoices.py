"""Invoices and credit notes for finance (SPEC 4): the list, one document, its PDF, and what
finance does to it: edit or delete a draft's lines, delete or issue a draft, credit an issued
invoice. The services check that the user acts for the invoice's issuer; a refusal is a message on
the page with the service's status (403 for another party's invoice, 409 for an issued one)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired, InputRequired, Optional

from billing.errors import InvalidRequestError
from billing.extensions import now, session
from billing.invoicing.document import PartyDetails
from billing.invoicing.issuing import (
    Pricing,
    credited_so_far,
    delete_draft,
    delete_draft_line,
    edit_draft_line,
    issue_date_for,
    price_invoice,
    stored_details,
)
from billing.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from billing.invoicing.queries import (
    INVOICE_DEFAULT_SORT,
    INVOICE_SORTS,
    InvoiceFilters,
    credit_notes_of,
    disputes_of,
    get_invoice,
    invoice_listing,
    invoice_pdf,
)
from billing.invoicing.rendering import render_in_process
from billing.invoicing.services import flag_dispute, resolve_dispute
from billing.invoicing.splits import split_steps, split_totals
from billing.parties.customers import list_customers
from billing.parties.queries import list_parties
from billing.payments.issuing import credit_invoice, issue_invoice
from billing.payments.queries import credit_for_invoice, payments_of_invoice
from billing.web.auth import login_required, staff
from billing.web.forms import (
    ActionForm,
    DecimalNumberField,
    TextAreaField,
    TextField,
    saving,
)
from billing.web.frame import id_arg, list_args, paginate, seller

bp = Blueprint("invoices", __name__, url_prefix="/finance")

FINANCE = ("admin", "finance")
STATUSES = tuple(s.value for s in InvoiceStatus)
KINDS = ("invoice", "credit_note")
PERIOD = re.compile(r"(\d{4})-(\d{2})")
AMOUNT_PLACES, AMOUNT_DIGITS = 2, 16  # the invoice columns: NUMERIC(16, 2)
DESCRIPTION_LENGTH = 500
REASON_LENGTH = 1000


class LineForm(FlaskForm):  # type: ignore[misc]
    """A draft line's wording and amount (in the currency of the service's prices), and why."""

    description = TextField(
        "Description", validators=[DataRequired()], max_length=DESCRIPTION_LENGTH
    )
    amount = DecimalNumberField(
        "Amount",
        validators=[InputRequired()],
        places=AMOUNT_PLACES,
        max_digits=AMOUNT_DIGITS,
    )
    note = TextField(
        "Reason for the change", validators=[DataRequired("say why")], max_length=REASON_LENGTH
    )


class CreditForm(FlaskForm):  # type: ignore[misc]
    """A credit note: what is left of the whole invoice, or an amount of each line (the fields
    `line_<id>` are added per invoice by credit_form)."""

    scope = SelectField(
        "Credit (whole: what is left of every line; lines: the amounts below)",
        choices=["whole", "lines"],
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Give the reason for the credit.")],
        max_length=REASON_LENGTH,
    )


class DisputeForm(FlaskForm):  # type: ignore[misc]
    """Flag an issued invoice as disputed: it is withheld from settlement until resolved."""

    reason = TextAreaField(
        "Why it is disputed",
        validators=[DataRequired("Give the reason for the dispute.")],
        max_length=REASON_LENGTH,
    )


class ResolveForm(FlaskForm):  # type: ignore[misc]
    resolution = TextAreaField(
        "How it was resolved",
        validators=[DataRequired("Say how the dispute was resolved.")],
        max_length=REASON_LENGTH,
    )


def credit_form(invoice: Invoice, formdata: Any = ...) -> CreditForm:
    fields = {
        f"line_{line.id}": DecimalNumberField(
            f"Line {line.position} ({line.circuit_id or 'no circuit'})",
            validators=[Optional()],
            places=AMOUNT_PLACES,
            max_digits=AMOUNT_DIGITS,
            minimum=Decimal("0.01"),
        )
        for line in invoice.lines
    }
    form_class = type("InvoiceCreditForm", (CreditForm,), fields)
    if formdata is ...:
        return form_class()  # type: ignore[no-any-return]
    return form_class(formdata=formdata)  # type: ignore[no-any-return]


def line_form(line: InvoiceLine, formdata: Any = None) -> LineForm:
    return LineForm(
        formdata=formdata,
        prefix=f"line-{line.id}",
        description=line.description,
        amount=line.price_amount,
    )


# --- The list ---


@bp.get("/invoices")
@login_required(*FINANCE)
def invoices() -> Any:
    filters, keep = _filters()
    args = list_args(INVOICE_SORTS, INVOICE_DEFAULT_SORT)
    filters = InvoiceFilters(
        q=args.q,
        issuer_party_id=filters.issuer_party_id,
        customer_id=filters.customer_id,
        status=filters.status,
        kind=filters.kind,
        period_start=filters.period_start,
        overdue_on=filters.overdue_on,
        disputed=filters.disputed,
    )
    today = issue_date_for(staff().party, now())
    return render_template(
        "invoicing/invoices.html",
        page=paginate(invoice_listing(filters, args.sort)),
        args=args,
        keep=keep,
        parties=list_parties(session()),
        customers=list_customers(session()),
        statuses=STATUSES,
        kinds=KINDS,
        today=today,
    )


def _filters() -> tuple[InvoiceFilters, dict[str, Any]]:
    """The list's filters from the query string; a value that is none of the choices is dropped
    with a message."""
    keep: dict[str, Any] = {}
    parties = {p.code: p.id for p in list_parties(session())}
    issuer = request.args.get("issuer", "")
    if issuer and issuer not in parties:
        flash("The issuer filter was ignored: no such issuer.", "error")
        issuer = ""
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        flash("The status filter was ignored: no such status.", "error")
        status = ""
    kind = request.args.get("kind", "")
    if kind and kind not in KINDS:
        flash("The kind filter was ignored: an invoice or a credit note.", "error")
        kind = ""
    period_text = request.args.get("period", "").strip()
    period = _period(period_text) if period_text else None
    if period_text and period is None:
        flash("The period filter was ignored: write the month as YYYY-MM.", "error")
        period_text = ""
    customer_id = id_arg("customer_id")
    if request.args.get("customer_id") and customer_id is None:
        flash("The customer filter was ignored: no such customer.", "error")
    overdue = request.args.get("overdue", "") == "1"
    disputed = request.args.get("disputed", "") == "1"
    keep = {
        "issuer": issuer,
        "customer_id": customer_id,
        "status": status,
        "kind": kind,
        "period": period_text,
        "overdue": "1" if overdue else "",
        "disputed": "1" if disputed else "",
    }
    filters = InvoiceFilters(
        issuer_party_id=parties.get(issuer),
        customer_id=customer_id,
        status=status,
        kind=kind,
        period_start=period,
        overdue_on=issue_date_for(staff().party, now()) if overdue else None,
        disputed=disputed,
    )
    return filters, keep


def _period(text: str) -> date | None:
    match = PERIOD.fullmatch(text)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1:
        return None
    return date(year, month, 1)


# --- One invoice ---


def _page(
    invoice_id: int,
    status: int = 200,
    *,
    credit: CreditForm | None = None,
    dispute: DisputeForm | None = None,
    resolve: ResolveForm | None = None,
    edited: LineForm | None = None,
    edited_line: int | None = None,
) -> Any:
    invoice = get_invoice(session(), invoice_id)
    at = now()
    today = issue_date_for(invoice.issuer, at)
    pricing: Pricing | None = None
    not_ready = ""
    if invoice.is_draft:
        try:
            pricing = price_invoice(session(), invoice, today)
        except InvalidRequestError as error:
            not_ready = error.message
    estimates = {p.line.id: p.amount for p in pricing.lines} if pricing else {}
    line_forms = {
        line.id: edited if edited is not None and line.id == edited_line else line_form(line)
        for line in invoice.lines
    }
    issuer, customer = _parties(invoice)
    done = {} if invoice.is_draft else credited_so_far(session(), invoice)
    left = {
        line.id: (line.amount or Decimal(0)) - done.get(line.id, Decimal(0))
        for line in invoice.lines
    }
    credited = {line.id: done.get(line.id, Decimal(0)) for line in invoice.lines} if done else {}
    return render_template(
        "invoicing/invoice.html",
        invoice=invoice,
        issuer=issuer,
        customer=customer,
        pricing=pricing,
        estimates=estimates,
        not_ready=not_ready,
        may_act=seller().may_sell_for(invoice.issuer_party_id),
        line_forms=line_forms,
        credit=credit or credit_form(invoice, formdata=None),
        credited=credited,
        left=left,
        credit_notes=credit_notes_of(session(), invoice.id),
        split_totals=split_totals(invoice),
        split_steps=split_steps(session(), invoice),
        disputes=disputes_of(session(), invoice.id),
        dispute=dispute or DisputeForm(formdata=None),
        resolve=resolve or ResolveForm(formdata=None),
        action_form=ActionForm(),
        today=today,
        payments=[] if invoice.is_draft else payments_of_invoice(session(), invoice.id),
        credit_available=None if invoice.is_draft else credit_for_invoice(session(), invoice),
    ), status


def _parties(invoice: Invoice) -> tuple[PartyDetails, PartyDetails]:
    """Both parties as the issued document froze them; a draft's as they stand today."""
    if invoice.issuer_details and invoice.customer_details:
        return stored_details(invoice.issuer_details), stored_details(invoice.customer_details)
    issuer, customer = invoice.issuer, invoice.customer
    return (
        PartyDetails(
            issuer.legal_name, issuer.address, issuer.country, issuer.tax_id, issuer.bank_details
        ),
        PartyDetails(
            customer.legal_name, customer.billing_address, customer.country, customer.tax_id
        ),
    )


@bp.get("/invoices/<id:invoice_id>")
@login_required(*FINANCE)
def invoice_page(invoice_id: int) -> Any:
    return _page(invoice_id)


@bp.get("/invoices/<id:invoice_id>/pdf")
@login_required(*FINANCE)
def invoice_pdf_download(invoice_id: int) -> Any:
    invoice = get_invoice(session(), invoice_id)
    pdf = invoice_pdf(session(), invoice)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.pdf"'},
    )


def _line_of(invoice_id: int, line_id: int) -> None:
    """A line is acted on through its own invoice's address only."""
    invoice = get_invoice(session(), invoice_id)
    if line_id not in {line.id for line in invoice.lines}:
        abort(404, description=f"Invoice {invoice_id} has no line {line_id}.")


@bp.post("/invoices/<id:invoice_id>/lines/<id:line_id>")
@login_required(*FINANCE)
def edit_line(invoice_id: int, line_id: int) -> Any:
    _line_of(invoice_id, line_id)
    form = LineForm(prefix=f"line-{line_id}")
    if not form.validate():
        return _page(invoice_id, 422, edited=form, edited_line=line_id)
    with saving("The line was not changed", form) as outcome:
        line = edit_draft_line(
            session(),
            line_id,
            description=form.description.data,
            amount=form.amount.data,
            note=form.note.data,
            actor=seller(),
            now=now(),
        )
        position = line.position
    if outcome.refused:
        return _page(invoice_id, outcome.status, edited=form, edited_line=line_id)
    flash(f"Line {position} changed.", "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/lines/<id:line_id>/delete")
@login_required(*FINANCE)
def delete_line(invoice_id: int, line_id: int) -> Any:
    _line_of(invoice_id, line_id)
    if not ActionForm().validate():
        abort(400)
    with saving("The line was not deleted") as outcome:
        left = delete_draft_line(session(), line_id, actor=seller(), now=now())
    if outcome.refused:
        return _page(invoice_id, outcome.status)
    if left is None:
        flash("The line was deleted, and with it the draft, which had no other line.", "success")
        return redirect(url_for("invoices.invoices"))
    flash("The line was deleted; the next billing run bills its charge again.", "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/delete")
@login_required(*FINANCE)
def delete(invoice_id: int) -> Any:
    with saving("The draft was not deleted") as outcome:
        delete_draft(session(), invoice_id, actor=seller(), now=now())
    if outcome.refused:
        return _page(invoice_id, outcome.status)
    flash("The draft was deleted; the next billing run bills its charges again.", "success")
    return redirect(url_for("invoices.invoices"))


@bp.post("/invoices/<id:invoice_id>/issue")
@login_required(*FINANCE)
def issue(invoice_id: int) -> Any:
    with saving("The invoice was not issued") as outcome:
        actor = seller()
        number = issue_invoice(
            session(), invoice_id, actor=actor, now=now(), render=render_in_process
        ).number
    if outcome.refused:
        return _page(invoice_id, outcome.status)
    flash(f"Invoice {number} issued.", "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/credit")
@login_required(*FINANCE)
def credit(invoice_id: int) -> Any:
    invoice = get_invoice(session(), invoice_id)
    form = credit_form(invoice)
    if not form.validate():
        return _page(invoice_id, 422, credit=form)
    amounts: dict[int, Decimal] | None = None
    if form.scope.data == "lines":
        amounts = {
            line.id: form[f"line_{line.id}"].data
            for line in invoice.lines
            if form[f"line_{line.id}"].data is not None
        }
    with saving("The credit note was not issued", form) as outcome:
        number = credit_invoice(
            session(),
            invoice_id,
            amounts=amounts,
            reason=form.reason.data,
            actor=seller(),
            now=now(),
            render=render_in_process,
        ).number
    if outcome.refused:
        return _page(invoice_id, outcome.status, credit=form)
    flash(f"Credit note {number} issued.", "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/dispute")
@login_required(*FINANCE)
def dispute(invoice_id: int) -> Any:
    form = DisputeForm()
    if not form.validate():
        return _page(invoice_id, 422, dispute=form)
    with saving("The invoice was not flagged as disputed", form) as outcome:
        number = flag_dispute(
            session(), invoice_id, reason=form.reason.data, actor=seller(), now=now()
        ).number
    if outcome.refused:
        return _page(invoice_id, outcome.status, dispute=form)
    flash(
        f"Invoice {number} flagged as disputed: withheld from settlement until resolved.", "success"
    )
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/resolve-dispute")
@login_required(*FINANCE)
def resolve(invoice_id: int) -> Any:
    form = ResolveForm()
    if not form.validate():
        return _page(invoice_id, 422, resolve=form)
    with saving("The dispute was not resolved", form) as outcome:
        number = resolve_dispute(
            session(), invoice_id, resolution=form.resolution.data, actor=seller(), now=now()
        ).number
    if outcome.refused:
        return _page(invoice_id, outcome.status, resolve=form)
    flash(f"The dispute of invoice {number} is resolved.", "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))
