"""GET /services: the customer's circuits, their state, prices, spectrum and history; and a
circuit's availability in a month (SPEC 7)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import (
    ChangedPageArgsSchema,
    MoneySchema,
    NoQueryArgsSchema,
    changed_since,
    page_schema,
)
from billing.api.fields import Text
from billing.api.schemas import SERVICE_STATES, ServiceSchema, money_json, service_json
from billing.db import Page, fetch_page
from billing.errors import NotFoundError
from billing.extensions import now, session
from billing.invoicing.sla_credits import month_credit
from billing.reports.sla import billed_on, service_period
from billing.sales.models import Service
from billing.sales.queries import get_service, service_listing
from billing.sla.availability import shown

blp = protected_blueprint("Services", __name__, "Services: the circuits a customer has bought")

CIRCUIT_ID = re.compile(r"[A-Z]{2,4}-[A-Z]{2,4}-[0-9]{1,12}")
ServicePageSchema = page_schema(ServiceSchema, "ServicePage")


class ServiceArgsSchema(ChangedPageArgsSchema):
    state = Text(
        max_length=16,
        validate=validate.OneOf(SERVICE_STATES),
        metadata={"description": "Only services in this state"},
    )


@blp.route("/services")
class Services(MethodView):
    @blp.doc(operationId="listServices")
    @blp.arguments(ServiceArgsSchema, location="query")
    @blp.response(200, ServicePageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid arguments")
    def get(self, args: dict[str, Any]) -> Page[dict[str, Any]]:
        """List your services, newest first; optionally only those in one state."""
        stmt = service_listing(customer_id=current_key().customer_id)
        if "state" in args:
            stmt = stmt.where(Service.state == args["state"])
        stmt = changed_since(stmt, Service, args)
        at = now()
        page = fetch_page(session(), stmt, args["page"], args["per_page"])
        return page.map(lambda service: service_json(service, at))


@blp.route("/services/<circuit_id>")
class ServiceView(MethodView):
    @blp.doc(operationId="getService")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, ServiceSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such service of yours")
    def get(self, circuit_id: str) -> dict[str, Any]:
        """One of your services: its state, dates, prices, spectrum and history."""
        if not CIRCUIT_ID.fullmatch(circuit_id):
            raise NotFoundError(f"no service {circuit_id}")
        service = get_service(session(), circuit_id, customer_id=current_key().customer_id)
        return service_json(service, now())


class AvailabilityArgsSchema(Schema):
    period = Text(
        max_length=7,
        metadata={
            # No example: the docs' "Try it out" would send it on any day.
            "description": "The month (YYYY-MM, e.g. 2026-11) of the issuer's calendar; by "
            "default the month running now. From the contract's month to the current one",
            "pattern": r"^[0-9]{4}-[0-9]{2}$",
        },
    )


class ServiceAvailabilitySchema(Schema):
    period = fields.String(
        required=True, metadata={"description": "The month, YYYY-MM", "example": "2026-11"}
    )
    minutes = fields.Integer(
        required=True,
        metadata={
            "description": "The service's active minutes of the month (of its issuer's local "
            "month; for the month running now, up to now)"
        },
    )
    down_minutes = fields.Integer(
        required=True,
        metadata={
            "description": "Minutes its path was down (a protected service: both routes at once)"
        },
    )
    availability = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Availability in percent, a decimal string truncated to 4 decimals "
            "(the credit tier is decided on the exact figure); null when the service was not "
            "active in the month",
            "pattern": r"^[0-9]{1,3}\.[0-9]{4}$",
            "example": "99.4982",
        },
    )
    availability_shown = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "As invoices print it: truncated to 2 decimals (99.4996 reads 99.49)",
            "pattern": r"^[0-9]{1,3}\.[0-9]{2}$",
            "example": "99.49",
        },
    )
    target = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The availability promised in percent; null without a policy",
            "example": "99.5",
        },
    )
    credit = fields.Nested(
        MoneySchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "The credit (a negative amount) as billed, or as the next run bills "
            "it for a closed month, or as it stands so far; null when none is earned"
        },
    )
    credit_billed_on = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The number of the invoice that carries the credit, or null"},
    )
    closed = fields.Boolean(
        required=True,
        metadata={"description": "Whether the month has ended in the issuer's calendar"},
    )


def _four_places(value: Decimal | None) -> str | None:
    return None if value is None else str(shown(value, 4))


@blp.route("/services/<circuit_id>/availability")
class ServiceAvailabilityView(MethodView):
    @blp.doc(operationId="getServiceAvailability")
    @blp.arguments(AvailabilityArgsSchema, location="query")
    @blp.response(200, ServiceAvailabilitySchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such service of yours")
    @blp.alt_response(
        422,
        schema="Error",
        description="A period that is not YYYY-MM, before the contract's month or after the "
        "current month",
    )
    def get(self, args: dict[str, Any], circuit_id: str) -> dict[str, Any]:
        """One of your services' availability in a month, and the SLA credit it earns."""
        if not CIRCUIT_ID.fullmatch(circuit_id):
            raise NotFoundError(f"no service {circuit_id}")
        service = get_service(session(), circuit_id, customer_id=current_key().customer_id)
        at = now()
        period = service_period(service, args.get("period"), at)
        credit = month_credit(session(), service, period, at)
        month = credit.month
        return {
            "period": f"{period.start:%Y-%m}",
            "minutes": month.minutes,
            "down_minutes": month.down_minutes,
            "availability": _four_places(month.availability),
            "availability_shown": None
            if month.availability is None
            else str(shown(month.availability)),
            "target": None if month.target is None else f"{month.target.normalize():f}",
            "credit": money_json(credit.credit),
            "credit_billed_on": billed_on(credit),
            "closed": month.closed,
        }
