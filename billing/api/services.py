"""GET /services: the customer's circuits, their state, prices, spectrum and history."""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView
from marshmallow import validate

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import NoQueryArgsSchema, PageArgsSchema, page_schema
from billing.api.fields import Text
from billing.api.schemas import SERVICE_STATES, ServiceSchema, service_json
from billing.db import Page, fetch_page
from billing.errors import NotFoundError
from billing.extensions import now, session
from billing.sales.models import Service
from billing.sales.queries import get_service, service_listing

blp = protected_blueprint("Services", __name__, "Services: the circuits a customer has bought")

CIRCUIT_ID = re.compile(r"[A-Z]{2,4}-[A-Z]{2,4}-[0-9]{1,12}")
ServicePageSchema = page_schema(ServiceSchema, "ServicePage")


class ServiceArgsSchema(PageArgsSchema):
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
