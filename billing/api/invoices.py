"""GET /invoices[/{number}[/pdf]]: the customer's issued invoices and credit notes (SPEC 9).

Drafts are finance's work in progress: they are never shown, listed or found here; nor is an
issued document whose PDF is still being prepared (SPEC 12: it appears once its stored PDF
exists). An issued document is frozen (SPEC 4), so these URLs answer GET only; any other method
gets 405 with Allow.
POST /invoices/{number}/payment-session pays what is due by card (SPEC 6; 409 when card payment
is off).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Select, not_
from sqlalchemy.orm import selectinload

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import (
    ChangedPageArgsSchema,
    IfNoneMatchSchema,
    NoQueryArgsSchema,
    changed_since,
    page_schema,
)
from billing.api.fields import IsoDate, Text
from billing.api.idempotency import REPLAY_HEADERS, IdempotencyKeySchema, idempotent
from billing.api.schemas import (
    INVOICE_KINDS,
    ISSUED_STATUSES,
    InvoiceSchema,
    InvoiceSummarySchema,
    invoice_json,
    invoice_summary_json,
)
from billing.calendar import local_date
from billing.db import Page, fetch_page
from billing.errors import NotFoundError
from billing.extensions import now, session, stripe_client
from billing.invoicing.einvoice import einvoice_data
from billing.invoicing.models import Invoice
from billing.invoicing.queries import (
    InvoiceFilters,
    get_invoice_by_number,
    invoice_listing,
    invoice_pdf,
    overdue_in_issuers_calendars,
    shown_to_customers,
)
from billing.invoicing.ubl import MEDIA_TYPE as UBL_MEDIA_TYPE
from billing.invoicing.ubl import ubl_filename, ubl_xml
from billing.parties.models import Party
from billing.payments.checkout import CheckoutLink, start_checkout

blp = protected_blueprint(
    "Invoices", __name__, "Invoices and credit notes: what you were billed, and their PDFs"
)

INVOICE_NUMBER = re.compile(r"[A-Z0-9]{1,8}-[A-Z]{2,4}-[0-9]{4}-[0-9]{1,12}")
PERIOD = r"^2[0-9]{3}-(0[1-9]|1[0-2])$"  # from 2000, as billing months are
InvoicePageSchema = page_schema(InvoiceSummarySchema, "InvoicePage")
PDF_RESPONSE = {"type": "string", "format": "binary"}
JSON = "application/json"
ETAG_HEADER = {
    "ETag": {
        "description": "The PDF's SHA-256: the same bytes every time",
        "schema": {"type": "string"},
    }
}


class InvoiceArgsSchema(ChangedPageArgsSchema):
    status = Text(
        max_length=16,
        validate=validate.OneOf(ISSUED_STATUSES),
        metadata={"description": "Only documents in this state"},
    )
    kind = Text(
        max_length=12,
        validate=validate.OneOf(INVOICE_KINDS),
        metadata={"description": "Only invoices, or only credit notes"},
    )
    period = Text(
        max_length=7,
        validate=validate.Regexp(PERIOD, error="Write the month as YYYY-MM, e.g. 2026-11."),
        metadata={
            # No example: the docs' "Try it out" would send it, and filter everything away.
            "description": "Only those of this billing month (YYYY-MM, e.g. 2026-11)",
        },
    )
    issued_from = IsoDate(
        metadata={
            "description": "Only those issued on this day or later (the issuer's local date, "
            "YYYY-MM-DD)",
        }
    )
    issued_to = IsoDate(
        metadata={
            "description": "Only those issued on this day or earlier (the issuer's local date, "
            "YYYY-MM-DD)",
        }
    )
    overdue = fields.Boolean(
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "true: only those past due and unpaid; false: only the others"},
    )

    @validates_schema
    def _issue_range(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("issued_from"), data.get("issued_to")
        if start is not None and end is not None and start > end:
            raise ValidationError("must not be before issued_from", "issued_to")


def _today_of(party: Party, at: datetime) -> date:
    return local_date(at, party.time_zone)


def _listing(args: dict[str, Any], customer_id: int, at: datetime) -> Select[Any]:
    period = args.get("period")
    filters = InvoiceFilters(
        customer_id=customer_id,
        status=args.get("status", ""),
        kind=args.get("kind", ""),
        period_start=None if period is None else date(int(period[:4]), int(period[5:]), 1),
    )
    stmt = (
        invoice_listing(filters)
        .where(shown_to_customers())
        .options(selectinload(Invoice.credited_invoice))
    )
    stmt = changed_since(stmt, Invoice, args)
    if "issued_from" in args:
        stmt = stmt.where(Invoice.issue_date >= args["issued_from"])
    if "issued_to" in args:
        stmt = stmt.where(Invoice.issue_date <= args["issued_to"])
    if "overdue" in args:
        overdue = overdue_in_issuers_calendars(session(), at)
        stmt = stmt.where(overdue if args["overdue"] else not_(overdue))
    return stmt


def _issued_of_caller(number: str) -> Invoice:
    """An issued document of the calling customer's; anything else is not found."""
    if not INVOICE_NUMBER.fullmatch(number):
        raise NotFoundError(f"no invoice {number}")
    invoice = get_invoice_by_number(session(), number, customer_id=current_key().customer_id)
    if not invoice.shown_to_customer:
        # Issued, but its PDF is still being prepared (SPEC 12): not shown until it exists.
        raise NotFoundError(f"no invoice {number}")
    return invoice


@blp.route("/invoices")
class Invoices(MethodView):
    @blp.doc(operationId="listInvoices")
    @blp.arguments(InvoiceArgsSchema, location="query")
    @blp.response(200, InvoicePageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid arguments")
    def get(self, args: dict[str, Any]) -> Page[dict[str, Any]]:
        """List your issued invoices and credit notes, newest first."""
        at = now()
        stmt = _listing(args, current_key().customer_id, at)
        page = fetch_page(session(), stmt, args["page"], args["per_page"])
        return page.map(lambda inv: invoice_summary_json(inv, _today_of(inv.issuer, at)))


def _representation() -> str:
    """JSON unless the caller prefers UBL XML (`Accept: application/xml`); 406 when it accepts
    neither. No Accept at all, or */*, is JSON."""
    if "Accept" not in request.headers:
        return JSON
    best = request.accept_mimetypes.best_match([JSON, UBL_MEDIA_TYPE])
    if best is None:
        abort(
            406,
            message=f"this invoice is served as {JSON} or, as UBL 2.1, {UBL_MEDIA_TYPE}",
        )
    return str(best)


@blp.route("/invoices/<number>")
class InvoiceView(MethodView):
    @blp.doc(
        operationId="getInvoice",
        responses={
            "200": {
                "description": "The document as JSON, or as UBL 2.1 XML",
                "content": {
                    JSON: {"schema": {"$ref": "#/components/schemas/Invoice"}},
                    UBL_MEDIA_TYPE: {
                        # No type: readers parse XML into elements, not a JSON type.
                        "schema": {
                            "description": "With Accept: application/xml, the document as UBL "
                            "2.1 (Peppol BIS Billing 3.0 content): an Invoice or a CreditNote",
                        }
                    },
                },
            }
        },
    )
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, InvoiceSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such invoice of yours")
    @blp.alt_response(
        406, schema="Error", description="Accept names neither application/json nor XML"
    )
    def get(self, number: str) -> dict[str, Any] | Response:
        """One of your invoices or credit notes: lines, taxes, totals, dates and the FX rate; as
        UBL 2.1 XML with `Accept: application/xml`."""
        representation = _representation()
        invoice = _issued_of_caller(number)
        if representation == JSON:
            return invoice_json(invoice, _today_of(invoice.issuer, now()))
        data = einvoice_data(invoice)
        response = Response(ubl_xml(data), mimetype=UBL_MEDIA_TYPE)
        response.headers["Content-Disposition"] = f'inline; filename="{ubl_filename(data)}"'
        response.headers["Cache-Control"] = "private, no-cache"
        response.vary.add("Accept")
        return response


@blp.route("/invoices/<number>/pdf")
class InvoicePdf(MethodView):
    @blp.doc(operationId="getInvoicePdf")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(IfNoneMatchSchema, location="headers", as_kwargs=True)
    @blp.response(
        200,
        PDF_RESPONSE,
        content_type="application/pdf",
        description="The PDF as issued, stored once: the same bytes on every download",
        headers=ETAG_HEADER,
    )
    @blp.alt_response(
        304,
        description="Not modified: you hold these bytes (their ETag came in If-None-Match)",
        headers=ETAG_HEADER,
    )
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such invoice of yours")
    def get(self, number: str) -> Response:
        """The PDF of one of your invoices or credit notes, as it was issued."""
        invoice = _issued_of_caller(number)
        pdf = invoice_pdf(session(), invoice)
        response = Response(pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        response.headers["Cache-Control"] = "private, no-cache"
        if invoice.pdf_sha256:
            response.set_etag(invoice.pdf_sha256)
        response.make_conditional(request)
        return response


class PaymentSessionSchema(Schema):
    url = fields.String(
        required=True, metadata={"description": "Stripe's payment page: send the payer there"}
    )
    id = fields.String(required=True, metadata={"description": "The Checkout Session's id"})
    expires_at = fields.DateTime(
        required=True, metadata={"description": "When the payment page stops working"}
    )


def _payment_session(number: str) -> CheckoutLink:
    invoice = _issued_of_caller(number)
    portal = url_for("portal.invoice", number=invoice.number, _external=True)
    return start_checkout(
        stripe_client(), invoice, success_url=f"{portal}?paid=1", cancel_url=portal
    )


@blp.route("/invoices/<number>/payment-session")
class InvoicePaymentSession(MethodView):
    @blp.doc(operationId="createInvoicePaymentSession")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(200, PaymentSessionSchema, headers=REPLAY_HEADERS)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such invoice of yours")
    @blp.alt_response(
        409,
        schema="Error",
        description="Card payment is off, or nothing is due on the invoice; or a request with "
        "this Idempotency-Key is in progress",
    )
    @blp.alt_response(
        422, schema="Error", description="An Idempotency-Key already used for another request"
    )
    def post(self, number: str, idempotency_key: str | None) -> Response:
        """Pay what is due on an issued invoice by card: a Stripe Checkout Session.

        Asking again for the same amount due gives the same session. Send the payer to `url`;
        the invoice shows the payment once Stripe confirms it."""
        return idempotent(
            idempotency_key,
            status=200,
            schema=PaymentSessionSchema(),
            work=lambda: _payment_session(number),
        )
