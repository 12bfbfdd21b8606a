"""Structured (JSON lines) logs, one line per request."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

# What a log line must never carry (SPEC 8), whatever put it there: an exception's text, a
# message, a field. The engine already hides bound parameters (billing/db.py); this is the net
# under it, for values a database or a library echoes by itself.
_REDACTIONS = [
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: redacted]"),
    (re.compile(r"\b(?:scrypt|pbkdf2)[:$][^\s'\",)\]]+"), "[password hash redacted]"),
    (re.compile(r"\btcf_[A-Za-z0-9_-]{8,}"), "[API key redacted]"),
    # Stripe's secret, restricted and webhook-signing keys, and a Stripe-Signature header.
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"), "[Stripe key redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"), "[Stripe key redacted]"),
    (re.compile(r"(Stripe-Signature:\s*)[^\s'\"]+", re.I), r"\1[redacted]"),
    (re.compile(r"\b[0-9a-fA-F]{64}\b"), "[digest redacted]"),
    (re.compile(r"\b(session=)[^;\s'\"]+"), r"\1[redacted]"),
    (re.compile(r"(Key \([^)]*\)=)\(.*?\)(?= |$)", re.M), r"\1(redacted)"),
    (re.compile(r"(Failing row contains )\(.*\)"), r"\1(redacted)"),
    # A query parameter named like a secret (?api_key=, &token=, client_secret=, password=,
    # signature=…), wherever a URL or a bare query string appears: an access log line, a
    # referer, an error. Its name is kept, its value not.
    (
        re.compile(
            r"(?<![\w.-])((?:[\w.\[\]-]*(?:key|token|secret|passw(?:or)?d|pwd|signature"
            r"|credential|auth)[\w.\[\]-]*|sig)=)(?!\[[^\]]*redacted\])[^&;\s\"'#]+",
            re.I,
        ),
        r"\1[redacted]",
    ),
]
REQUEST_ID_HEADER = "X-Request-Id"
# A caller's own id is kept when it is sane; anything else is replaced by one made here.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Loggers of the servers that run the app: their access lines carry the full request line.
SERVER_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """The same net for lines the app does not format itself: a server's access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def request_id() -> str | None:
    """The id of the request being served (its X-Request-Id), or None outside a request."""
    if not has_request_context():
        return None
    rid: str | None = g.get("request_id")
    return rid


def _take_request_id() -> str:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    return sent if SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        # Every line logged while a request is served names it, as its response does.
        if (rid := request_id()) is not None:
            entry["request_id"] = rid
        for name, value in getattr(record, "fields", {}).items():
            entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(app: Flask) -> None:
    logger = logging.getLogger("billing")
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.propagate = False
    for name in SERVER_LOGGERS:
        server = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in server.filters):
            server.addFilter(RedactingFilter())
    access = logging.getLogger("billing.request")

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()
        g.request_id = _take_request_id()

    @app.after_request
    def _log_request(response: Response) -> Response:
        started = g.get("request_started")
        # Set here, not only in before_request: a request refused before it (a 404 of no route,
        # a 405) still has an id to quote.
        rid = g.get("request_id") or _take_request_id()
        g.request_id = rid
        response.headers[REQUEST_ID_HEADER] = rid
        elapsed = (time.perf_counter() - started) * 1000 if started else None
        access.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(elapsed, 1) if elapsed is not None else None,
                    "request_id": rid,
                }
            },
        )
        return response
