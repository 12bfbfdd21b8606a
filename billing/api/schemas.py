"""Schemas and their JSON that more than one resource answers with: charges, spectrum, services.

Resource modules import these (and common, auth, idempotency); never each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields

from billing.api.common import API_PREFIX, MoneySchema, thz_text
from billing.inventory.models import Allocation, AllocationState
from billing.money import Money
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
    protection = fields.String(required=True)
    model = fields.String(required=True)
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
