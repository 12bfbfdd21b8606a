"""POST /stripe/webhook (SPEC 6): Stripe's events, verified and recorded once.

The signature is checked by the stripe library (stripe.WebhookSignature, 300 s tolerance into
the past) and here for the future (the library does not); a bad, stale or future one answers 400
and records nothing, as does a signed event that is malformed (payments.webhooks.read_event). JSON in and out, no CSRF token (Stripe signs
instead). Two deliveries of one event at the same moment: the unique event id lets one through;
the other answers 200 as a duplicate once the first has committed.
"""

from __future__ import annotations

import time
from typing import Any

import stripe
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from billing.errors import DomainError
from billing.extensions import csrf, now, transaction
from billing.payments.webhooks import read_event, record_event, seen_event

bp = Blueprint("stripe_webhook", __name__)
TOLERANCE_SECONDS = 300


def _answer(status: int, message: str, **extra: Any) -> Any:
    return jsonify({"code": status, "message": message, **extra}), status


@bp.post("/stripe/webhook")
def webhook() -> Any:
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        return _answer(400, "webhooks are off: STRIPE_WEBHOOK_SECRET is not set")
    payload = request.get_data()
    header = request.headers.get("Stripe-Signature", "")
    try:
        # Stripe sends UTF-8 JSON and the library checks the signature over the text.
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _answer(400, "not a Stripe event: the body is not UTF-8")
    try:
        stripe.WebhookSignature.verify_header(text, header, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        return _answer(400, "the signature is missing, wrong or too old")
    # The library refuses a timestamp too far in the past only; one too far ahead is refused
    # too, on the same wall clock the library reads (Stripe's clock, not the business clock).
    if _signed_at(header) > time.time() + TOLERANCE_SECONDS:
        return _answer(400, "the signature's timestamp is in the future")
    try:
        event = read_event(payload)
    except DomainError as error:
        return _answer(400, f"not a Stripe event this platform can read: {error.message}")
    # A concurrent delivery of the same event (or another event of the same payment) fails on a
    # unique index; the second try sees what the first committed.
    for attempt in range(2):
        try:
            with transaction() as work:
                if seen_event(work, event.id):
                    return _answer(200, "duplicate: this event was recorded already")
                stored = record_event(work, event, now=now())
                outcome = stored.outcome
            return _answer(200, outcome)
        except DomainError as error:  # rolled back: nothing written
            return _answer(400, f"not a Stripe event this platform can act on: {error.message}")
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _signed_at(header: str) -> int:
    """The t= of a Stripe-Signature header that the library has verified (its first, as the
    library reads it); a t= that is no ASCII number counts as the far future."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value) if value.isascii() and value.isdigit() else 2**63
    return 2**63


csrf.exempt(webhook)
