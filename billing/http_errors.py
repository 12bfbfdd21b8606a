"""One error shape for the API, an error page for the web, chosen by where the request went."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from billing.errors import DomainError

log = logging.getLogger("billing.errors")
API_PREFIX = "/api/"

# The error `type` of an HTTP status when nothing more precise is known.
TYPE_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}
# What each `type` means, for the document; every `type` the API answers with is here.
ERROR_TYPES = {
    "bad_request": "The request is malformed: not JSON, a NUL byte, a value that cannot be read",
    "unknown_parameter": "A query parameter the operation does not take (named in `errors`)",
    "unauthenticated": "No API key, or one that is unknown or revoked",
    "forbidden": "The key may not do this",
    "not_found": "No such resource of yours",
    "method_not_allowed": "The path does not take this method (see `Allow`)",
    "not_acceptable": "No representation matches `Accept`",
    "conflict": "The resource is not in a state that allows this",
    "spectrum_taken": "The spectrum asked for is no longer free (`errors.alternative` offers "
    "what is)",
    "card_payment_disabled": "Card payment is not offered; pay by bank transfer",
    "nothing_due": "The invoice has nothing left to pay",
    "payment_provider_error": "The card payment provider did not answer as it should; retry",
    "idempotency_in_progress": "A request with this Idempotency-Key is still being worked on; "
    "retry after `Retry-After` seconds",
    "idempotency_key_reused": "This Idempotency-Key was used for another request",
    "precondition_failed": "A precondition header does not hold",
    "payload_too_large": "The body is over 1 MB",
    "unsupported_media_type": "The body is not `application/json`",
    "validation_failed": "A field is missing or not valid (see `errors`, by field)",
    "invalid_request": "The request breaks a business rule (see `message` and `errors`)",
    "rate_limited": "Too many requests for this key; retry after `Retry-After` seconds",
    "server_error": "Something went wrong on our side; nothing was saved",
    "unavailable": "The service is briefly unavailable; retry after `Retry-After` seconds",
}
# Errors worth retrying, and after how many seconds (a 429's own comes from its limit).
RETRY_AFTER_SECONDS = {
    "idempotency_in_progress": 1,
    "payment_provider_error": 30,
    "unavailable": 30,
}


def wants_json() -> bool:
    if request.path.startswith(API_PREFIX) or request.path.startswith("/stripe/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_payload(
    code: int,
    status: str,
    message: str,
    errors: dict[str, Any] | None = None,
    type: str | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "type": type or TYPE_BY_STATUS.get(code, "bad_request" if code < 500 else "server_error"),
        "status": status,
        "message": message,
        "errors": errors or {},
    }


def json_error(
    code: int,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    type: str | None = None,
) -> Response:
    payload = error_payload(code, HTTP_STATUS_CODES.get(code, "Error"), message, errors, type)
    response = jsonify(payload)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    retry_after = RETRY_AFTER_SECONDS.get(payload["type"])
    if retry_after is not None:
        response.headers.setdefault("Retry-After", str(retry_after))
    if code == 401 and request.path.startswith(API_PREFIX):
        response.headers.setdefault("WWW-Authenticate", "Bearer")  # RFC 6750: how to authenticate
    return response


WEBARGS_LOCATIONS = frozenset({"json", "query", "headers", "form", "files", "cookies", "path"})


def _by_field(errors: dict[str, Any]) -> dict[str, Any]:
    """webargs files its messages under where the value came from ({"query": {"page": …}});
    the API's errors are keyed by field alone, as the domain's are ({"page": …})."""
    if (
        errors
        and set(errors) <= WEBARGS_LOCATIONS
        and all(isinstance(v, dict) for v in errors.values())
    ):
        merged: dict[str, Any] = {}
        for location in sorted(errors):
            merged.update(errors[location])
        return merged
    return errors


def _http_message(error: HTTPException) -> tuple[str, dict[str, Any]]:
    data = getattr(error, "data", None) or {}
    errors = _by_field(data.get("errors") or data.get("messages") or {})
    message = data.get("message") or error.description or error.name
    if errors and not data.get("message"):
        message = "The request is not valid; see errors for each field."
    return str(message), errors


def _page_message(error: HTTPException, code: int, message: str) -> str:
    """What an error page says, in the page's language (the API's JSON stays English): the
    common cases in words of the catalogs; a message raised with its own words is shown as
    given, translated where the web layer marked it (billing.web)."""
    if code == 500:
        return str(
            gettext("Something went wrong on our side; nothing was saved. It has been logged.")
        )
    if message != type(error).description:
        return message
    defaults = {
        400: gettext("The request could not be read."),
        403: gettext("You may not open this page."),
        404: gettext("There is no such page here. Check the address, or go back to the dashboard."),
        405: gettext("This page does not take that kind of request."),
        413: gettext("What was sent is too large."),
        429: gettext("Too many requests: wait a moment and try again."),
        503: gettext("The service is briefly unavailable: try again in a minute."),
    }
    return str(defaults.get(code, message))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Any:
        if wants_json():
            return json_error(error.status, error.message, error.errors, type=error.type)
        return render_template(
            "error.html", code=error.status, message=error.message, errors=error.errors
        ), error.status

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        message = "The form expired or was not sent from this site. Reload the page and try again."
        if wants_json():
            return json_error(400, message)
        page_message = gettext(
            "The form expired or was not sent from this site. Reload the page and try again."
        )
        return render_template("error.html", code=400, message=page_message, errors={}), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        code = error.code or 500
        if code >= 500:
            log.error("server error", exc_info=error)
        message, errors = _http_message(error)
        if code == 500:
            message = "Something went wrong on our side; nothing was saved. It has been logged."
        # werkzeug's own headers (a 405's Allow, a 429's Retry-After), then any the raiser gave.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        data = getattr(error, "data", None) or {}
        headers.update(data.get("headers") or {})
        if wants_json():
            return json_error(code, message, errors, headers, data.get("type"))
        response = error.get_response()
        if code in (301, 302, 303, 307, 308):
            return response
        return render_template(
            "error.html", code=code, message=_page_message(error, code, message), errors=errors
        ), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error")
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise error
        return _http(InternalServerError())
