"""Stripe without network, for tests: a fake HTTP client behind the real stripe library, and
webhook payloads signed the way Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs

import stripe

SECRET_KEY = "sk_test_fake"  # noqa: S105 - a test key that never leaves the process
WEBHOOK_SECRET = "whsec_test_fake"  # noqa: S105


class FakeStripeHttp(stripe.HTTPClient):
    """Records every request the library makes and answers Checkout Session creations as Stripe
    does: the same Idempotency-Key gets the same session back."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self._sessions: dict[str, str] = {}

    def request(  # type: ignore[override]
        self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None
    ) -> tuple[str, int, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(post_data or "").items()}
        self.requests.append({"method": method, "url": url, "headers": dict(headers), "form": form})
        key = dict(headers).get("Idempotency-Key", f"none-{len(self.requests)}")
        if key not in self._sessions:
            n = len(self._sessions) + 1
            self._sessions[key] = json.dumps(
                {
                    "id": f"cs_test_{n}",
                    "object": "checkout.session",
                    "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}",
                    "expires_at": 1_800_000_000,
                    "metadata": {"invoice_number": form.get("metadata[invoice_number]")},
                }
            )
        return self._sessions[key], 200, {"Request-Id": f"req_{len(self.requests)}"}

    def close(self) -> None:
        pass


def signed(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    """The headers Stripe sends: Stripe-Signature t=<time>,v1=<HMAC-SHA256 of "t.body">."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


def event(event_id: str, kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}
    ).encode()


def checkout_completed(
    event_id: str, number: str, minor: int, currency: str = "usd", intent: str = "pi_1"
) -> bytes:
    return event(
        event_id,
        "checkout.session.completed",
        {
            "id": f"cs_{intent}",
            "object": "checkout.session",
            "payment_intent": intent,
            "payment_status": "paid",
            "amount_total": minor,
            "currency": currency,
            "metadata": {"invoice_number": number},
        },
    )


def charge_refunded(
    event_id: str, intent: str, refunded_minor: int, currency: str = "usd"
) -> bytes:
    return event(
        event_id,
        "charge.refunded",
        {
            "id": f"ch_{intent}",
            "object": "charge",
            "payment_intent": intent,
            "amount_refunded": refunded_minor,
            "currency": currency,
        },
    )
