"""GET /products: what is sold, and its list prices in force today."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import MoneySchema, PageArgsSchema, page_schema, shared_enum
from billing.api.schemas import money_json
from billing.db import Page, fetch_page
from billing.errors import ConflictError
from billing.extensions import now, session
from billing.inventory.models import Product
from billing.inventory.queries import PROTECTIONS, product_listing
from billing.parties.customers import get_customer
from billing.sales.models import PriceBookEntry, PriceBookVersion
from billing.sales.pricebook import version_on
from billing.sales.pricing import MODELS, money
from billing.sales.queries import price_book_entries
from billing.sales.quotes import selling_day
from billing.text import decimal_text

blp = protected_blueprint("Products", __name__, "Products and their list prices")


class PriceBookRefSchema(Schema):
    name = fields.String(required=True)
    effective_from = fields.Date(required=True)


class ListPriceSchema(Schema):
    protection = shared_enum(fields.String(required=True), "Protection")
    model = shared_enum(fields.String(required=True), "Model")
    term_min_months = fields.Integer(required=True)
    term_max_months = fields.Integer(required=True)
    unit = fields.String(
        required=True,
        metadata={
            "enum": ["circuit", "slot"],
            "description": "What one price buys: a circuit, or one 12.5 GHz slot of spectrum",
        },
    )
    mrc = fields.Nested(MoneySchema, required=True, allow_none=True)
    nrc = fields.Nested(MoneySchema, required=True, allow_none=True)
    iru_fee = fields.Nested(MoneySchema, required=True, allow_none=True)
    om_rate_percent = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Yearly O&M fee of an IRU, as a percentage of its IRU fee"},
    )


class ProductSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["wavelength", "spectrum", "fiber_pair"]})
    width_ghz = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Fixed width of a wavelength; null: chosen per order"},
    )
    circuit_prefix = fields.String(required=True)
    models = fields.List(shared_enum(fields.String(), "Model"), required=True)
    price_book = fields.Nested(PriceBookRefSchema, required=True, allow_none=True)
    prices = fields.List(fields.Nested(ListPriceSchema), required=True)


ProductPageSchema = page_schema(ProductSchema, "ProductPage")


def _price_json(e: PriceBookEntry, currency: str) -> dict[str, Any]:
    return {
        "protection": e.protection,
        "model": e.model,
        "term_min_months": e.term_min_months,
        "term_max_months": e.term_max_months,
        "unit": e.unit,
        "mrc": money_json(money(e.mrc, currency)),
        "nrc": money_json(money(e.nrc, currency)),
        "iru_fee": money_json(money(e.iru_fee, currency)),
        "om_rate_percent": None if e.om_rate_percent is None else decimal_text(e.om_rate_percent),
    }


def _band_order(e: PriceBookEntry) -> tuple[int, int, int]:
    return (PROTECTIONS.index(e.protection), MODELS.index(e.model), e.term_min_months)


def products_json(products: list[Product]) -> list[dict[str, Any]]:
    """Each product with the list prices of the price book in force today (none if none is):
    the caller's seller's today, the day a quote made now would be priced on."""
    day = selling_day(get_customer(session(), current_key().customer_id), now())
    try:
        version: PriceBookVersion | None = version_on(session(), day)
    except ConflictError:
        version = None
    entries: dict[int, list[PriceBookEntry]] = {p.id: [] for p in products}
    currency = version.currency if version is not None else ""
    if version is not None and products:
        for e in price_book_entries(session(), version.id, list(entries)):
            entries[e.product_id].append(e)
    return [
        {
            "code": p.code,
            "name": p.name,
            "kind": p.kind,
            "width_ghz": None if p.width_ghz is None else decimal_text(p.width_ghz),
            "circuit_prefix": p.circuit_prefix,
            "models": [m for m, ok in (("lease", p.lease_allowed), ("iru", p.iru_allowed)) if ok],
            "price_book": None
            if version is None
            else {"name": version.name, "effective_from": version.effective_from},
            "prices": [_price_json(e, currency) for e in sorted(entries[p.id], key=_band_order)],
        }
        for p in products
    ]


@blp.route("/products")
class Products(MethodView):
    @blp.doc(operationId="listProducts")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ProductPageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid paging arguments")
    def get(self, args: dict[str, int]) -> Page[dict[str, Any]]:
        """List the products, with the list prices in force today.

        One price per protection × model × term band (months, both ends included). A lease has
        an MRC and an NRC; an IRU an IRU fee and a yearly O&M rate. Spectrum is priced per
        12.5 GHz slot (`unit: slot`), everything else per circuit.
        """
        page = fetch_page(session(), product_listing(), args["page"], args["per_page"])
        return Page(products_json(page.items), page.number, page.per_page, page.total)
