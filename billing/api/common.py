"""Schemas and helpers shared by every resource: errors, pages, money."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump, validate

from billing.db import Page

MAX_PER_PAGE = 100

ERROR_RESPONSES = {
    401: "Missing, unknown or revoked API key",
}


class ErrorSchema(Schema):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(required=True)


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageMetaSchema(Schema):
    page = fields.Integer(required=True, attribute="number")
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class _PageSchema(Schema):
    @pre_dump
    def _envelope(self, page: Page[Any], **_: Any) -> dict[str, Any]:
        return {"items": page.items, "meta": page}


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A list envelope, dumped from a `Page`: {items: [...], meta: {page, per_page, total, pages}}."""
    return _PageSchema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "meta": fields.Nested(PageMetaSchema, required=True),
        },
        name=name,
    )


def thz_text(value: Any) -> str:
    """A frequency in THz as the API writes it: five decimals (6.25 GHz steps show exactly)."""
    return f"{value:.5f}"


class MoneySchema(Schema):
    amount = fields.String(required=True)
    currency = fields.String(required=True)
