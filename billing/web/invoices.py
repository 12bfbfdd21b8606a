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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from billing.errors import DomainError, InvalidRequestError
from billing.extensions import database, now, session
from billing.invoicing.bulk import (
    estimate_drafts,
    get_bulk_issue,
    request_bulk_issue,
    selected_drafts,
    totals_by_currency,
)
from billing.invoicing.document import PartyDetails
from billing.invoicing.einvoice import einvoice_data
from billing.invoicing.issuing import (
    OneOffLine,
    Pricing,
    add_draft_line,
    credited_so_far,
    delete_draft,
    delete_draft_line,
    draft_preview,
    edit_draft_line,
    expected_due_date,
    is_one_off,
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
    invoices_with_ids,
)
from billing.invoicing.rendering import render_in_process, render_invoice
from billing.invoicing.services import (
    LEGAL_REFERENCE_LENGTH,
    flag_dispute,
    resolve_dispute,
    set_legal_reference,
)
from billing.invoicing.splits import split_steps, split_totals
from billing.invoicing.ubl import MEDIA_TYPE as UBL_MEDIA_TYPE
from billing.invoicing.ubl import ubl_filename, ubl_xml
from billing.jobs.issuing import defer_bulk_issue
from billing.mail.documents import email_document_again
from billing.mail.services import mails_for_document
from billing.parties.customers import list_customers
from billing.parties.queries import list_parties
from billing.payments.issuing import credit_invoice, issue_invoice
from billing.payments.queries import credit_for_invoice, payments_of_invoice
from billing.reminders.queries import reminders_of
from billing.reports.history import invoice_history
from billing.sales.queries import customer_contracts
from billing.validation import INT_MAX, InvalidValueError, parse_integer
from billing.web.auth import login_required, staff
from billing.web.forms import (
    ActionForm,
    DecimalNumberField,
    TextAreaField,
    TextField,
    saving,
)
from billing.web.frame import (
    amount_cell,
    csv_download,
    every_row,
    id_arg,
    list_args,
    paginate,
    seller,
    wants_csv,
)
from billing.web.language import error_text

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
        _l("Description"), validators=[DataRequired()], max_length=DESCRIPTION_LENGTH
    )
    amount = DecimalNumberField(
        _l("Amount"),
        validators=[InputRequired()],
        places=AMOUNT_PLACES,
        max_digits=AMOUNT_DIGITS,
    )
    note = TextField(
        _l("Reason for the change"),
        validators=[DataRequired(_l("say why"))],
        max_length=REASON_LENGTH,
    )


QUANTITY_PLACES, QUANTITY_DIGITS = 3, 12  # invoice_lines.quantity: NUMERIC(12, 3)
NO_SERVICE = 0


class OneOffLineForm(FlaskForm):  # type: ignore[misc]
    """A one-off line on a draft, in the invoice currency, with the reason it is added; the
    service choices (its spectrum decides the split) are set per draft by one_off_form."""

    description = TextField(
        _l("Description"), validators=[DataRequired()], max_length=DESCRIPTION_LENGTH
    )
    quantity = DecimalNumberField(
        _l("Quantity"),
        validators=[InputRequired()],
        places=QUANTITY_PLACES,
        max_digits=QUANTITY_DIGITS,
        minimum=Decimal("0.001"),
        default=Decimal(1),
    )
    unit_price = DecimalNumberField(
        _l("Unit price"),
        validators=[InputRequired()],
        places=AMOUNT_PLACES,
        max_digits=AMOUNT_DIGITS,
        minimum=Decimal("0.01"),
    )
    service_id = SelectField(
        _l("Service it belongs to (its route decides the split; none: kept whole by the issuer)"),
        coerce=int,
        default=NO_SERVICE,
    )
    reason = TextField(
        _l("Reason for adding it"),
        validators=[DataRequired(_l("say why the line is added"))],
        max_length=REASON_LENGTH,
    )


def one_off_form(invoice: Invoice, formdata: Any = None) -> OneOffLineForm:
    form = OneOffLineForm(formdata=formdata, prefix="one-off")
    services = [
        (
            service.id,
            _(
                "%(circuit)s (contract %(number)s)",
                circuit=service.circuit_id,
                number=contract.number,
            ),
        )
        for contract in customer_contracts(session(), invoice.customer_id)
        if contract.party_id == invoice.issuer_party_id
        for service in contract.services
    ]
    form.service_id.choices = [(NO_SERVICE, _("none: kept whole by the issuer")), *services]
    return form


class CreditForm(FlaskForm):  # type: ignore[misc]
    """A credit note: what is left of the whole invoice, or an amount of each line (the fields
    `line_<id>` are added per invoice by credit_form)."""

    scope = SelectField(
        _l("Credit (whole: what is left of every line; lines: the amounts below)"),
        choices=[SelectChoice("whole", _l("whole")), SelectChoice("lines", _l("lines"))],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Give the reason for the credit."))],
        max_length=REASON_LENGTH,
    )


class DisputeForm(FlaskForm):  # type: ignore[misc]
    """Flag an issued invoice as disputed: it is withheld from settlement until resolved."""

    reason = TextAreaField(
        _l("Why it is disputed"),
        validators=[DataRequired(_l("Give the reason for the dispute."))],
        max_length=REASON_LENGTH,
    )


LEGAL_STATUS_CHOICES = [
    SelectChoice("not_submitted", _l("Not submitted")),
    SelectChoice("submitted", _l("Submitted, awaiting the authority")),
    SelectChoice("accepted", _l("Accepted: legal number assigned")),
    SelectChoice("rejected", _l("Rejected by the authority")),
]


class LegalReferenceForm(FlaskForm):  # type: ignore[misc]
    """The number the tax authority's clearance system (EVHF/e-Qaimə, IS ESF) gave the document,
    entered by hand until a connector exists (SPEC 14)."""

    reference = TextField(
        _l("Legal invoice reference"), validators=[Optional()], max_length=LEGAL_REFERENCE_LENGTH
    )
    status = SelectField(_l("Status"), choices=LEGAL_STATUS_CHOICES)


def legal_reference_form(invoice: Invoice) -> LegalReferenceForm:
    return LegalReferenceForm(
        formdata=None,
        reference=invoice.legal_reference,
        status=invoice.legal_reference_status,
    )


class ResolveForm(FlaskForm):  # type: ignore[misc]
    resolution = TextAreaField(
        _l("How it was resolved"),
        validators=[DataRequired(_l("Say how the dispute was resolved."))],
        max_length=REASON_LENGTH,
    )


def credit_form(invoice: Invoice, formdata: Any = ...) -> CreditForm:
    fields = {
        f"line_{line.id}": DecimalNumberField(
            _(
                "Line %(position)s (%(circuit)s)",
                position=line.position,
                circuit=line.circuit_id or _("no circuit"),
            ),
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
    if wants_csv():
        return _invoices_csv(every_row(invoice_listing(filters, args.sort)), today)
    page = paginate(invoice_listing(filters, args.sort))
    # Drafts show what they would come to if issued now; a list of drafts totals them per
    # currency (the first ESTIMATE_LIMIT of them) and lets finance select some to issue.
    estimates = estimate_drafts(session(), page.items, now())
    drafts_only = keep["status"] == InvoiceStatus.DRAFT.value
    filtered_totals: list[Any] = []
    unpriced = 0
    estimated_all = True
    if drafts_only:
        listed = list(
            session()
            .execute(invoice_listing(filters, args.sort).limit(ESTIMATE_LIMIT + 1))
            .scalars()
        )
        estimated_all = len(listed) <= ESTIMATE_LIMIT
        every = estimate_drafts(session(), listed[:ESTIMATE_LIMIT], now())
        filtered_totals = totals_by_currency(every.values())
        unpriced = sum(1 for e in every.values() if e.pricing is None)
    return render_template(
        "invoicing/invoices.html",
        page=page,
        estimates=estimates,
        expected_dues={inv.id: expected_due_date(inv, now()) for inv in page.items if inv.is_draft},
        drafts_only=drafts_only,
        filtered_totals=filtered_totals,
        unpriced=unpriced,
        estimated_all=estimated_all,
        estimate_limit=ESTIMATE_LIMIT,
        select_all=request.args.get("select") == "page",
        action_form=ActionForm(),
        args=args,
        keep=keep,
        parties=list_parties(session()),
        customers=list_customers(session()),
        statuses=STATUSES,
        kinds=KINDS,
        today=today,
    )


def _invoices_csv(rows: list[Invoice], today: date) -> Any:
    header = (
        "number", "kind", "customer", "issuer", "period", "issue_date", "due_date",
        "currency", "total", "amount_due", "status", "overdue", "disputed",
    )  # fmt: skip
    return csv_download(
        "invoices",
        header,
        (
            (
                inv.number or "",
                "credit note" if inv.is_credit_note else "invoice",
                inv.customer.legal_name,
                inv.issuer.code,
                inv.period_start.strftime("%Y-%m"),
                inv.issue_date.isoformat() if inv.issue_date else "",
                inv.due_date.isoformat() if inv.due_date else "",
                inv.currency,
                None if inv.is_draft else amount_cell(inv.total, inv.currency),
                amount_cell(inv.amount_due, inv.currency),
                inv.status.replace("_", " "),
                "yes" if inv.is_overdue(today) else "no",
                "yes" if inv.disputed_at else "no",
            )
            for inv in rows
        ),
    )


# --- Issuing several drafts at once ---

ESTIMATE_LIMIT = 500  # drafts a list's per-currency estimate covers at most


def _selected_ids() -> list[int] | None:
    """The ids ticked on the list (None when one is not an id)."""
    try:
        return [
            parse_integer(value, minimum=1, maximum=INT_MAX)
            for value in request.form.getlist("invoice_id")
        ]
    except InvalidValueError:
        return None


def _back_to_drafts() -> Any:
    return redirect(url_for("invoices.invoices", status=InvoiceStatus.DRAFT.value))


@bp.post("/invoices/issue-selected")
@login_required(*FINANCE)
def issue_selected() -> Any:
    """The question before a bulk issue: how many invoices, for how much, and which drafts cannot
    be issued now (they are reported by the issue, not left out silently)."""
    if not ActionForm().validate():
        abort(400)
    ids = _selected_ids()
    if ids is None:
        flash(_("Nothing was issued: the selection was not understood."), "error")
        return _back_to_drafts()
    try:
        drafts = selected_drafts(session(), ids, seller())
    except DomainError as error:
        flash(_("Nothing was issued: %(problem)s.", problem=error_text(error.message)), "error")
        return _back_to_drafts()
    estimates = estimate_drafts(session(), drafts, now())
    totals = totals_by_currency(estimates.values())
    return render_template(
        "invoicing/bulk_issue_confirm.html",
        drafts=drafts,
        estimates=estimates,
        totals=totals,
        ready=sum(1 for e in estimates.values() if e.pricing is not None),
        action_form=ActionForm(),
    )


@bp.post("/invoices/issue-selected/confirm")
@login_required(*FINANCE)
def issue_selected_confirmed() -> Any:
    if not ActionForm().validate():
        abort(400)
    ids = _selected_ids()
    if ids is None:
        flash(_("Nothing was issued: the selection was not understood."), "error")
        return _back_to_drafts()
    with saving("Nothing was issued") as outcome:
        bulk = request_bulk_issue(session(), ids, actor=seller(), now=now())
        bulk_id = bulk.id
        defer_bulk_issue(session(), bulk_id)
    if outcome.refused:
        return _back_to_drafts()
    return redirect(url_for("invoices.bulk_issue_page", bulk_id=bulk_id))


@bp.get("/bulk-issues/<id:bulk_id>")
@login_required(*FINANCE)
def bulk_issue_page(bulk_id: int) -> Any:
    bulk = get_bulk_issue(session(), bulk_id)
    invoices = invoices_with_ids(session(), bulk.invoice_ids)
    return render_template("invoicing/bulk_issue.html", bulk=bulk, invoices=invoices)


def _filters() -> tuple[InvoiceFilters, dict[str, Any]]:
    """The list's filters from the query string; a value that is none of the choices is dropped
    with a message."""
    keep: dict[str, Any] = {}
    parties = {p.code: p.id for p in list_parties(session())}
    issuer = request.args.get("issuer", "")
    if issuer and issuer not in parties:
        flash(_("The issuer filter was ignored: no such issuer."), "error")
        issuer = ""
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        flash(_("The status filter was ignored: no such status."), "error")
        status = ""
    kind = request.args.get("kind", "")
    if kind and kind not in KINDS:
        flash(_("The kind filter was ignored: an invoice or a credit note."), "error")
        kind = ""
    period_text = request.args.get("period", "").strip()
    period = _period(period_text) if period_text else None
    if period_text and period is None:
        flash(_("The period filter was ignored: write the month as YYYY-MM."), "error")
        period_text = ""
    customer_id = id_arg("customer_id")
    if request.args.get("customer_id") and customer_id is None:
        flash(_("The customer filter was ignored: no such customer."), "error")
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
    one_off: OneOffLineForm | None = None,
    legal: LegalReferenceForm | None = None,
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
            not_ready = error_text(error.message)
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
        history=invoice_history(session(), invoice.id, staff().party.time_zone),
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
        legal=legal or legal_reference_form(invoice),
        action_form=ActionForm(),
        today=today,
        expected_due=expected_due_date(invoice, at) if invoice.is_draft else None,
        one_off=one_off
        or (one_off_form(invoice) if invoice.is_draft and not invoice.is_credit_note else None),
        one_off_lines={line.id for line in invoice.lines if is_one_off(line)}
        if not invoice.is_credit_note
        else set(),
        payments=[] if invoice.is_draft else payments_of_invoice(session(), invoice.id),
        credit_available=None if invoice.is_draft else credit_for_invoice(session(), invoice),
        mails=[] if invoice.is_draft else mails_for_document(session(), invoice_id=invoice.id),
        reminders=[] if invoice.is_draft else reminders_of(session(), invoice.id),
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


@bp.get("/invoices/<id:invoice_id>/ubl.xml")
@login_required(*FINANCE)
def invoice_ubl_download(invoice_id: int) -> Any:
    """The issued document as UBL 2.1 (Peppol BIS Billing 3.0 content); a draft has none (404)."""
    invoice = get_invoice(session(), invoice_id)
    if invoice.is_draft:
        abort(404)
    data = einvoice_data(invoice)
    return Response(
        ubl_xml(data),
        mimetype=UBL_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{ubl_filename(data)}"'},
    )


@bp.post("/invoices/<id:invoice_id>/legal-reference")
@login_required(*FINANCE)
def legal_reference(invoice_id: int) -> Any:
    form = LegalReferenceForm()
    if not form.validate():
        return _page(invoice_id, 422, legal=form)
    with saving("The legal reference was not recorded", form) as outcome:
        number = set_legal_reference(
            session(),
            invoice_id,
            reference=form.reference.data or "",
            status=form.status.data,
            actor=seller(),
            now=now(),
        ).number
    if outcome.refused:
        return _page(invoice_id, outcome.status, legal=form)
    flash(_("The legal reference of %(number)s is recorded.", number=number), "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id) + "#legal-reference")


@bp.get("/invoices/<id:invoice_id>/preview.pdf")
@login_required(*FINANCE)
def draft_preview_download(invoice_id: int) -> Any:
    """A draft's PDF as it would be issued now, marked DRAFT and not numbered; never stored."""
    # Priced and written as issuing would, in a unit of work of its own that is rolled back
    # (a GET's session reads without a transaction to hold the preview's savepoint).
    try:
        # Closing the session without a unit of work rolls its work back.
        with database().session(write=True) as work:
            document = draft_preview(work, invoice_id, now=now())
    except DomainError as error:
        flash(_("No preview: %(problem)s.", problem=error_text(error.message)), "error")
        return _page(invoice_id, error.status)
    return Response(
        render_invoice(document),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="draft-{invoice_id}-preview.pdf"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/invoices/<id:invoice_id>/lines")
@login_required(*FINANCE)
def add_line(invoice_id: int) -> Any:
    invoice = get_invoice(session(), invoice_id)
    form = one_off_form(invoice, formdata=request.form)
    if not form.validate():
        return _page(invoice_id, 422, one_off=form)
    with saving("The line was not added", form) as outcome:
        added = add_draft_line(
            session(),
            invoice_id,
            OneOffLine(
                description=form.description.data,
                quantity=form.quantity.data,
                unit_price=form.unit_price.data,
                service_id=form.service_id.data or None,
                reason=form.reason.data,
            ),
            actor=seller(),
            now=now(),
        )
        position, line_id = added.position, added.id
    if outcome.refused:
        return _page(invoice_id, outcome.status, one_off=form)
    flash(_("Line %(position)s added.", position=position), "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id) + f"#line-{line_id}")


def _line_of(invoice_id: int, line_id: int) -> None:
    """A line is acted on through its own invoice's address only."""
    invoice = get_invoice(session(), invoice_id)
    if line_id not in {line.id for line in invoice.lines}:
        abort(
            404,
            description=_(
                "Invoice %(invoice)s has no line %(line)s.", invoice=invoice_id, line=line_id
            ),
        )


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
    flash(_("Line %(position)s changed.", position=position), "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/lines/<id:line_id>/delete")
@login_required(*FINANCE)
def delete_line(invoice_id: int, line_id: int) -> Any:
    _line_of(invoice_id, line_id)
    if not ActionForm().validate():
        abort(400)
    one_off = any(
        is_one_off(line) for line in get_invoice(session(), invoice_id).lines if line.id == line_id
    )
    with saving("The line was not deleted") as outcome:
        left = delete_draft_line(session(), line_id, actor=seller(), now=now())
    if outcome.refused:
        return _page(invoice_id, outcome.status)
    if left is None:
        flash(_("The line was deleted, and with it the draft, which had no other line."), "success")
        return redirect(url_for("invoices.invoices"))
    flash(
        _("The one-off line was deleted.")
        if one_off
        else _("The line was deleted; the next billing run bills its charge again."),
        "success",
    )
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/delete")
@login_required(*FINANCE)
def delete(invoice_id: int) -> Any:
    with saving("The draft was not deleted") as outcome:
        delete_draft(session(), invoice_id, actor=seller(), now=now())
    if outcome.refused:
        return _page(invoice_id, outcome.status)
    flash(_("The draft was deleted; the next billing run bills its charges again."), "success")
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
    flash(_("Invoice %(number)s issued.", number=number), "success")
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
    flash(_("Credit note %(number)s issued.", number=number), "success")
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
        _(
            "Invoice %(number)s flagged as disputed: withheld from settlement until resolved.",
            number=number,
        ),
        "success",
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
    flash(_("The dispute of invoice %(number)s is resolved.", number=number), "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<id:invoice_id>/email")
@login_required(*FINANCE)
def email_again(invoice_id: int) -> Any:
    """Email an issued document again (SPEC 13's resend), to its customer's contacts as they are
    now; the new mail joins the delivery log."""
    if not ActionForm().validate():
        abort(400)
    with saving("The document was not emailed") as outcome:
        email_document_again(session(), invoice_id, editor=seller(), now=now())
    if outcome.refused:
        return _page(invoice_id, outcome.status)
    flash(_("The document is queued to be emailed; its delivery shows below."), "success")
    return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id) + "#delivery")
