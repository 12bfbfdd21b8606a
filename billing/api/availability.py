"""GET /availability: free spectrum and a first-fit suggestion for a route, protection, product."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields, post_load, validate

from billing.api.auth import AlongsideQuery, protected_blueprint, read_alongside
from billing.api.common import shared_enum, thz_text
from billing.api.fields import DecimalNumber, Text
from billing.extensions import now, session
from billing.inventory.queries import (
    PROTECTIONS,
    Availability,
    PairUsage,
    availability,
    fresh_until,
    path_revision,
    path_revision_of,
    path_revision_select,
)

ROUTE_CODE_MAX = 32


def _revision_query(route: str, protection: str) -> AlongsideQuery:
    return path_revision_select(protection), {"route_code": route}


def _revision_alongside_key() -> AlongsideQuery | None:
    """The path's revision, read in the API key check's own statement, so that a cached answer
    costs one round trip in all. Taken from the raw query string, since the key is checked
    before the arguments; the view uses it only if its checked arguments ask the same."""
    route = request.args.get("route", "")
    if not 1 <= len(route) <= ROUTE_CODE_MAX:
        return None
    return _revision_query(route, request.args.get("protection", "unprotected"))


blp = protected_blueprint(
    "Availability", __name__, "Spectrum availability", alongside=_revision_alongside_key
)


class AvailabilityArgsSchema(Schema):
    route = Text(
        max_length=ROUTE_CODE_MAX,
        required=True,
        validate=validate.Length(min=1),
        metadata={"example": "main"},
    )
    protection = shared_enum(
        Text(max_length=16, load_default="unprotected", validate=validate.OneOf(PROTECTIONS)),
        "Protection",
    )
    product = Text(
        max_length=32,
        required=True,
        validate=validate.Length(min=1),
        metadata={"example": "WL100G"},
    )
    width_ghz = DecimalNumber(
        places=3,
        max_digits=8,
        minimum=Decimal("12.5"),
        maximum=Decimal("4800"),
        load_default=lambda: None,  # absent: the product's own width (not documented as null)
        metadata={
            "description": "Only for a SPECTRUM product (kind `spectrum`), and required there: "
            "the width asked for, a multiple of 12.5 GHz. Other products have a fixed width."
        },
    )


# The conditional GET (SPEC 9's polling clients): documented on the operation.
ETAG_HEADER = {
    "ETag": {
        "description": "Identifies this answer: send it back in If-None-Match",
        "schema": {"type": "string"},
    }
}


class ConditionalHeadersSchema(Schema):
    """Documents If-None-Match; werkzeug's `make_conditional` reads it, so the view takes none."""

    if_none_match = fields.String(
        data_key="If-None-Match",
        metadata={
            "description": "The ETag of an answer you hold: 304 Not Modified while it stands"
        },
    )

    @post_load
    def _read_by_werkzeug(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {}


class FreeRangeSchema(Schema):
    first_slot = fields.Integer(required=True)
    last_slot = fields.Integer(required=True)
    slots = fields.Integer(required=True)
    start_thz = fields.String(required=True)
    end_thz = fields.String(required=True)


class UtilisationSchema(Schema):
    allocated_slots = fields.Integer(required=True)
    held_slots = fields.Integer(required=True)
    free_slots = fields.Integer(required=True)
    allocated_percent = fields.String(required=True)
    held_percent = fields.String(required=True)
    free_percent = fields.String(required=True)


class PairAvailabilitySchema(Schema):
    segment = fields.String(required=True)
    fiber_pair = fields.Integer(required=True)
    slot_count = fields.Integer(required=True)
    free_ranges = fields.List(fields.Nested(FreeRangeSchema), required=True)
    utilisation = fields.Nested(UtilisationSchema, required=True)


class FitSchema(Schema):
    route = fields.String(required=True)
    fiber_pair = fields.Integer(required=True)
    first_slot = fields.Integer(required=True)
    last_slot = fields.Integer(required=True)
    start_thz = fields.String(required=True)
    end_thz = fields.String(required=True)
    centre_thz = fields.String(required=True)


class AvailabilitySchema(Schema):
    route = fields.String(required=True)
    protection = shared_enum(fields.String(required=True), "Protection")
    product = fields.String(required=True)
    width_ghz = fields.String(required=True)
    width_slots = fields.Integer(required=True)
    paths = fields.List(fields.String(), required=True)
    fiber_pairs = fields.List(fields.Nested(PairAvailabilitySchema), required=True)
    suggestion = fields.List(fields.Nested(FitSchema), required=True, allow_none=True)
    available = fields.Boolean(required=True)


@lru_cache(maxsize=8192)
def _edge(band_start_thz: Decimal, slot_width_ghz: Decimal, slot: int) -> str:
    """The frequency of a slot edge as text; a band has only a few hundred of them."""
    return thz_text(band_start_thz + slot_width_ghz * slot / 1000)


def _pair_json(u: PairUsage) -> dict[str, Any]:
    return {
        "segment": u.segment_code,
        "fiber_pair": u.fiber_pair_number,
        "slot_count": u.slot_count,
        "free_ranges": [
            {
                "first_slot": a,
                "last_slot": b - 1,
                "slots": b - a,
                "start_thz": _edge(u.band_start_thz, u.slot_width_ghz, a),
                "end_thz": _edge(u.band_start_thz, u.slot_width_ghz, b),
            }
            for a, b in u.free
        ],
        "utilisation": {
            "allocated_slots": u.allocated_slots,
            "held_slots": u.held_slots,
            "free_slots": u.free_slots,
            "allocated_percent": str(u.percent(u.allocated_slots)),
            "held_percent": str(u.percent(u.held_slots)),
            "free_percent": str(u.percent(u.free_slots)),
        },
    }


def availability_json(av: Availability) -> dict[str, Any]:
    first_pair = {u.segment_code: u for u in av.pairs}
    grid = next(iter(first_pair.values()))
    suggestion = None
    if av.suggestion is not None:
        suggestion = [
            {
                "route": f.route_code,
                "fiber_pair": f.fiber_pair_number,
                "first_slot": f.first_slot,
                "last_slot": f.end_slot - 1,
                "start_thz": thz_text(grid.thz(f.first_slot)),
                "end_thz": thz_text(grid.thz(f.end_slot)),
                "centre_thz": thz_text((grid.thz(f.first_slot) + grid.thz(f.end_slot)) / 2),
            }
            for f in av.suggestion
        ]
    return {
        "route": av.route,
        "protection": av.protection,
        "product": av.product,
        "width_ghz": f"{av.width_ghz.normalize():f}",  # "50", not "5E+1"
        "width_slots": av.width_slots,
        "paths": av.paths,
        "fiber_pairs": [_pair_json(u) for u in av.pairs],
        "suggestion": suggestion,
        "available": suggestion is not None,
    }


@dataclass(frozen=True)
class _Cached:
    revision: tuple[tuple[int, int], ...]
    fresh_until: datetime | None
    body: bytes
    etag: str


def _answer(entry: _Cached) -> Response:
    """The answer, or 304 Not Modified to a client that already holds it (If-None-Match)."""
    response = Response(entry.body, mimetype="application/json")
    response.set_etag(entry.etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.make_conditional(request)
    return response


class AvailabilityCache:
    """Answers already computed, per query, in this process.

    An answer is served again only while the revisions of every fiber pair of its path are those
    it was computed from (a trigger bumps them on any allocation change, in any process) and
    before the first hold it counted expires. Reference data (routes, products) is not watched:
    a change to it takes effect when the workers restart.
    """

    MAX_ENTRIES = 512

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> _Cached | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple[Any, ...], entry: _Cached) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)


def _cache() -> AvailabilityCache:
    return cast(
        AvailabilityCache,
        current_app.extensions.setdefault("billing.availability_cache", AvailabilityCache()),
    )


@blp.route("/availability")
class AvailabilityView(MethodView):
    @blp.doc(operationId="getAvailability")
    @blp.arguments(AvailabilityArgsSchema, location="query")
    @blp.arguments(ConditionalHeadersSchema, location="headers", as_kwargs=True)
    @blp.response(200, AvailabilitySchema, headers=ETAG_HEADER)
    @blp.alt_response(
        304,
        description="Not modified: the answer is still the one whose ETag came in If-None-Match",
        headers=ETAG_HEADER,
    )
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="Unknown route or product")
    @blp.alt_response(422, schema="Error", description="Invalid arguments")
    def get(self, args: dict[str, Any]) -> Response:
        """Free slot ranges per fiber pair, utilisation, and a first fit free on the whole path."""
        key = (args["route"], args["protection"], args["product"], args["width_ghz"])
        at = now()
        rows = read_alongside(*_revision_query(args["route"], args["protection"]))
        if rows is not None:
            revision = path_revision_of(rows)
        else:
            revision = path_revision(session(), args["route"], args["protection"])
        cached = _cache().get(key)
        if (
            cached is not None
            and cached.revision == revision
            and (cached.fresh_until is None or at < cached.fresh_until)
        ):
            return _answer(cached)
        # The revision is read before the answer is computed: a change landing in between makes
        # the stored revision older than the answer, so the next request recomputes.
        av = availability(
            session(),
            route=args["route"],
            protection=args["protection"],
            product=args["product"],
            width_ghz=args["width_ghz"],
            now=at,
        )
        # Built once here and sent as it is: the schema above documents it, and the tests hold
        # the answer to that schema.
        body = current_app.json.dumps(availability_json(av)).encode()
        entry = _Cached(revision, fresh_until(av), body, hashlib.sha256(body).hexdigest()[:32])
        _cache().put(key, entry)
        return _answer(entry)
