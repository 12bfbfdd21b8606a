"""POST /quotes, GET /quotes[/{id}], POST /quotes/{id}/accept and /cancel: buying capacity."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import (
    API_PREFIX,
    ChangedPageArgsSchema,
    NoQueryArgsSchema,
    changed_since,
    page_schema,
    shared_enum,
)
from billing.api.fields import DecimalNumber, Text, WholeNumber
from billing.api.idempotency import (
    CREATED_HEADERS,
    REPLAY_HEADERS,
    IdempotencyKeySchema,
    idempotent,
)
from billing.api.schemas import (
    ChargesSchema,
    ContractSchema,
    SpectrumSchema,
    charges_json,
    contract_json,
    contract_url,
    spectrum_json,
)
from billing.db import Page, fetch_page
from billing.errors import InvalidRequestError
from billing.extensions import now, session
from billing.inventory.queries import PROTECTIONS
from billing.parties.customers import Seller
from billing.sales.models import PURCHASE_ORDER_LENGTH, Quote, QuoteLine
from billing.sales.pricebook import IRU_TERMS, LEASE_TERMS
from billing.sales.pricing import MODELS, LinePrices, quote_prices
from billing.sales.queries import get_quote, quote_listing
from billing.sales.quotes import (
    DEFAULT_VALID_DAYS,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_VALID_DAYS,
    LineRequest,
    accept_quote,
    cancel_quote,
    create_quote,
)
from billing.text import decimal_text

blp = protected_blueprint("Quotes", __name__, "Quotes that hold spectrum, and their acceptance")
QUOTE_STATES = ["open", "expired", "accepted", "cancelled"]

# Ids are 32-bit in the database; a larger one is simply not found (billing/input_guard.py).
QUOTE_ID = "<id:quote_id>"
CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="a code of letters, digits, '_' and '-'")
NO_DISCOUNT = "a quote made through the API carries no discount; your account manager can offer one"
TERMS = (
    f"{LEASE_TERMS[0]}–{LEASE_TERMS[1]} months for a lease; {IRU_TERMS[0]}–{IRU_TERMS[1]} months, "
    "whole years, for an IRU"
)


class LineRequestSchema(Schema):
    product = Text(max_length=32, required=True, validate=CODE, metadata={"example": "WL100G"})
    route = Text(max_length=32, load_default="main", validate=CODE)
    protection = shared_enum(
        Text(max_length=16, load_default="unprotected", validate=validate.OneOf(PROTECTIONS)),
        "Protection",
    )
    model = shared_enum(
        Text(max_length=8, load_default="lease", validate=validate.OneOf(MODELS)), "Model"
    )
    term_months = WholeNumber(
        required=True,
        minimum=LEASE_TERMS[0],
        maximum=IRU_TERMS[1],
        metadata={
            "description": f"The term by model: {TERMS}",
            "x-term-months-by-model": {
                "lease": {"minimum": LEASE_TERMS[0], "maximum": LEASE_TERMS[1]},
                "iru": {"minimum": IRU_TERMS[0], "maximum": IRU_TERMS[1], "multipleOf": 12},
            },
        },
    )
    quantity = WholeNumber(load_default=1, minimum=1, maximum=MAX_QUANTITY)
    discount_percent = DecimalNumber(
        places=2,
        max_digits=5,
        minimum=Decimal(0),
        maximum=Decimal(100),
        load_default=Decimal(0),
        metadata={
            "description": "Only 0: discounts are given by sales staff, not the API",
            "default": 0,
        },
    )
    width_ghz = DecimalNumber(
        places=3,
        max_digits=8,
        minimum=Decimal("12.5"),
        maximum=Decimal("4800"),
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Only for a SPECTRUM product (kind `spectrum`), and required there: "
            "its width, a multiple of 12.5 GHz. Any other product has a fixed width: leave "
            "this out (or null)."
        },
    )


class QuoteRequestSchema(Schema):
    lines = fields.List(
        fields.Nested(LineRequestSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES),
    )
    valid_days = WholeNumber(
        load_default=DEFAULT_VALID_DAYS,
        minimum=1,
        maximum=MAX_VALID_DAYS,
        metadata={"description": "How long the quote, and the spectrum it holds, stays valid"},
    )
    notes = Text(max_length=2000, multiline=True, load_default="")


class QuoteArgsSchema(ChangedPageArgsSchema):
    state = Text(
        max_length=16,
        validate=validate.OneOf(QUOTE_STATES),
        metadata={"description": "Only quotes in this state"},
    )
    number = Text(
        max_length=32, metadata={"description": "Only the quote with this number (Q-2026-000001)"}
    )


class AcceptRequestSchema(Schema):
    purchase_order = Text(
        max_length=PURCHASE_ORDER_LENGTH,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Your purchase-order reference: kept on the contract, printed on it "
            "and on its invoices"
        },
    )


class HoldSchema(Schema):
    unit = fields.Integer(required=True)
    spectrum = fields.List(fields.Nested(SpectrumSchema), required=True)


class QuoteLineSchema(Schema):
    position = fields.Integer(required=True)
    product = fields.String(required=True)
    product_name = fields.String(required=True)
    route = fields.String(required=True)
    protection = shared_enum(fields.String(required=True), "Protection")
    model = shared_enum(fields.String(required=True), "Model")
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
    state = fields.String(required=True, metadata={"enum": QUOTE_STATES})
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


def _accept(quote_id: int, purchase_order: str | None) -> dict[str, Any]:
    at = now()
    contract = accept_quote(
        session(),
        quote_id,
        seller=api_seller(),
        now=at,
        customer_id=current_key().customer_id,
        purchase_order=purchase_order,
    )
    return contract_json(contract, at)


def _cancel(quote_id: int) -> dict[str, Any]:
    at = now()
    customer_id = current_key().customer_id
    cancel_quote(session(), quote_id, seller=api_seller(), now=at, customer_id=customer_id)
    # Read again as the API shows it: the spectrum each unit held, now released.
    session().expire_all()
    return quote_json(get_quote(session(), quote_id, customer_id=customer_id), at)


def quote_url(body: dict[str, Any]) -> str:
    return f"{API_PREFIX}/quotes/{body['id']}"


@blp.route("/quotes")
class Quotes(MethodView):
    @blp.doc(operationId="listQuotes")
    @blp.arguments(QuoteArgsSchema, location="query")
    @blp.response(200, QuotePageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid arguments")
    def get(self, args: dict[str, Any]) -> Page[dict[str, Any]]:
        """List your quotes, newest first; optionally only those in one state, or one number."""
        at = now()
        stmt = quote_listing(
            customer_id=current_key().customer_id,
            status=args.get("state", ""),
            at=at,
            number=args.get("number", ""),
        )
        stmt = changed_since(stmt, Quote, args)
        page = fetch_page(session(), stmt, args["page"], args["per_page"])
        return page.map(lambda quote: quote_json(quote, at))

    @blp.doc(operationId="createQuote")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(QuoteRequestSchema)
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(201, QuoteSchema, headers=CREATED_HEADERS)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
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
            idempotency_key,
            status=201,
            schema=QuoteSchema(),
            work=lambda: _create(body),
            location=quote_url,
        )


@blp.route(f"/quotes/{QUOTE_ID}")
class QuoteView(MethodView):
    @blp.doc(operationId="getQuote")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, QuoteSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such quote of yours")
    def get(self, quote_id: int) -> dict[str, Any]:
        """One of your quotes, with its prices and the spectrum it holds."""
        quote = get_quote(session(), quote_id, customer_id=current_key().customer_id)
        return quote_json(quote, now())


@blp.route(f"/quotes/{QUOTE_ID}/accept")
class AcceptQuote(MethodView):
    @blp.doc(operationId="acceptQuote")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(AcceptRequestSchema, required=False)
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(201, ContractSchema, headers=CREATED_HEADERS)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
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
        422,
        schema="Error",
        description="An invalid purchase order, or an Idempotency-Key already used for another "
        "request",
    )
    def post(self, body: dict[str, Any], quote_id: int, idempotency_key: str | None) -> Response:
        """Accept an open quote: a contract, and one pending service per unit ordered.

        The held spectrum becomes allocated to the services in the same transaction. The
        optional `purchase_order` is your own reference, kept on the contract. The answer's
        `Location` is the contract's URL.
        """
        purchase_order = body.get("purchase_order")
        return idempotent(
            idempotency_key,
            status=201,
            schema=ContractSchema(),
            work=lambda: _accept(quote_id, purchase_order),
            location=contract_url,
        )


@blp.route(f"/quotes/{QUOTE_ID}/cancel")
class CancelQuote(MethodView):
    @blp.doc(operationId="cancelQuote")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(200, QuoteSchema, headers=REPLAY_HEADERS)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
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
        description="The quote is already accepted or cancelled; or a request with this "
        "Idempotency-Key is in progress",
    )
    @blp.alt_response(
        422, schema="Error", description="An Idempotency-Key already used for another request"
    )
    def post(self, quote_id: int, idempotency_key: str | None) -> Response:
        """Cancel an open (or expired) quote: the spectrum it holds is free again at once."""
        return idempotent(
            idempotency_key, status=200, schema=QuoteSchema(), work=lambda: _cancel(quote_id)
        )
