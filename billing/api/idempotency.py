"""Idempotency-Key on every POST (SPEC 9): the same key and body replay the first response.

A POST view parses its key with `IdempotencyKeySchema` and hands its work to `idempotent`, which
runs it in the request's unit of work: one commit, with the record of the response in the same
transaction as the work. The record is inserted before the work is done, so a second request with
the same key waits on the unique (customer, key) index instead of doing the work a second time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, post_load, validate
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.access.models import IdempotencyRecord
from billing.access.queries import find_idempotency_record
from billing.api.auth import current_key
from billing.api.fields import Text
from billing.errors import ConflictError, InvalidRequestError
from billing.extensions import now, session, transaction

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IN_PROGRESS = 0  # response_status of a record whose work has not finished (never committed)
MAX_KEY_LENGTH = 255
KEY_LIFETIME = timedelta(hours=24)

DESCRIPTION = (
    "Optional. A key of 1–255 visible ASCII characters, unique per request you mean to make "
    "once (a UUID is a good choice). Sent again with the same body, the first response is "
    f"replayed with the header `{REPLAYED_HEADER}: true`, and nothing is done twice; sent with "
    "another body or path, the request is refused with 422. Only successful (2xx) responses are "
    "kept: after an error nothing is stored, so the same key may be retried. Keys are scoped to "
    "your customer and expire 24 hours after their first use: sent after that, the request is "
    "a new one."
)

# Documents the header on the success response of every POST.
REPLAY_HEADERS = {
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored response to an earlier request with the "
        f"same {HEADER} and body; absent otherwise",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

# ... and, on a 201, where what it made answers.
CREATED_HEADERS = {
    **REPLAY_HEADERS,
    "Location": {
        "description": "The URL of what was created",
        "schema": {"type": "string"},
    },
}


class IdempotencyKeySchema(Schema):
    idempotency_key = Text(
        max_length=MAX_KEY_LENGTH,
        data_key=HEADER,
        validate=validate.Regexp(
            rf"^[!-~]{{1,{MAX_KEY_LENGTH}}}$",
            error=f"1 to {MAX_KEY_LENGTH} visible ASCII characters, no spaces",
        ),
        metadata={"description": DESCRIPTION},
    )

    @post_load
    def _absent_is_none(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # No load_default: the document would state a null default, and the header is never null.
        data.setdefault("idempotency_key", None)
        return data


def request_hash() -> str:
    """SHA-256 of the method, the path and the body as canonical JSON (key order and spacing
    do not matter); a body that is not JSON is hashed as sent."""
    body = request.get_json(silent=True)
    canonical = (
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if body is not None
        else request.get_data()
    )
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), canonical):
        digest.update(part)
        digest.update(b"\n")
    return digest.hexdigest()


Location = Callable[[dict[str, Any]], str]


def _json(
    body: dict[str, Any],
    status: int,
    *,
    replayed: bool = False,
    location: Location | None = None,
) -> Response:
    response = jsonify(body)
    response.status_code = status
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    if location is not None and status == 201:
        response.headers["Location"] = location(body)
    return response


def _replay(
    found: IdempotencyRecord, fingerprint: str, location: Location | None = None
) -> Response:
    if found.request_hash != fingerprint:
        raise InvalidRequestError(
            f"the {HEADER} {found.key!r} was used for another request "
            f"({found.method} {found.path} with another body); use a new key",
            {HEADER: ["already used for another request"]},
            type="idempotency_key_reused",
        )
    if found.response_status == IN_PROGRESS:
        raise ConflictError(
            f"a request with this {HEADER} is in progress; retry shortly",
            type="idempotency_in_progress",
        )
    return _json(found.response_body, found.response_status, replayed=True, location=location)


def _forget_expired(db: Session, customer_id: int) -> None:
    """Keys live 24 hours: the customer's older records are deleted before the key is looked up,
    so a key sent again after that is a new request, and old records do not pile up."""
    db.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.customer_id == customer_id,
            IdempotencyRecord.created_at <= now() - KEY_LIFETIME,
        )
    )


class _KeyTakenError(Exception):
    """Another request holds this key: it committed first, or is still at work."""


def _claim(db: Session, customer_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    """Insert the key's record, in progress; before the work, so a second request waits for it."""
    record = IdempotencyRecord(
        customer_id=customer_id,
        key=key,
        method=request.method,
        path=request.path[:255],
        request_hash=fingerprint,
        response_status=IN_PROGRESS,
        response_body={},
        created_at=now(),
    )
    try:
        # On PostgreSQL a concurrent request with the same key waits here, on the unique index,
        # until the first one commits (then fails) or rolls back (then goes on).
        db.add(record)
        db.flush()
    except IntegrityError:
        raise _KeyTakenError from None
    return record


def idempotent(
    key: str | None,
    *,
    status: int,
    schema: Schema,
    work: Callable[[], Any],
    location: Location | None = None,
) -> Response:
    """Do `work` once per key, dump its result with `schema` and commit; or replay.

    `location` gives a 201's `Location` header (the URL of what was made) from the body, on the
    first response and on replays alike.

    Without a key the work is simply done and committed. An error raised by the work leaves no
    record (the transaction is rolled back), so only successful responses are ever replayed.
    """
    if key is None:
        with transaction():
            body = schema.dump(work())
        return _json(body, status, location=location)

    customer_id = current_key().customer_id
    fingerprint = request_hash()
    try:
        with transaction() as db:
            _forget_expired(db, customer_id)
            found = find_idempotency_record(db, customer_id, key)
            if found is not None:
                return _replay(found, fingerprint, location)
            record = _claim(db, customer_id, key, fingerprint)
            body = schema.dump(work())
            record.response_status = status
            record.response_body = body
    except _KeyTakenError:
        found = find_idempotency_record(session(), customer_id, key)
        if found is None:
            raise ConflictError(
                f"a request with this {HEADER} is in progress; retry shortly",
                type="idempotency_in_progress",
            ) from None
        return _replay(found, fingerprint, location)
    return _json(body, status, location=location)
