"""Schemas and helpers shared by every resource: errors, pages, money."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode

import marshmallow as ma
from flask import Request, Response, after_this_request, has_request_context, request
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, post_load, pre_dump
from sqlalchemy import Select
from webargs.flaskparser import FlaskParser

from billing.api.fields import WholeNumber
from billing.db import Page, Stamped
from billing.http_errors import ERROR_TYPES

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
                type="unknown_parameter",
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
# OpenAPI 3.0 has no null type: "null" is an object schema that admits null alone.
NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


F = TypeVar("F", bound=fields.Field[Any])


def shared_enum(field: F, component: str) -> F:
    """Document `field` as the named enum of components/schemas (Protection, Model), one enum
    wherever the value appears, so generated clients make one type of it."""
    field.enum_component = component  # type: ignore[attr-defined]
    return field


def enum_ref(
    converter: Any, field: fields.Field[Any], ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """An apispec attribute function: a `shared_enum` field is a reference to its enum (with its
    default and description beside it, through allOf, where it has them)."""
    component = getattr(field, "enum_component", None)
    if component is None:
        return {}
    kept: dict[str, Any] = {
        k: ret[k] for k in ("description", "default", "readOnly", "example") if k in ret
    }
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{component}"}
    ret.clear()
    ret.update({"allOf": [ref], **kept} if kept else ref)
    return {}


def nullable_ref(
    converter: Any, field: fields.Field[Any], ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """An apispec attribute function: a nullable nested object as its type or null.

    apispec writes it for OpenAPI 3.0 as `anyOf: [{type: object, nullable: true}, {$ref}]`, and
    generated clients take that catch-all for an untyped dict (`price.mrc.amount` fails).
    `allOf: [{$ref}], nullable: true` is no better: `nullable` needs a `type` beside it (Redocly's
    nullable-type-sibling), and strict validators (openapi-core) refuse the null, since `allOf`'s
    `$ref` is not nullable. Written `anyOf: [{$ref}, NULL_ONLY]`, it is the typed object or null
    to validators and to generated clients alike."""
    choices = ret.get("anyOf")
    if isinstance(choices, list) and NULLABLE_CATCH_ALL in choices:
        refs = [choice for choice in choices if choice != NULLABLE_CATCH_ALL]
        ret["anyOf"] = [*refs, dict(NULL_ONLY)]
    return {}


# `errors`: by field, a list of messages; a nested object for the fields of an item of a list
# or of a nested object ({"lines": {"0": {"product": [...]}}}); or a detail the error offers
# (a 409 `spectrum_taken`'s `alternative`: the spectrum that is free instead, or null).
FIELD_ERRORS = {
    "type": "object",
    "description": "Details by field: a list of messages, or an object of the same kind for "
    "the fields of a nested object or of a list's items (keyed by index). A `spectrum_taken` "
    "error gives `alternative`: the free spectrum offered instead, or null.",
    "properties": {
        "alternative": {
            "type": "array",
            "nullable": True,
            "items": {"type": "object", "additionalProperties": True},
            "description": "spectrum_taken: what is free instead (null when nothing is)",
        }
    },
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": True},
        ]
    },
    "example": {"lines": {"0": {"term_months": ["Must be between 12 and 300."]}}},
}


class ErrorSchema(Schema):
    """The one error shape of the API (SPEC 9)."""

    code = fields.Integer(required=True, metadata={"description": "The HTTP status"})
    type = fields.String(
        required=True,
        metadata={
            "enum": sorted(ERROR_TYPES),
            "description": "What kind of error, for programs: stable across releases; new "
            "kinds may be added. "
            + "; ".join(f"`{k}`: {v}" for k, v in sorted(ERROR_TYPES.items())),
        },
    )
    status = fields.String(required=True, metadata={"description": "The HTTP status's name"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for people"})
    errors = fields.Dict(required=True, metadata=FIELD_ERRORS)


class IfNoneMatchSchema(Schema):
    """Documents If-None-Match; werkzeug's `make_conditional` reads it, so the view takes none."""

    if_none_match = fields.String(
        data_key="If-None-Match",
        metadata={
            "description": "The ETag of the representation you hold: 304 Not Modified, with no "
            "body, while it stands"
        },
    )

    @post_load
    def _read_by_werkzeug(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {}


class PageArgsSchema(Schema):
    page = WholeNumber(load_default=1, minimum=1, maximum=1_000_000)
    per_page = WholeNumber(load_default=50, minimum=1, maximum=MAX_PER_PAGE)


class ChangedPageArgsSchema(PageArgsSchema):
    """A page of a list whose rows record their last change (billing.db.Stamped)."""

    updated_since = fields.AwareDateTime(
        metadata={
            "description": "Only those created or changed at or after this instant (ISO 8601 "
            "with its offset, e.g. 2026-11-25T09:00:00Z): poll with the time of your last poll "
            "to get what changed since",
        }
    )


def changed_since(stmt: Select[Any], model: type[Stamped], args: dict[str, Any]) -> Select[Any]:
    """`stmt` kept to the rows of `model` changed at or after `updated_since`, when given."""
    since = args.get("updated_since")
    return stmt if since is None else stmt.where(model.updated_at >= since)


class PageMetaSchema(Schema):
    page = fields.Integer(required=True, attribute="number")
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def page_links(page: Page[Any]) -> str:
    """The Link header (RFC 8288) of a page of the current request's list: `next` and `prev`,
    the same URL and query with another page number; empty on a lone page."""
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    links = []
    if page.number < page.pages:
        links.append((page.number + 1, "next"))
    if 1 < page.number <= page.pages:
        links.append((page.number - 1, "prev"))
    return ", ".join(
        f'<{request.base_url}?{urlencode([*query, ("page", str(n))])}>; rel="{rel}"'
        for n, rel in links
    )


def _link_header(page: Page[Any]) -> Callable[[Response], Response]:
    def attach(response: Response) -> Response:
        if links := page_links(page):
            response.headers["Link"] = links
        return response

    return attach


LINK_HEADER = {
    "description": 'The neighbouring pages of this list (RFC 8288): `<url>; rel="next"` and '
    '`<url>; rel="prev"`, where there are such pages. Lists keep a stable order (newest first, '
    "or by code), so paging through never skips nor repeats an item that did not change.",
    "schema": {"type": "string"},
}


class _PageSchema(Schema):
    @pre_dump
    def _envelope(self, page: Page[Any], **_: Any) -> dict[str, Any]:
        # Dumped while the list's request is answered: its Link header is set with it.
        if has_request_context():
            after_this_request(_link_header(page))
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


AMOUNT_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"


class MoneySchema(Schema):
    amount = fields.String(
        required=True,
        metadata={
            "pattern": AMOUNT_PATTERN,
            "description": "A decimal string, never a float: read it as a decimal",
            "example": "6000.00",
        },
    )
    currency = fields.String(
        required=True,
        metadata={"pattern": "^[A-Z]{3}$", "description": "ISO 4217", "example": "USD"},
    )
