"""POST /quotes, GET /quotes[/{id}], POST /quotes/{id}/accept: buying capacity through the API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import PageArgsSchema, page_schema
from billing.api.idempotency import REPLAY_HEADERS, IdempotencyKeySchema, idempotent
from billing.api.schemas import (
    ChargesSchema,
    ServiceSchema,
    SpectrumSchema,
    charges_json,
    service_json,
    spectrum_json,
)
from billing.db import Page, fetch_page
from billing.errors import InvalidRequestError
from billing.extensions import now, session
from billing.inventory.queries import PROTECTIONS
from billing.parties.customers import Seller
from billing.sales.models import Contract, Quote, QuoteLine
from billing.sales.pricing import MODELS, LinePrices, quote_prices
from billing.sales.queries import get_quote, quote_listing
from billing.sales.quotes import (
    DEFAULT_VALID_DAYS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_VALID_DAYS,
    LineRequest,
    accept_quote,
    create_quote,
)
from billing.text import decimal_text

blp = protected_blueprint("api_quotes", __name__, "Quotes that hold spectrum, and their acceptance")

# Ids are 32-bit in the database; a larger one is simply not found.
QUOTE_ID = "<int(max=2147483647):quote_id>"
CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="a code of letters, digits, '_' and '-'")
NO_DISCOUNT = "a quote made through the API carries no discount; your account manager can offer one"


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")


class LineRequestSchema(Schema):
    product = fields.String(required=True, validate=CODE, metadata={"example": "WL100G"})
    route = fields.String(load_default="main", validate=CODE)
    protection = fields.String(load_default="unprotected", validate=validate.OneOf(PROTECTIONS))
    model = fields.String(load_default="lease", validate=validate.OneOf(MODELS))
    term_months = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=1200),
        metadata={"description": "12–60 for a lease; 120–300, whole years, for an IRU"},
    )
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    discount_percent = fields.Decimal(
        load_default=Decimal(0),
        metadata={
            "description": "Only 0: discounts are given by sales staff, not the API",
            "default": 0,
        },
    )
    width_ghz = fields.Decimal(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=Decimal("12.5"), max=Decimal("4800")),
        # apispec would document the Decimal bounds as strings, which OpenAPI refuses.
        metadata={
            "description": "Width of a SPECTRUM line: a multiple of 12.5 GHz",
            "minimum": 12.5,
            "maximum": 4800,
        },
    )


class QuoteRequestSchema(Schema):
    lines = fields.List(
        fields.Nested(LineRequestSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES),
    )
    valid_days = fields.Integer(
        load_default=DEFAULT_VALID_DAYS,
        validate=validate.Range(min=1, max=MAX_VALID_DAYS),
        metadata={"description": "How long the quote, and the spectrum it holds, stays valid"},
    )
    notes = fields.String(load_default="", validate=[validate.Length(max=2000), _no_nul])


class HoldSchema(Schema):
    unit = fields.Integer(required=True)
    spectrum = fields.List(fields.Nested(SpectrumSchema), required=True)


class QuoteLineSchema(Schema):
    position = fields.Integer(required=True)
    product = fields.String(required=True)
    product_name = fields.String(required=True)
    route = fields.String(required=True)
    protection = fields.String(required=True, metadata={"enum": list(PROTECTIONS)})
    model = fields.String(required=True, metadata={"enum": list(MODELS)})
    term_months = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    width_ghz = fields.String(required=True)
    width_slots = fields.Integer(required=True)
    discount_percent = fields.String(required=True)
    list_unit_price = fields.Nested(ChargesSchema, required=True)
    unit_price = fields.Nested(
        ChargesSchema, required=True, metadata={"description": "Per unit, net of discount"}
    )
    om_rate_percent = fields.String(required=True, allow_none=True)
    total = fields.Nested(
        ChargesSchema, required=True, metadata={"description": "Unit price × quantity"}
    )
    holds = fields.List(
        fields.Nested(HoldSchema),
        required=True,
        metadata={"description": "The spectrum each unit holds (or, once accepted, has)"},
    )


class QuoteSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"example": "Q-2026-000001"})
    state = fields.String(
        required=True, metadata={"enum": ["open", "expired", "accepted", "cancelled"]}
    )
    created_at = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True)
    accepted_at = fields.DateTime(required=True, allow_none=True)
    contract = fields.String(
        required=True, allow_none=True, metadata={"description": "Contract number, once accepted"}
    )
    currency = fields.String(required=True)
    notes = fields.String(required=True)
    lines = fields.List(fields.Nested(QuoteLineSchema), required=True)
    totals = fields.Nested(ChargesSchema, required=True)


QuotePageSchema = page_schema(QuoteSchema, "QuotePage")


class ContractSchema(Schema):
    number = fields.String(required=True, metadata={"example": "C-2026-000001"})
    quote_id = fields.Integer(required=True)
    quote_number = fields.String(required=True)
    signed_at = fields.DateTime(required=True)
    services = fields.List(fields.Nested(ServiceSchema), required=True)


def _line_json(line: QuoteLine, prices: LinePrices, at: datetime) -> dict[str, Any]:
    rate = line.om_rate_percent
    return {
        "position": line.position,
        "product": line.product.code,
        "product_name": line.product.name,
        "route": line.route.code,
        "protection": line.protection,
        "model": line.model,
        "term_months": line.term_months,
        "quantity": line.quantity,
        "width_ghz": decimal_text(line.width_ghz),
        "width_slots": line.width_slots,
        "discount_percent": decimal_text(line.discount_percent),
        "list_unit_price": charges_json(prices.list_unit),
        "unit_price": charges_json(prices.unit),
        "om_rate_percent": None if rate is None else decimal_text(rate),
        "total": charges_json(prices.total),
        "holds": [
            {
                "unit": hold.unit,
                "spectrum": [spectrum_json(a, at) for a in hold.reservation.allocations],
            }
            for hold in line.holds
        ],
    }


def quote_json(quote: Quote, at: datetime) -> dict[str, Any]:
    prices = quote_prices(quote)
    return {
        "id": quote.id,
        "number": quote.number,
        "state": quote.status(at),
        "created_at": quote.created_at,
        "valid_until": quote.valid_until,
        "accepted_at": quote.accepted_at,
        "contract": quote.contract.number if quote.contract else None,
        "currency": quote.currency,
        "notes": quote.notes,
        "lines": [
            _line_json(line, line_prices, at)
            for line, line_prices in zip(quote.lines, prices.lines, strict=True)
        ],
        "totals": charges_json(prices.totals),
    }


def contract_json(contract: Contract, at: datetime) -> dict[str, Any]:
    return {
        "number": contract.number,
        "quote_id": contract.quote_id,
        "quote_number": contract.quote.number,
        "signed_at": contract.signed_at,
        "services": [service_json(s, at) for s in contract.services],
    }


def api_seller() -> Seller:
    """The API key acts for its customer, as the party that owns the customer."""
    caller = current_key()
    label = f"api key {caller.prefix}… ({caller.customer_name})"
    return Seller(label=label[:200], party_id=caller.owner_party_id)


def _lines(body: dict[str, Any]) -> list[LineRequest]:
    lines = [LineRequest(**line) for line in body["lines"]]
    discounted = {
        str(index): {"discount_percent": [NO_DISCOUNT]}
        for index, line in enumerate(lines)
        if line.discount_percent != 0
    }
    if discounted:
        raise InvalidRequestError(NO_DISCOUNT, {"lines": discounted})
    return lines


def _create(body: dict[str, Any]) -> dict[str, Any]:
    at = now()
    quote = create_quote(
        session(),
        customer_id=current_key().customer_id,
        lines=_lines(body),  # priced once, there; an error names its line
        seller=api_seller(),
        now=at,
        valid_days=body["valid_days"],
        notes=body["notes"],
    )
    return quote_json(quote, at)


def _accept(quote_id: int) -> dict[str, Any]:
    at = now()
    contract = accept_quote(
        session(), quote_id, seller=api_seller(), now=at, customer_id=current_key().customer_id
    )
    return contract_json(contract, at)


@blp.route("/quotes")
class Quotes(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, QuotePageSchema)
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid paging arguments")
    def get(self, args: dict[str, int]) -> Page[dict[str, Any]]:
        """List your quotes, newest first."""
        stmt = quote_listing(customer_id=current_key().customer_id)
        at = now()
        page = fetch_page(session(), stmt, args["page"], args["per_page"])
        return page.map(lambda quote: quote_json(quote, at))

    @blp.arguments(QuoteRequestSchema)
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(201, QuoteSchema, headers=REPLAY_HEADERS)
    @blp.alt_response(400, schema="Error", description="The body is not JSON")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="Unknown product or route")
    @blp.alt_response(
        409,
        schema="Error",
        description="The spectrum cannot be held (errors.alternative: another fit, if any), "
        "or a request with this Idempotency-Key is in progress",
    )
    @blp.alt_response(
        422,
        schema="Error",
        description="Invalid lines (term, model, width, discount…) or an Idempotency-Key "
        "already used for another request",
    )
    def post(self, body: dict[str, Any], idempotency_key: str | None) -> Response:
        """Quote capacity at today's list prices, and hold its spectrum until the quote expires.

        Every unit of every line holds its spectrum on every segment of its path (both routes
        when protected), all or nothing. Accept the quote before `valid_until` to order it.
        """
        return idempotent(
            idempotency_key, status=201, schema=QuoteSchema(), work=lambda: _create(body)
        )


@blp.route(f"/quotes/{QUOTE_ID}")
class QuoteView(MethodView):
    @blp.response(200, QuoteSchema)
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such quote of yours")
    def get(self, quote_id: int) -> dict[str, Any]:
        """One of your quotes, with its prices and the spectrum it holds."""
        quote = get_quote(session(), quote_id, customer_id=current_key().customer_id)
        return quote_json(quote, now())


@blp.route(f"/quotes/{QUOTE_ID}/accept")
class AcceptQuote(MethodView):
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(201, ContractSchema, headers=REPLAY_HEADERS)
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(
        403,
        schema="Error",
        description="The quote was made by a party that no longer manages your account",
    )
    @blp.alt_response(404, schema="Error", description="No such quote of yours")
    @blp.alt_response(
        409,
        schema="Error",
        description="The quote has expired, is already accepted or was cancelled; "
        "or a request with this Idempotency-Key is in progress",
    )
    @blp.alt_response(
        422, schema="Error", description="An Idempotency-Key already used for another request"
    )
    def post(self, quote_id: int, idempotency_key: str | None) -> Response:
        """Accept an open quote: a contract, and one pending service per unit ordered.

        The held spectrum becomes allocated to the services in the same transaction.
        """
        return idempotent(
            idempotency_key, status=201, schema=ContractSchema(), work=lambda: _accept(quote_id)
        )
