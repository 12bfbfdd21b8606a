"""What every operation of the API shares, in the document and on the wire (SPEC 9).

- The description of the API: how to authenticate, errors, limits, idempotency, the changelog and
  the deprecation policy of /api/v1; its contact and licence.
- `ContractPlugin`, an apispec plugin that gives every operation's responses the headers every
  response carries (`X-Request-Id`, `RateLimit-*`), the 429 of the rate limit, and the error
  `type`s each error response may carry (`x-error-types`, and in its description).
- Per-key rate limits (`API_RATE_LIMIT`, default 120 per minute), counted in the store of
  `RATELIMIT_STORAGE_URI` (the login limiter's): 429 with `Retry-After` past the limit, and
  `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` on every API response.
"""

from __future__ import annotations

import hashlib
import math
import time
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from apispec import APISpec, BasePlugin
from flask import Flask, Response, current_app, g, request
from flask_smorest import abort
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import HTTPException

from billing.api.common import LINK_HEADER
from billing.http_errors import ERROR_TYPES, RETRY_AFTER_SECONDS
from billing.inventory.queries import PROTECTIONS
from billing.logs import REQUEST_ID_HEADER
from billing.sales.pricing import MODELS

API_PREFIX = "/api/v1/"
DEFAULT_RATE_LIMIT = "120 per minute"
ERROR_REF = {"$ref": "#/components/schemas/Error"}

DESCRIPTION = """\
Spectrum availability, quotes, services and invoices on the Trans-Caspian submarine line
(Aktau/Kuryk – Siyazan/Buzovna).

## Authentication
Send your API key as `Authorization: Bearer <api key>`. Keys are made and revoked by your
account manager; a revoked key is refused at once (401).

## Errors
Every error has one shape: `{code, type, status, message, errors}`. `code` is the HTTP status,
`type` a machine-readable kind that stays stable (`not_found`, `validation_failed`,
`spectrum_taken`, `card_payment_disabled`, `nothing_due`, `idempotency_in_progress`,
`rate_limited`, …: each error response below lists those it may carry), `message` a sentence
for people and `errors` the details by field. Errors worth retrying (429, 503 and
`idempotency_in_progress`) carry `Retry-After`, in seconds.

## Amounts and dates
Amounts are decimal strings with their currency (`{"amount": "6000.00", "currency": "USD"}`),
never floats. Dates are ISO 8601; an invoice's dates are the issuer's local dates.

## Lists
Lists are pages: `page` and `per_page` (at most 100) in, `{items, meta}` out, in a stable order,
with `Link` headers (`rel="next"`, `rel="prev"`) to the neighbouring pages. Quotes, contracts,
services and invoices take `updated_since` (only what was made or changed at or after that
instant: poll with the time of your last poll); invoices also take `issued_from` and
`issued_to` (the issuer's local dates, both included). An unknown query parameter is
refused with 400 (`unknown_parameter`), so a typo never widens a list.

## Rate limits
Each API key may make `API_RATE_LIMIT` requests (120 per minute unless your account manager
says otherwise), counted in fixed windows. Every response carries `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window resets); past the limit
the answer is 429 (`rate_limited`) with `Retry-After`.

## Idempotency
Every POST takes an optional `Idempotency-Key`. The same key with the same body within
**24 hours** replays the first (successful) response with `Idempotent-Replayed: true`; after 24
hours the key is forgotten and a request with it is a new request. Use a new key for each
request you mean to make once.

## Tracing
Every response carries `X-Request-Id`: yours, if you sent one of at most 128 characters of
`A-Z a-z 0-9 . _ -`, else one made for the request. Quote it when you contact us: our logs record
it.

## Versioning and deprecation
`/api/v1` changes only by adding: new operations, new optional parameters, new fields in
responses, new error `type`s and new enum values in responses. Clients must ignore fields they
do not know. Anything that would break a client (removing or renaming a field, tightening a
rule) comes as `/api/v2`; `/api/v1` then stays served for at least 12 months, its deprecated
operations are marked `deprecated: true` here and answer with a `Deprecation` header and a
`Sunset` header giving the date they stop, announced to every customer's billing contacts.

## Changelog
- **2026-12** — error `type`; `X-Request-Id`; rate limits with `RateLimit-*` headers; `Link`
  headers, `updated_since` on lists and `issued_from`/`issued_to` on invoices;
  `GET /balance` (credit balance per currency); Idempotency-Key expiry of 24 hours stated;
  one `Protection` and `Model` enum; webhook endpoints.
- **2026-11** — invoices and credit notes with their PDFs (`ETag`, `If-None-Match`); card
  payment sessions; `Idempotency-Key` on every POST.
- **2026-10** — first release: routes, availability, products, quotes, contracts, services.
"""

INFO = {
    "description": DESCRIPTION,
    "contact": {
        "name": "Trans-Caspian Fiber wholesale billing",
        "email": "wholesale-billing@transcaspianfiber.example",
    },
    "license": {
        "name": "Proprietary: for Trans-Caspian Fiber's wholesale customers",
        "url": "https://transcaspianfiber.example/api-terms",
    },
}

# Error types beyond those of the status alone, by operation and status.
EXTRA_ERROR_TYPES: dict[str, dict[int, list[str]]] = {
    "createQuote": {409: ["spectrum_taken"]},
    "acceptQuote": {409: ["spectrum_taken"]},
    "createInvoicePaymentSession": {
        409: ["card_payment_disabled", "nothing_due", "payment_provider_error"]
    },
}
TYPES_OF_STATUS: dict[int, list[str]] = {
    400: ["bad_request", "unknown_parameter"],
    401: ["unauthenticated"],
    403: ["forbidden"],
    404: ["not_found"],
    405: ["method_not_allowed"],
    406: ["not_acceptable"],
    409: ["conflict"],
    412: ["precondition_failed"],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    422: ["validation_failed", "invalid_request"],
    429: ["rate_limited"],
    500: ["server_error"],
    503: ["unavailable"],
}
IDEMPOTENCY_TYPES = {409: ["idempotency_in_progress"], 422: ["idempotency_key_reused"]}

HEADERS: dict[str, dict[str, Any]] = {
    REQUEST_ID_HEADER: {
        "description": "This request's id: the one you sent (at most 128 characters of "
        "A-Z a-z 0-9 . _ -) or one made for it. Our logs record it.",
        "schema": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9._-]{1,128}$"},
    },
    "RateLimit-Limit": {
        "description": "Requests your key may make in the current window",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window ends and the count starts again",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    },
}
EVERY_RESPONSE_HEADERS = (
    REQUEST_ID_HEADER,
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _is_page(response: dict[str, Any]) -> bool:
    """A list's answer: its schema is one of page_schema's envelopes (…Page)."""
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return isinstance(schema, dict) and str(schema.get("$ref", "")).endswith("Page")


def error_types(operation: dict[str, Any], status: int) -> list[str]:
    types = list(TYPES_OF_STATUS.get(status, ["bad_request" if status < 500 else "server_error"]))
    takes_key = any(
        isinstance(p, dict) and p.get("name") == "Idempotency-Key"
        for p in operation.get("parameters", [])
    )
    if takes_key:
        types += IDEMPOTENCY_TYPES.get(status, [])
    types += EXTRA_ERROR_TYPES.get(operation.get("operationId", ""), {}).get(status, [])
    unknown = set(types) - set(ERROR_TYPES)
    if unknown:  # every type the document lists is one the Error schema's enum knows
        raise ValueError(f"error types not in billing.http_errors.ERROR_TYPES: {sorted(unknown)}")
    return list(dict.fromkeys(types))


class ContractPlugin(BasePlugin):
    """Adds to every operation what every response of the API has in common."""

    def init_spec(self, spec: APISpec) -> None:
        self.spec = spec
        for name, header in HEADERS.items():
            spec.components.header(name, header)
        # One enum each, referenced wherever the value appears (billing.api.common.shared_enum).
        spec.components.schema(
            "Protection",
            {
                "type": "string",
                "enum": list(PROTECTIONS),
                "description": "unprotected: one path; protected: a working and a protection "
                "path on the twin route",
            },
        )
        spec.components.schema(
            "Model",
            {
                "type": "string",
                "enum": list(MODELS),
                "description": "lease: monthly charges over a term; iru: an indefeasible right "
                "of use, one fee and yearly O&M",
            },
        )

    def _shared(self, response: dict[str, Any] | str) -> dict[str, Any] | str:
        """A response given by name (flask-smorest's 422 of the arguments, its default),
        copied here so that this operation's headers and error types can be stated on it."""
        if isinstance(response, dict):
            ref = response.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#/components/responses/"):
                return response
            response = ref.rsplit("/", 1)[1]
        components = self.spec.components
        shared = components.responses.get(response) or components.responses_lazy.get(response)
        return deepcopy(shared) if isinstance(shared, dict) else response

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if method not in HTTP_METHODS:
                continue
            # A view's one-line docstring is its summary alone; the description repeats it, so
            # that every operation has one (Spectral's operation-description).
            if operation.get("summary") and not operation.get("description"):
                operation["description"] = operation["summary"]
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "429",
                {
                    "description": "Too many requests for your key: retry after Retry-After",
                    "content": {"application/json": {"schema": ERROR_REF}},
                },
            )
            for status in list(responses):
                response = responses[status] = self._shared(responses[status])
                if not isinstance(response, dict) or "$ref" in response:
                    continue
                headers = response.setdefault("headers", {})
                if status in (200, "200") and _is_page(response):
                    headers.setdefault("Link", LINK_HEADER)
                for name in EVERY_RESPONSE_HEADERS:
                    headers.setdefault(name, _header_ref(name))
                code = int(status) if str(status).isdigit() else 0
                if code < 400:
                    continue
                types = error_types(operation, code)
                response["x-error-types"] = types
                response["description"] = (
                    f"{response.get('description', '').rstrip('.')}. "
                    f"Error types: {', '.join(f'`{t}`' for t in types)}."
                ).lstrip(". ")
                if code == 429 or code == 503 or any(t in RETRY_AFTER_SECONDS for t in types):
                    headers.setdefault("Retry-After", _header_ref("Retry-After"))


# Rate limits ------------------------------------------------------------------------------------


@dataclass
class RateLimits:
    limit: RateLimitItem
    storage: Storage
    limiter: FixedWindowRateLimiter


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_in: int


def init_rate_limits(app: Flask) -> None:
    limit = parse(app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    storage = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if not isinstance(storage, Storage):
        raise RuntimeError("RATELIMIT_STORAGE_URI names an asyncio store: use a synchronous one")
    app.extensions["billing.api_rate_limits"] = RateLimits(
        limit, storage, FixedWindowRateLimiter(storage)
    )
    app.after_request(_rate_limit_headers)


def _caller_bucket() -> str:
    """Counted per API key (a digest of it: the count comes before the key is looked up), or
    per address for a request that sends none."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "key:" + hashlib.sha256(secret.strip().encode()).hexdigest()[:32]
    return f"address:{request.remote_addr or '-'}"


def count_request() -> None:
    """Count this API request against its caller's limit; past it, 429 with Retry-After."""
    if "api_rate" in g:
        return
    limits: RateLimits = current_app.extensions["billing.api_rate_limits"]
    bucket = _caller_bucket()
    allowed = limits.limiter.hit(limits.limit, "api", bucket)
    reset_at, remaining = limits.limiter.get_window_stats(limits.limit, "api", bucket)
    reset_in = max(0, math.ceil(reset_at - time.time()))
    g.api_rate = RateState(limits.limit.amount, max(0, remaining), reset_in)
    if not allowed:
        abort(
            429,
            message=f"too many requests: {limits.limit.amount} per "
            f"{limits.limit.get_expiry()} s for this key; retry in {max(1, reset_in)} s",
            headers={"Retry-After": str(max(1, reset_in))},
            type="rate_limited",
        )


def _rate_limit_headers(response: Response) -> Response:
    if not request.path.startswith(API_PREFIX):
        return response
    state: RateState | None = g.get("api_rate")
    if state is None:
        # Answered before any operation counted it (an unknown path, a method not taken):
        # counted all the same, so every API response states the limit.
        try:
            count_request()
        except HTTPException:  # over the limit: the answer is made already
            pass
        state = g.get("api_rate")
    if state is not None:
        response.headers["RateLimit-Limit"] = str(state.limit)
        response.headers["RateLimit-Remaining"] = str(state.remaining)
        response.headers["RateLimit-Reset"] = str(state.reset_in)
    return response
