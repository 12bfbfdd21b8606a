"""GET /products: what is sold, and its list prices in force today."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import select

from billing.api.auth import protected_blueprint
from billing.api.common import MoneySchema, PageArgsSchema, page_schema, paginate
from billing.errors import ConflictError
from billing.extensions import now, session
from billing.inventory.models import Product
from billing.inventory.queries import PROTECTIONS, list_products
from billing.money import Money
from billing.sales.models import PriceBookEntry, PriceBookVersion
from billing.sales.pricebook import version_on
from billing.sales.quotes import annual_om

blp = protected_blueprint("api_products", __name__, "Products and their list prices")

MODELS = ("lease", "iru")


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text, without trailing zeros or an exponent: 50.000 -> '50'."""
    return format(value.normalize(), "f")


def money(amount: Decimal | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount, currency)


def money_json(amount: Money | None) -> dict[str, str] | None:
    return None if amount is None else amount.as_json()


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


def _add(a: Money | None, b: Money | None) -> Money | None:
    return b if a is None else a if b is None else a + b


class Charges(NamedTuple):
    """The charges of a unit, a line or a quote; None where the model has no such charge."""

    mrc: Money | None
    nrc: Money | None
    iru_fee: Money | None
    annual_om: Money | None

    @classmethod
    def of(
        cls,
        currency: str,
        *,
        mrc: Decimal | None,
        nrc: Decimal | None,
        iru_fee: Decimal | None,
        om_rate_percent: Decimal | None,
    ) -> Charges:
        return cls(
            money(mrc, currency),
            money(nrc, currency),
            money(iru_fee, currency),
            money(annual_om(iru_fee, om_rate_percent), currency),
        )

    def times(self, quantity: int) -> Charges:
        return Charges(*(None if c is None else c * quantity for c in self))

    def plus(self, other: Charges) -> Charges:
        return Charges(*(_add(a, b) for a, b in zip(self, other, strict=True)))

    def as_json(self) -> dict[str, Any]:
        return {name: money_json(value) for name, value in self._asdict().items()}


NO_CHARGES = Charges(None, None, None, None)


class PriceBookRefSchema(Schema):
    name = fields.String(required=True)
    effective_from = fields.Date(required=True)


class ListPriceSchema(Schema):
    protection = fields.String(required=True, metadata={"enum": list(PROTECTIONS)})
    model = fields.String(required=True, metadata={"enum": list(MODELS)})
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
    models = fields.List(fields.String(metadata={"enum": list(MODELS)}), required=True)
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
    """Each product with the list prices of the price book in force today (none if none is)."""
    try:
        version: PriceBookVersion | None = version_on(session(), now().date())
    except ConflictError:
        version = None
    entries: dict[int, list[PriceBookEntry]] = {p.id: [] for p in products}
    currency = version.currency if version is not None else ""
    if version is not None and products:
        for e in (
            session()
            .execute(
                select(PriceBookEntry).where(
                    PriceBookEntry.version_id == version.id,
                    PriceBookEntry.product_id.in_(list(entries)),
                )
            )
            .scalars()
        ):
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
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ProductPageSchema)
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid paging arguments")
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """List the products, with the list prices in force today.

        One price per protection × model × term band (months, both ends included). A lease has
        an MRC and an NRC; an IRU an IRU fee and a yearly O&M rate. Spectrum is priced per
        12.5 GHz slot (`unit: slot`), everything else per circuit.
        """
        page = paginate(list_products(session()), args["page"], args["per_page"])
        page["items"] = products_json(page["items"])
        return page
