"""GET /services: the customer's circuits, their state, prices, spectrum and history."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import PageArgsSchema, page_schema, paginate_query, thz_text
from billing.api.products import Charges, ChargesSchema, decimal_text
from billing.errors import NotFoundError
from billing.extensions import now, session
from billing.inventory.models import Allocation, AllocationState
from billing.sales.lifecycle import get_service, service_query
from billing.sales.models import Service, ServiceState

blp = protected_blueprint("api_services", __name__, "Services: the circuits a customer has bought")

CIRCUIT_ID = re.compile(r"[A-Z]{2,4}-[A-Z]{2,4}-[0-9]{1,12}")
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


ServicePageSchema = page_schema(ServiceSchema, "ServicePage")


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
        "prices": Charges.of(
            s.currency, mrc=s.mrc, nrc=s.nrc, iru_fee=s.iru_fee, om_rate_percent=s.om_rate_percent
        ).as_json(),
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


class ServiceArgsSchema(PageArgsSchema):
    state = fields.String(load_default=None, validate=validate.OneOf(SERVICE_STATES))


@blp.route("/services")
class Services(MethodView):
    @blp.arguments(ServiceArgsSchema, location="query")
    @blp.response(200, ServicePageSchema)
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid arguments")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your services, newest first; optionally only those in one state."""
        stmt = service_query(customer_id=current_key().customer_id)
        if args["state"] is not None:
            stmt = stmt.where(Service.state == args["state"])
        page = paginate_query(session(), stmt, args["page"], args["per_page"])
        at = now()
        page["items"] = [service_json(s, at) for s in page["items"]]
        return page


@blp.route("/services/<circuit_id>")
class ServiceView(MethodView):
    @blp.response(200, ServiceSchema)
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such service of yours")
    def get(self, circuit_id: str) -> dict[str, Any]:
        """One of your services: its state, dates, prices, spectrum and history."""
        if not CIRCUIT_ID.fullmatch(circuit_id):
            raise NotFoundError(f"no service {circuit_id}")
        service = get_service(session(), circuit_id, customer_id=current_key().customer_id)
        return service_json(service, now())
