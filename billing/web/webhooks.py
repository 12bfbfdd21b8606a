"""POST /stripe/webhook (SPEC 6): Stripe's events, verified and recorded once.

The signature is checked by the stripe library (stripe.Webhook.construct_event, 300 s tolerance);
a bad or stale one answers 400 and records nothing. JSON in and out, no CSRF token (Stripe signs
instead). Two deliveries of one event at the same moment: the unique event id lets one through;
the other answers 200 as a duplicate once the first has committed.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from billing.extensions import csrf, now, transaction
from billing.payments.webhooks import record_event, seen_event

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
    try:
        stripe.Webhook.construct_event(
            payload, request.headers.get("Stripe-Signature"), secret, tolerance=TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError):
        return _answer(400, "the signature is missing, wrong or too old")
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        return _answer(400, "not a Stripe event")
    # A concurrent delivery of the same event (or another event of the same payment) fails on a
    # unique index; the second try sees what the first committed.
    for attempt in range(2):
        try:
            with transaction() as work:
                if seen_event(work, str(event["id"])):
                    return _answer(200, "duplicate: this event was recorded already")
                stored = record_event(work, event, now=now())
                outcome = stored.outcome
            return _answer(200, outcome)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


csrf.exempt(webhook)
