"""The first check on every request: input that no field of the platform may hold is refused
before any view runs, with a 4xx in the one error shape, so no such value ever reaches the
database (PostgreSQL refuses NUL in text where SQLite stores it) or a parser that would raise.

Field-level rules (ranges, formats, integers that must be integers) stay with each schema and
form; this is the floor under all of them (SPEC 9, "strict input").
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType
from werkzeug.routing import BaseConverter

from billing.validation import INT_MAX, text_problem

MAX_JSON_DEPTH = 32
MAX_JSON_NUMBER_DIGITS = 40
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class InvalidInputError(BadRequest):
    """A 400 whose field messages reach the error shape (`data.errors`)."""

    def __init__(self, message: str, errors: dict[str, Any]) -> None:
        super().__init__(message)
        self.data = {"message": message, "errors": errors}


def _check_pairs(pairs: Any, where: str) -> None:
    for name, value in pairs.items(multi=True):
        reason = text_problem(name) or text_problem(value)
        if reason:
            label = name if text_problem(name) is None else "(parameter name)"
            raise InvalidInputError(f"a {where} value is not valid text", {label: [reason]})


def _number(text: str) -> Decimal:
    """Any JSON number, checked for length before Python converts it (a 5,000-digit integer
    would raise deep inside the parser)."""
    if len(text) > MAX_JSON_NUMBER_DIGITS:
        raise ValueError(f"a number of {len(text)} characters is longer than any field allows")
    return Decimal(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON, or an InvalidInputError saying what is wrong with it."""
    try:
        document = json.loads(
            raw,
            parse_int=_number,
            parse_float=_number,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        raise InvalidInputError(
            "the JSON body is nested too deeply",
            {"json": [f"at most {MAX_JSON_DEPTH} levels of nesting"]},
        ) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInputError("the body is not valid JSON", {"json": [str(error)]}) from None
    _check_document(document)
    return document


def _check_document(document: Any) -> None:
    """Depth and text of every key and string, without recursion."""
    stack: list[tuple[Any, int, str]] = [(document, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list) and depth > MAX_JSON_DEPTH:
            raise InvalidInputError(
                "the JSON body is nested too deeply",
                {"json": [f"at most {MAX_JSON_DEPTH} levels of nesting"]},
            )
        if isinstance(node, dict):
            for key, value in node.items():
                reason = text_problem(key)
                if reason:
                    raise InvalidInputError("a JSON key is not valid text", {"json": [reason]})
                stack.append((value, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(node, list):
            stack.extend((value, depth + 1, f"{path}[{i}]") for i, value in enumerate(node))
        elif isinstance(node, str):
            reason = text_problem(node)
            if reason:
                raise InvalidInputError(
                    "a JSON value is not valid text", {path or "json": [reason]}
                )


def _digits_up_to(limit: int) -> str:
    """A regex of the numbers 1..limit in ASCII digits, no sign, no leading zero: the route
    itself refuses a larger one, so no method of it matches (404, not 405)."""
    top = str(limit)
    branches = [f"[1-9][0-9]{{0,{len(top) - 2}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            branches.append(f"{top[:i]}[{low}-{int(digit) - 1}][0-9]{{{len(top) - i - 1}}}")
    branches.append(top)
    return "|".join(branches)


class RecordIdConverter(BaseConverter):
    """`<id:name>` in a route: a row id, 1 to 2^31 - 1 in ASCII digits, written the one way
    (no sign, no leading zero). Anything else matches no route, so it is a 404 before any view
    runs, any form is read or any query is sent (PostgreSQL's INTEGER stops at 2^31 - 1,
    SQLite's at 2^63 - 1, and Python will not convert 4,300 digits)."""

    regex = _digits_up_to(INT_MAX)
    part_isolating = True
    weight = 50  # as werkzeug's own number converters: a static segment wins over an id

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


def register_id_converter(app: Flask) -> None:
    """Before any blueprint adds its routes: every route's id is `<id:...>`, never `<int:...>`."""
    app.url_map.converters["id"] = RecordIdConverter


def _guard() -> None:
    if request.routing_exception is not None:
        return  # no such address (or method): its 404 / 405 comes before any input is read
    if text_problem(request.path):
        raise NotFound("No page or resource has this address.")
    _check_pairs(request.args, "query")
    if request.method not in BODY_METHODS:
        return
    if request.path.startswith("/api/"):
        raw = request.get_data(cache=True)
        if not raw:
            return
        if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
            raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
        parse_json_body(raw)
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_pairs(request.form, "form")


def register_input_guard(app: Flask) -> None:
    app.before_request(_guard)
