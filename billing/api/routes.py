"""GET /routes: the routes across the sea, their segments and fiber pairs."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from billing.api.auth import protected_blueprint
from billing.api.common import PageArgsSchema, page_schema
from billing.db import Page, fetch_page
from billing.extensions import session
from billing.inventory.models import Route
from billing.inventory.queries import route_listing

blp = protected_blueprint("Routes", __name__, "The cable system: routes, segments, fiber pairs")


class StationSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    country = fields.String(required=True)


class SegmentSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    a_station = fields.Nested(StationSchema, required=True)
    b_station = fields.Nested(StationSchema, required=True)
    # Sent as a string, so the schema must say so (apispec documents every Decimal as a number).
    length_km = fields.Decimal(required=True, as_string=True, metadata={"type": "string"})
    fiber_pairs = fields.Method("_pairs", required=True, metadata={"type": "integer"})
    slot_count = fields.Method("_slots", required=True, metadata={"type": "integer"})

    def _pairs(self, seg: Any) -> int:
        return len(seg.fiber_pairs)

    def _slots(self, seg: Any) -> int:
        return seg.fiber_pairs[0].slot_count if seg.fiber_pairs else 0


class RouteSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    protection_route = fields.Method(
        "_twin", required=True, allow_none=True, metadata={"type": "string"}
    )
    length_km = fields.Method("_length", required=True, metadata={"type": "string"})
    segments = fields.List(fields.Nested(SegmentSchema), required=True)

    def _twin(self, route: Any) -> str | None:
        return route.protection_route.code if route.protection_route else None

    def _length(self, route: Any) -> str:
        return str(sum(s.length_km for s in route.segments))


RoutePageSchema = page_schema(RouteSchema, "RoutePage")


@blp.route("/routes")
class Routes(MethodView):
    @blp.doc(operationId="listRoutes")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, RoutePageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid paging arguments")
    def get(self, args: dict[str, int]) -> Page[Route]:
        """List the routes a service can ride, with their segments."""
        return fetch_page(session(), route_listing(), args["page"], args["per_page"])
