"""Bearer API keys: who is calling, for which customer."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from flask import g, request
from flask_smorest import Blueprint
from sqlalchemy import update

from billing.access.models import ApiKey
from billing.access.services import ApiCaller, caller_for_secret
from billing.errors import DomainError
from billing.extensions import database, now, session

LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnauthenticatedError(DomainError):
    status = 401


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise UnauthenticatedError("send your API key as 'Authorization: Bearer <key>'")
    caller = caller_for_secret(session(), secret.strip())
    if caller is None:
        raise UnauthenticatedError("the API key is not valid or has been revoked")
    at = now()
    # Last use is kept to the minute, so a busy client does not turn every read into a write.
    # It is written in its own short unit of work, apart from the request's.
    if caller.last_used_at is None or at - caller.last_used_at >= LAST_USED_RESOLUTION:
        # End the request's transaction first: it has only read the key, and on SQLite a POST's
        # holds the write lock from its first statement, so the short one would wait on it.
        session().commit()
        with database().transaction() as own:
            own.execute(update(ApiKey).where(ApiKey.id == caller.key_id).values(last_used_at=at))
    g.api_caller = caller


def protected_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    blp = Blueprint(name, import_name, description=description)
    blp.before_request(_authenticate)
    return blp


def current_key() -> ApiCaller:
    return cast(ApiCaller, g.api_caller)
