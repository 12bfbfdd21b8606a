"""Bearer API keys: who is calling, for which customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from flask import Response, after_this_request, g, request
from sqlalchemy import Select

from billing.access.services import (
    ApiCaller,
    caller_and_rows,
    caller_for_secret,
    record_api_key_use,
)
from billing.api.common import ApiBlueprint
from billing.api.contract import count_request
from billing.db import Database
from billing.errors import DomainError
from billing.extensions import database, now, session

LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnauthenticatedError(DomainError):
    status = 401
    type = "unauthenticated"


# A SELECT to read in the key check's own statement, and its bound parameters, taken from the
# request before its arguments are checked; or None to read nothing alongside.
AlongsideQuery = tuple[Select[*tuple[Any, ...]], dict[str, Any]]
Alongside = Callable[[], AlongsideQuery | None]


def _authenticate(alongside: Alongside | None) -> None:
    count_request()  # the rate limit first: a caller over it costs no database work
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise UnauthenticatedError("send your API key as 'Authorization: Bearer <key>'")
    # Looked up on every request, so a revoked key is refused at once.
    query = alongside() if alongside is not None else None
    if query is None:
        caller = caller_for_secret(session(), secret.strip())
    else:
        caller, rows = caller_and_rows(session(), secret.strip(), *query)
        g.api_alongside = (query, rows)
    if caller is None:
        raise UnauthenticatedError("the API key is not valid or has been revoked")
    at = now()
    # Last use is kept to the minute, so a busy client does not turn every read into a write.
    if caller.last_used_at is None or at - caller.last_used_at >= LAST_USED_RESOLUTION:
        after_this_request(_stamp_when_sent(database(), caller.key_id, at))
    g.api_caller = caller


def read_alongside(
    stmt: Select[*tuple[Any, ...]], params: dict[str, Any]
) -> list[tuple[Any, ...]] | None:
    """The rows the key check read of this very SELECT with these parameters, or None when it
    read something else (the request's checked arguments differ from the raw ones) or nothing."""
    kept: tuple[AlongsideQuery, list[tuple[Any, ...]]] | None = g.get("api_alongside")
    if kept is None:
        return None
    (read_stmt, read_params), rows = kept
    if read_stmt is not stmt or read_params != params:
        return None
    return rows


def _stamp_when_sent(db: Database, key_id: int, at: datetime) -> Callable[[Response], Response]:
    """Record the key's use once the response has been sent, in a unit of work of its own: the
    request's own (a GET's reads, a POST's work) neither waits for it nor carries it. On SQLite,
    the request's session is closed by then, so the stamp does not wait on its write lock."""

    def stamp() -> None:
        with db.transaction() as own:
            record_api_key_use(own, key_id, at)

    def attach(response: Response) -> Response:
        response.call_on_close(stamp)
        return response

    return attach


def protected_blueprint(
    name: str, import_name: str, description: str, *, alongside: Alongside | None = None
) -> ApiBlueprint:
    """A blueprint whose every request needs a live API key. With `alongside`, the key check
    reads that query's rows in its own statement (one round trip), for the view to take with
    `read_alongside`."""
    blp = ApiBlueprint(name, import_name, description=description)
    blp.before_request(partial(_authenticate, alongside))
    return blp


def current_key() -> ApiCaller:
    return cast(ApiCaller, g.api_caller)
