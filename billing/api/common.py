"""Schemas and helpers shared by every resource: errors, pages, money."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marshmallow import Schema, fields, validate

from billing.db import fetch_page, page_count

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
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A list envelope: {items: [...], meta: {page, per_page, total, pages}}."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "meta": fields.Nested(PageMetaSchema, required=True),
        },
        name=name,
    )


def paginate(items: Sequence[Any], page: int, per_page: int) -> dict[str, Any]:
    total = len(items)
    start = (page - 1) * per_page
    return {
        "items": list(items[start : start + per_page]),
        "meta": {
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": page_count(total, per_page),
        },
    }


def thz_text(value: Any) -> str:
    """A frequency in THz as the API writes it: five decimals (6.25 GHz steps show exactly)."""
    return f"{value:.5f}"


class MoneySchema(Schema):
    amount = fields.String(required=True)
    currency = fields.String(required=True)


def paginate_query(session: Any, stmt: Any, page: int, per_page: int) -> dict[str, Any]:
    """Page a SELECT in the database."""
    items, total = fetch_page(session, stmt, page, per_page)
    return {
        "items": items,
        "meta": {
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": page_count(total, per_page),
        },
    }
