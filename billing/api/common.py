"""Schemas and helpers shared by every resource: errors, pages, money."""

from __future__ import annotations

from typing import Any, NoReturn

import marshmallow as ma
from flask import Request
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, pre_dump
from webargs.flaskparser import FlaskParser

from billing.api.fields import WholeNumber
from billing.db import Page

API_PREFIX = "/api/v1"
MAX_PER_PAGE = 100
UNKNOWN_FIELD = ma.Schema().error_messages["unknown"]


class StrictParser(FlaskParser):
    """webargs' parser, refusing unknown query parameters (SPEC 9) with 400 naming them.

    webargs drops unknown query arguments silently by default; a typo like `?stat=active` would
    then list everything. Unknown body fields are refused as before (422, by the schema)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def handle_error(
        self,
        error: ma.ValidationError,
        req: Request,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ) -> NoReturn:
        messages = error.messages if isinstance(error.messages, dict) else {}
        query = messages.get("query")
        unknown = sorted(
            name
            for name, problems in (query.items() if isinstance(query, dict) else ())
            if problems == [UNKNOWN_FIELD]
        )
        if unknown:
            abort(
                400,
                message=f"unknown query parameter: {', '.join(unknown)}",
                errors={name: ["unknown query parameter"] for name in unknown},
            )
        super().handle_error(
            error,
            req,
            schema,
            error_status_code=error_status_code,
            error_headers=error_headers,
        )


class ApiBlueprint(Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = StrictParser()


class NoQueryArgsSchema(Schema):
    """For operations that take no query parameters: any one sent is refused with 400."""


ERROR_RESPONSES = {
    401: "Missing, unknown or revoked API key",
}


NULLABLE_CATCH_ALL = {"type": "object", "nullable": True}


def nullable_ref(
    converter: Any, field: fields.Field[Any], ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """An apispec attribute function: a nullable nested object as its type or null.

    apispec writes it for OpenAPI 3.0 as `anyOf: [{type: object, nullable: true}, {$ref}]`, and
    generated clients take that catch-all for an untyped dict (`price.mrc.amount` fails). Written
    `allOf: [{$ref}], nullable: true` instead, they get the typed object or None."""
    choices = ret.get("anyOf")
    if isinstance(choices, list) and NULLABLE_CATCH_ALL in choices:
        refs = [choice for choice in choices if choice != NULLABLE_CATCH_ALL]
        del ret["anyOf"]
        return {"allOf": refs, "nullable": True}
    return {}


class ErrorSchema(Schema):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(required=True)


class PageArgsSchema(Schema):
    page = WholeNumber(load_default=1, minimum=1, maximum=1_000_000)
    per_page = WholeNumber(load_default=50, minimum=1, maximum=MAX_PER_PAGE)


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
