"""Schemas and their JSON that more than one resource answers with: charges, spectrum, services.

Resource modules import these (and common, auth, idempotency); never each other.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from billing.api.common import API_PREFIX, MoneySchema, shared_enum, thz_text
from billing.inventory.models import Allocation, AllocationState
from billing.invoicing.models import LEGAL_REFERENCE_STATUSES, Invoice, InvoiceStatus
from billing.money import Money
from billing.parties.models import INVOICE_LANGUAGES
from billing.sales.models import Contract, Service, ServiceState
from billing.sales.pricing import Charges, unit_charges
from billing.text import decimal_text


class ChargesSchema(Schema):
    """What one unit (or a line, or a quote) costs; null where the model has no such charge."""

    mrc = fields.Nested(
        MoneySchema,
        required=True,
        allow_none=True,
        metadata={"description": "Monthly recurring charge of a lease"},
    )
    nrc = fields.Nested(
        MoneySchema,
        required=True,
        allow_none=True,
        metadata={"description": "One-time installation charge of a lease"},
    )
    iru_fee = fields.Nested(
        MoneySchema, required=True, allow_none=True, metadata={"description": "IRU fee"}
    )
    annual_om = fields.Nested(
        MoneySchema,
        required=True,
        allow_none=True,
        metadata={"description": "Yearly O&M fee of an IRU (O&M rate × IRU fee)"},
    )


def money_json(amount: Money | None) -> dict[str, str] | None:
    return None if amount is None else amount.as_json()


def charges_json(charges: Charges) -> dict[str, Any]:
    return {name: money_json(value) for name, value in charges._asdict().items()}


ALLOCATION_STATES = [s.value for s in AllocationState]
SERVICE_STATES = [s.value for s in ServiceState]


class SpectrumSchema(Schema):
    """The slots one unit occupies on one segment's fiber pair."""

    route = fields.String(required=True)
    segment = fields.String(required=True)
    fiber_pair = fields.Integer(required=True)
    first_slot = fields.Integer(required=True)
    last_slot = fields.Integer(required=True)
    slots = fields.Integer(required=True)
    start_thz = fields.String(required=True)
    end_thz = fields.String(required=True)
    centre_thz = fields.String(required=True)
    state = fields.String(
        required=True,
        metadata={
            "enum": ALLOCATION_STATES,
            "description": "hold (a quote's, until hold_expires_at), allocated, released, expired",
        },
    )
    hold_expires_at = fields.DateTime(required=True, allow_none=True)


def spectrum_json(a: Allocation, at: datetime) -> dict[str, Any]:
    fp = a.fiber_pair
    state = a.state
    if state == AllocationState.HOLD and not a.is_live(at):
        state = AllocationState.EXPIRED.value  # past its expiry: free, whether recorded yet or not
    start, end = fp.slot_start_thz(a.first_slot), fp.slot_start_thz(a.end_slot)
    return {
        "route": fp.segment.route.code,
        "segment": fp.segment.code,
        "fiber_pair": fp.number,
        "first_slot": a.first_slot,
        "last_slot": a.last_slot,
        "slots": a.end_slot - a.first_slot,
        "start_thz": thz_text(start),
        "end_thz": thz_text(end),
        "centre_thz": thz_text((start + end) / 2),
        "state": state,
        "hold_expires_at": a.hold_expires_at if state == AllocationState.HOLD else None,
    }


class ServiceEventSchema(Schema):
    at = fields.DateTime(required=True)
    from_state = fields.String(required=True, allow_none=True)
    to_state = fields.String(required=True)
    effective_date = fields.Date(required=True, allow_none=True)
    note = fields.String(required=True)


class ServiceSchema(Schema):
    circuit_id = fields.String(required=True, metadata={"example": "TCF-WL-000123"})
    state = fields.String(required=True, metadata={"enum": SERVICE_STATES})
    product = fields.String(required=True)
    product_name = fields.String(required=True)
    protection = shared_enum(fields.String(required=True), "Protection")
    model = shared_enum(fields.String(required=True), "Model")
    term_months = fields.Integer(required=True)
    width_ghz = fields.String(required=True)
    contract = fields.String(required=True, metadata={"description": "Contract number"})
    ordered_at = fields.DateTime(required=True)
    ready_for_service_date = fields.Date(
        required=True, allow_none=True, metadata={"description": "Billing starts on this day"}
    )
    end_date = fields.Date(required=True, allow_none=True)
    prices = fields.Nested(ChargesSchema, required=True)
    om_rate_percent = fields.String(required=True, allow_none=True)
    spectrum = fields.List(fields.Nested(SpectrumSchema), required=True)
    history = fields.List(fields.Nested(ServiceEventSchema), required=True)


def service_json(s: Service, at: datetime) -> dict[str, Any]:
    return {
        "circuit_id": s.circuit_id,
        "state": s.state,
        "product": s.product.code,
        "product_name": s.product.name,
        "protection": s.protection,
        "model": s.model,
        "term_months": s.term_months,
        "width_ghz": decimal_text(
            s.reservation.width_slots * s.reservation.allocations[0].fiber_pair.slot_width_ghz
        ),
        "contract": s.contract.number,
        "ordered_at": s.created_at,
        "ready_for_service_date": s.ready_for_service_date,
        "end_date": s.end_date,
        "prices": charges_json(unit_charges(s, s.currency)),
        "om_rate_percent": None if s.om_rate_percent is None else decimal_text(s.om_rate_percent),
        "spectrum": [spectrum_json(a, at) for a in s.reservation.allocations],
        "history": [
            {
                "at": e.at,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "effective_date": e.effective_date,
                "note": e.note,
            }
            for e in s.events
        ],
    }


class ContractSchema(Schema):
    number = fields.String(required=True, metadata={"example": "C-2026-000001"})
    quote_id = fields.Integer(required=True)
    quote_number = fields.String(required=True)
    signed_at = fields.DateTime(required=True)
    purchase_order = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Your purchase-order reference, as given on accept"},
    )
    services = fields.List(fields.Nested(ServiceSchema), required=True)


def contract_json(contract: Contract, at: datetime) -> dict[str, Any]:
    return {
        "number": contract.number,
        "quote_id": contract.quote_id,
        "quote_number": contract.quote.number,
        "signed_at": contract.signed_at,
        "purchase_order": contract.purchase_order,
        "services": [service_json(s, at) for s in contract.services],
    }


def contract_url(body: dict[str, Any]) -> str:
    """Where a contract's JSON answers: the `Location` of the 201 that made it."""
    return f"{API_PREFIX}/contracts/{body['number']}"


# --- Invoices and credit notes ------------------------------------------------------------------

INVOICE_KINDS = ["invoice", "credit_note"]
ISSUED_STATUSES = [s.value for s in InvoiceStatus if s != InvoiceStatus.DRAFT]


class InvoiceLinksSchema(Schema):
    self_ = fields.String(required=True, data_key="self", attribute="self")
    pdf = fields.String(required=True, metadata={"description": "The stored PDF (application/pdf)"})


class InvoiceSummarySchema(Schema):
    """An issued invoice or credit note as a list shows it."""

    number = fields.String(required=True, metadata={"example": "AZT-INV-2026-000001"})
    kind = fields.String(required=True, metadata={"enum": INVOICE_KINDS})
    status = fields.String(required=True, metadata={"enum": ISSUED_STATUSES})
    issuer = fields.String(required=True, metadata={"description": "AZT or KTC"})
    currency = fields.String(required=True)
    period = fields.String(
        required=True, metadata={"description": "The billing month, YYYY-MM", "example": "2026-11"}
    )
    issue_date = fields.Date(required=True)
    due_date = fields.Date(required=True, allow_none=True)
    subtotal = fields.Nested(MoneySchema, required=True)
    tax = fields.Nested(MoneySchema, required=True)
    total = fields.Nested(MoneySchema, required=True)
    amount_due = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "Total less credit notes and payments (0 on a credit note)"},
    )
    overdue = fields.Boolean(required=True, metadata={"description": "Past due and not paid"})
    credited_invoice = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "On a credit note: the number of the invoice it credits"},
    )
    links = fields.Nested(InvoiceLinksSchema, required=True)


class InvoiceLineSchema(Schema):
    position = fields.Integer(required=True)
    circuit_id = fields.String(required=True)
    description = fields.String(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    quantity = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True, metadata={"description": "Before tax"})
    tax_rate_percent = fields.String(required=True, allow_none=True)


class InvoiceTaxSchema(Schema):
    rate_percent = fields.String(required=True, metadata={"example": "18"})
    name = fields.String(required=True)
    base = fields.Nested(MoneySchema, required=True)
    tax = fields.Nested(MoneySchema, required=True)
    legal_notes = fields.String(required=True, metadata={"description": "As printed on the PDF"})


class FxRateUsedSchema(Schema):
    """The rate that turned the prices' currency into the invoice currency."""

    base = fields.String(required=True)
    quote = fields.String(required=True)
    rate = fields.String(required=True)
    rate_date = fields.Date(required=True)
    source = fields.String(required=True)


class BillingContactUsedSchema(Schema):
    name = fields.String(required=True)
    email = fields.String(required=True)


class InvoiceSchema(InvoiceSummarySchema):
    """An issued invoice or credit note: what its PDF says, as data."""

    lines = fields.List(fields.Nested(InvoiceLineSchema), required=True)
    taxes = fields.List(fields.Nested(InvoiceTaxSchema), required=True)
    credited = fields.Nested(
        MoneySchema, required=True, metadata={"description": "Credited by credit notes so far"}
    )
    paid = fields.Nested(MoneySchema, required=True)
    fx_rate = fields.Nested(FxRateUsedSchema, required=True, allow_none=True)
    tax_local = fields.Nested(
        MoneySchema,
        required=True,
        allow_none=True,
        metadata={"description": "The tax in the issuer's own currency, where it differs"},
    )
    purchase_orders = fields.List(fields.String(), required=True)
    payment_terms_days = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "The customer's payment terms in days when it was issued (null: not "
            "recorded on documents issued before terms were)",
            "example": 30,
        },
    )
    contract_numbers = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The contracts its lines bill", "example": ["C-2026-0012"]},
    )
    billing_contact = fields.Nested(
        BillingContactUsedSchema,
        required=True,
        allow_none=True,
        metadata={"description": "The customer's contact receiving invoices when it was issued"},
    )
    account_currency = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The customer's billing currency when it was issued"},
    )
    reason = fields.String(
        required=True, metadata={"description": "On a credit note: why it was issued"}
    )
    pdf_sha256 = fields.String(
        required=True, metadata={"description": "The PDF's SHA-256 (its ETag)"}
    )
    legal_reference = fields.String(
        required=True,
        metadata={
            "description": "The number the issuer's tax authority assigned to it in its national "
            "e-invoice system (Azerbaijan's EVHF/e-Qaimə, Kazakhstan's IS ESF); empty until known",
            "example": "",
        },
    )
    legal_reference_status = fields.String(
        required=True,
        validate=validate.OneOf(LEGAL_REFERENCE_STATUSES),
        metadata={
            "description": "Where its submission to the tax authority stands",
            "example": "not_submitted",
        },
    )
    language = fields.String(
        required=True,
        validate=validate.OneOf(INVOICE_LANGUAGES),
        metadata={
            "description": "The language its PDF prints in beside English (the customer's "
            "invoice language when it was issued); 'en' prints English alone",
            "example": "en",
        },
    )


def invoice_url(number: str) -> str:
    return f"{API_PREFIX}/invoices/{number}"


def invoice_summary_json(invoice: Invoice, today: date) -> dict[str, Any]:
    currency = invoice.currency

    def money(value: Decimal) -> dict[str, str]:
        return Money(value, currency).as_json()

    number = invoice.number or ""
    return {
        "number": number,
        "kind": invoice.kind,
        "status": invoice.status,
        "issuer": invoice.issuer.code,
        "currency": currency,
        "period": f"{invoice.period_start:%Y-%m}",
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "subtotal": money(invoice.subtotal),
        "tax": money(invoice.tax_total),
        "total": money(invoice.total),
        "amount_due": money(invoice.amount_due),
        "overdue": invoice.is_overdue(today),
        "credited_invoice": (
            invoice.credited_invoice.number if invoice.credited_invoice is not None else None
        ),
        "links": {"self": invoice_url(number), "pdf": f"{invoice_url(number)}/pdf"},
    }


def invoice_json(invoice: Invoice, today: date) -> dict[str, Any]:
    currency = invoice.currency

    def money(value: Decimal) -> dict[str, str]:
        return Money(value, currency).as_json()

    fx = None
    if invoice.fx_rate is not None and invoice.fx_base is not None:
        fx = {
            "base": invoice.fx_base,
            "quote": currency,
            "rate": decimal_text(invoice.fx_rate),
            "rate_date": invoice.fx_rate_date,
            "source": invoice.fx_source or "",
        }
    tax_local = None
    if invoice.tax_local is not None and invoice.tax_local_currency is not None:
        tax_local = Money(invoice.tax_local, invoice.tax_local_currency).as_json()
    return {
        **invoice_summary_json(invoice, today),
        "lines": [
            {
                "position": line.position,
                "circuit_id": line.circuit_id,
                "description": line.description,
                "period_start": line.period_start,
                "period_end": line.period_end,
                "quantity": decimal_text(line.quantity),
                "amount": money(line.amount if line.amount is not None else Decimal(0)),
                "tax_rate_percent": (
                    None if line.tax_rate_percent is None else decimal_text(line.tax_rate_percent)
                ),
            }
            for line in invoice.lines
        ],
        "taxes": [
            {
                "rate_percent": decimal_text(tax.rate_percent),
                "name": tax.names,
                "base": money(tax.base),
                "tax": money(tax.tax),
                "legal_notes": tax.legal_notes,
            }
            for tax in invoice.taxes
        ],
        "credited": money(invoice.credited_total),
        "paid": money(invoice.paid_total),
        "fx_rate": fx,
        "tax_local": tax_local,
        "purchase_orders": [po for po in invoice.purchase_orders.splitlines() if po],
        "payment_terms_days": invoice.payment_terms_days,
        "contract_numbers": [n for n in (invoice.contract_numbers or "").splitlines() if n],
        "billing_contact": None
        if invoice.billing_contact_email is None
        else {"name": invoice.billing_contact_name or "", "email": invoice.billing_contact_email},
        "account_currency": invoice.account_currency,
        "reason": invoice.reason,
        "pdf_sha256": invoice.pdf_sha256 or "",
        "legal_reference": invoice.legal_reference,
        "legal_reference_status": invoice.legal_reference_status,
        "language": invoice.language,
    }
