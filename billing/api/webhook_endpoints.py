"""/webhook-endpoints: where a customer's events are POSTed, signed, and the log of deliveries
(SPEC 13). Also the functions that show an event's subject as the API's GET does (a webhook's
`data`), registered with billing/outbound when the API is."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import API_PREFIX, NoQueryArgsSchema, PageArgsSchema, page_schema
from billing.api.fields import Text
from billing.api.idempotency import (
    CREATED_HEADERS,
    REPLAY_HEADERS,
    IdempotencyKeySchema,
    idempotent,
)
from billing.api.schemas import InvoiceSchema, ServiceSchema, invoice_json, service_json
from billing.calendar import local_date
from billing.db import Page, fetch_page
from billing.errors import NotFoundError
from billing.extensions import now, session, transaction
from billing.invoicing.models import Invoice
from billing.jobs.outbound import replayed
from billing.outbound.models import URL_LENGTH, WebhookDelivery, WebhookEndpoint
from billing.outbound.services import (
    EVENT_TYPES,
    create_endpoint,
    delete_endpoint,
    delivery_listing,
    endpoint_listing,
    get_endpoint,
    replay_delivery,
)
from billing.outbound.subjects import register_subject
from billing.sales.models import Quote, Service

blp = protected_blueprint(
    "Webhook endpoints",
    __name__,
    "Where your events are sent, signed with `TCF-Signature`, and the log of each delivery",
)

# The "Webhooks" section of the API's description (billing/api/__init__.py adds it).
WEBHOOKS_DESCRIPTION = f"""
## Webhooks

Register an endpoint (`POST /api/v1/webhook-endpoints`, or the portal's Webhooks page) and we
POST each event of the types you chose to its URL: {", ".join(f"`{t}`" for t in EVENT_TYPES)}.

The body is JSON: `{{"id": "evt_…", "type": "invoice.issued", "created": <unix time>,
"data": {{…}}}}`, where `data` is the subject as this API's GET shows it when the event is first
delivered: the invoice or credit note for `invoice.*` and `credit_note.issued` (as
`GET /invoices/{{number}}`), the service for `service.*` (`GET /services/{{circuit_id}}`), the
quote for `quote.expiring` (`GET /quotes/{{id}}`). A retry or a replay sends the same bytes. Use
`id` to recognise an event you have already handled.

Each request carries `Content-Type: application/json`, `User-Agent: TCF-Webhooks/1`,
`TCF-Event-Id: evt_…` and `TCF-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`, where the HMAC is
keyed with your endpoint's secret (`whsec_…`, shown once, when the endpoint is created) over
`"<t>.<raw body>"`. Verify it before trusting the body, and refuse a `t` more than 5 minutes from
your clock:

```python
import hashlib, hmac, time

def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    t = int(parts["t"])
    if abs(time.time() - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{{t}}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])
```

Answer with any 2xx status within 10 seconds. Anything else (another status, a redirect, which is
not followed, a timeout or a refused connection) is retried with exponential backoff: after 30
seconds, then 1, 2, 4… minutes, at most 6 hours apart, for 3 days from the first attempt. An
endpoint with no successful delivery for 3 days is disabled and your billing contacts are told;
enable it again in the portal. `GET /webhook-endpoints/{{id}}/deliveries` is the delivery log
(each attempt's status code and the first 1 KB of your answer), and
`POST …/deliveries/{{delivery_id}}/replay` sends a delivery again, signed anew.

URLs must be `https://` to a host whose every address is public: loopback, private, link-local
and other internal addresses are refused when the endpoint is registered and before every
attempt.
"""

ENDPOINT_ID = re.compile(r"we_[0-9a-f]{24}")
DELIVERY_ID = re.compile(r"whd_[0-9a-f]{24}")
DELIVERY_STATES = ["pending", "succeeded", "failed"]


class EndpointRequestSchema(Schema):
    url = Text(
        max_length=URL_LENGTH,
        required=True,
        metadata={
            "description": "Where to POST the events: https://, to a host with public addresses "
            "only; no user name or password in it",
            "example": "https://example.com/tcf/webhooks",
        },
    )
    events = fields.List(
        Text(max_length=64, validate=validate.OneOf(EVENT_TYPES)),
        required=True,
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"description": "The event types to send: " + ", ".join(EVENT_TYPES)},
    )


class EndpointSchema(Schema):
    id = fields.String(required=True, attribute="public_id", metadata={"example": "we_…"})
    url = fields.String(required=True)
    events = fields.List(fields.String(metadata={"enum": list(EVENT_TYPES)}), required=True)
    status = fields.String(required=True, metadata={"enum": ["enabled", "disabled"]})
    disabled_reason = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why it was disabled (3 days without a successful delivery)"},
    )
    created_at = fields.DateTime(required=True)
    first_failure_at = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "The first failed attempt since the last success, if any"},
    )


class CreatedEndpointSchema(EndpointSchema):
    secret = fields.String(
        required=True,
        metadata={
            "description": "The signing secret (`whsec_…`): shown in this answer only. Keep it "
            "to verify `TCF-Signature`.",
        },
    )


class DeliverySchema(Schema):
    id = fields.String(required=True, attribute="public_id", metadata={"example": "whd_…"})
    event = fields.String(
        required=True, metadata={"description": "The event's id (`evt_…`), as in the body"}
    )
    event_type = fields.String(required=True, metadata={"enum": list(EVENT_TYPES)})
    status = fields.String(required=True, metadata={"enum": DELIVERY_STATES})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True)
    last_attempt_at = fields.DateTime(required=True, allow_none=True)
    last_response_code = fields.Integer(required=True, allow_none=True)
    last_response_body = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The first 1 KB of your server's last answer, as text"},
    )
    last_error = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(required=True, allow_none=True)


EndpointPageSchema = page_schema(EndpointSchema, "WebhookEndpointPage")
DeliveryPageSchema = page_schema(DeliverySchema, "WebhookDeliveryPage")


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "public_id": delivery.public_id,
        "event": delivery.event.public_id,
        "event_type": delivery.event.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "last_response_code": delivery.last_response_code,
        "last_response_body": delivery.last_response_body,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
    }


def _actor() -> str:
    caller = current_key()
    return f"api key {caller.prefix}… ({caller.customer_name})"[:200]


def _endpoint(endpoint_id: str) -> WebhookEndpoint:
    if not ENDPOINT_ID.fullmatch(endpoint_id):
        raise NotFoundError(f"no webhook endpoint {endpoint_id[:40]}")
    return get_endpoint(session(), endpoint_id, customer_id=current_key().customer_id)


def _check_delivery_id(delivery_id: str) -> None:
    if not DELIVERY_ID.fullmatch(delivery_id):
        raise NotFoundError(f"no delivery {delivery_id[:40]} of this endpoint")


def _production() -> bool:
    return bool(current_app.config.get("BILLING_ENV") == "production")


def _create(body: dict[str, Any]) -> WebhookEndpoint:
    return create_endpoint(
        session(),
        current_key().customer_id,
        url=body["url"],
        events=body["events"],
        actor=_actor(),
        now=now(),
        production=_production(),
    )


def _replay(endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    if not ENDPOINT_ID.fullmatch(endpoint_id):
        raise NotFoundError(f"no webhook endpoint {endpoint_id[:40]}")
    _check_delivery_id(delivery_id)
    delivery = replay_delivery(
        session(),
        endpoint_id,
        delivery_id,
        customer_id=current_key().customer_id,
        actor=_actor(),
        now=now(),
    )
    replayed(session(), delivery.id)
    return delivery_json(delivery)


def endpoint_url(body: dict[str, Any]) -> str:
    return f"{API_PREFIX}/webhook-endpoints/{body['id']}"


@blp.route("/webhook-endpoints")
class Endpoints(MethodView):
    @blp.doc(operationId="listWebhookEndpoints")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, EndpointPageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid arguments")
    def get(self, args: dict[str, Any]) -> Page[WebhookEndpoint]:
        """List your webhook endpoints, newest first (their secrets are never shown again)."""
        stmt = endpoint_listing(current_key().customer_id)
        return fetch_page(session(), stmt, args["page"], args["per_page"])

    @blp.doc(operationId="createWebhookEndpoint")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(EndpointRequestSchema)
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(201, CreatedEndpointSchema, headers=CREATED_HEADERS)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(
        409,
        schema="Error",
        description="Too many endpoints, or a request with this Idempotency-Key is in progress",
    )
    @blp.alt_response(
        422,
        schema="Error",
        description="An invalid URL (not https, a private or loopback address, credentials in "
        "it…) or event type, or an Idempotency-Key already used for another request",
    )
    def post(self, body: dict[str, Any], idempotency_key: str | None) -> Response:
        """Register an endpoint for some of your events; the answer holds its signing secret,
        shown this once.

        Every event of the chosen types is POSTed to the URL as JSON, signed; see "Webhooks" in
        the description of this API.
        """
        return idempotent(
            idempotency_key,
            status=201,
            schema=CreatedEndpointSchema(),
            work=lambda: _create(body),
            location=endpoint_url,
        )


@blp.route("/webhook-endpoints/<endpoint_id>")
class EndpointView(MethodView):
    @blp.doc(operationId="getWebhookEndpoint")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, EndpointSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such endpoint of yours")
    def get(self, endpoint_id: str) -> WebhookEndpoint:
        """One of your webhook endpoints (without its secret)."""
        return _endpoint(endpoint_id)

    @blp.doc(operationId="deleteWebhookEndpoint")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(204)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such endpoint of yours")
    def delete(self, endpoint_id: str) -> None:
        """Delete an endpoint and its delivery log: nothing more is sent to it."""
        if not ENDPOINT_ID.fullmatch(endpoint_id):
            raise NotFoundError(f"no webhook endpoint {endpoint_id[:40]}")
        with transaction():
            delete_endpoint(
                session(),
                endpoint_id,
                customer_id=current_key().customer_id,
                actor=_actor(),
                now=now(),
            )


@blp.route("/webhook-endpoints/<endpoint_id>/deliveries")
class Deliveries(MethodView):
    @blp.doc(operationId="listWebhookDeliveries")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, DeliveryPageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such endpoint of yours")
    @blp.alt_response(422, schema="Error", description="Invalid arguments")
    def get(self, args: dict[str, Any], endpoint_id: str) -> Page[dict[str, Any]]:
        """The endpoint's delivery log, newest first: each event sent, its attempts and your
        server's last answer."""
        endpoint = _endpoint(endpoint_id)
        page = fetch_page(session(), delivery_listing(endpoint.id), args["page"], args["per_page"])
        return page.map(delivery_json)


@blp.route("/webhook-endpoints/<endpoint_id>/deliveries/<delivery_id>/replay")
class ReplayDelivery(MethodView):
    @blp.doc(operationId="replayWebhookDelivery")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)
    @blp.response(200, DeliverySchema, headers=REPLAY_HEADERS)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such endpoint or delivery of yours")
    @blp.alt_response(
        409,
        schema="Error",
        description="The endpoint is disabled, or a request with this Idempotency-Key is in "
        "progress",
    )
    @blp.alt_response(
        422, schema="Error", description="An Idempotency-Key already used for another request"
    )
    def post(self, endpoint_id: str, delivery_id: str, idempotency_key: str | None) -> Response:
        """Send a delivery again now: the same body, signed anew; a new series of retries if
        it fails. The answer is the delivery, pending."""
        return idempotent(
            idempotency_key,
            status=200,
            schema=DeliverySchema(),
            work=lambda: _replay(endpoint_id, delivery_id),
        )


# --- a webhook's `data`: the subject as its GET shows it ------------------------------------


def _invoice(db: Session, subject_id: str, at: datetime) -> dict[str, Any]:
    invoice = db.get(Invoice, int(subject_id))
    if invoice is None:
        raise NotFoundError(f"no invoice {subject_id}")
    data: dict[str, Any] = InvoiceSchema().dump(
        invoice_json(invoice, local_date(at, invoice.issuer.time_zone))
    )
    return data


def _service(db: Session, subject_id: str, at: datetime) -> dict[str, Any]:
    service = db.get(Service, int(subject_id))
    if service is None:
        raise NotFoundError(f"no service {subject_id}")
    data: dict[str, Any] = ServiceSchema().dump(service_json(service, at))
    return data


QuoteJson = Callable[[Quote, datetime], dict[str, Any]]


def register_subjects(quote_json: QuoteJson, quote_schema: type[Schema]) -> None:
    """Register how a webhook shows its subject; the quote's read model is its resource's own
    (billing/api/quotes.py), handed in by the API's frame (resources never import each other)."""

    def show_quote(db: Session, subject_id: str, at: datetime) -> dict[str, Any]:
        quote = db.get(Quote, int(subject_id))
        if quote is None:
            raise NotFoundError(f"no quote {subject_id}")
        data: dict[str, Any] = quote_schema().dump(quote_json(quote, at))
        return data

    register_subject("invoice", _invoice)
    register_subject("service", _service)
    register_subject("quote", show_quote)
