"""Per-app singletons and the request's unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import cast

import stripe
from flask import current_app, g, has_request_context, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from billing.clock import Clock
from billing.db import Database, unit_of_work

csrf = CSRFProtect()

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def database() -> Database:
    return cast(Database, current_app.extensions["billing.db"])


def clock() -> Clock:
    return cast(Clock, current_app.extensions["billing.clock"])


def now() -> datetime:
    return clock().now()


def session() -> Session:
    """The unit of work of this request or command; the edge commits it once."""
    if "db_session" not in g:
        write = not has_request_context() or request.method not in _SAFE_METHODS
        g.db_session = database().session(write=write)
    return cast(Session, g.db_session)


@contextmanager
def transaction() -> Iterator[Session]:
    """The request's (or command's) unit of work, through the one edge that commits: what the
    block does is committed when it ends, and rolled back on any error. A GET has none: it
    only reads."""
    if has_request_context() and request.method in _SAFE_METHODS:
        raise RuntimeError(f"a {request.method} request must not write")
    with unit_of_work(session()) as work:
        yield work


def stripe_client() -> stripe.StripeClient | None:
    """A Stripe client when STRIPE_SECRET_KEY is set (card payment on), else None. Tests put a
    fake HTTP client in app.extensions["billing.stripe_http"]: nothing goes to the network."""
    key = current_app.config.get("STRIPE_SECRET_KEY") or ""
    if not key:
        return None
    return stripe.StripeClient(
        key, http_client=current_app.extensions.get("billing.stripe_http"), max_network_retries=2
    )


def close_session(_exc: BaseException | None = None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
