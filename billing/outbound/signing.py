"""Signing a webhook's body, as Stripe does (SPEC 13): values in, values out.

`TCF-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The receiver computes
the same HMAC over the raw body it received, compares with `hmac.compare_digest` and refuses a
`t` more than 5 minutes from its own clock (a replayed capture).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

HEADER = "TCF-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def event_body(public_id: str, type_: str, created: datetime, data: dict[str, Any]) -> bytes:
    """The body of a delivery: the same bytes every time for the same event (a replay too)."""
    document = {"id": public_id, "type": type_, "created": int(created.timestamp()), "data": data}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
