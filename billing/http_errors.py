"""One error shape for the API, an error page for the web, chosen by where the request went."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from billing.errors import DomainError

log = logging.getLogger("billing.errors")
API_PREFIX = "/api/"


def wants_json() -> bool:
    if request.path.startswith(API_PREFIX) or request.path.startswith("/stripe/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_payload(
    code: int, status: str, message: str, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"code": code, "status": status, "message": message, "errors": errors or {}}


def json_error(
    code: int,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify(error_payload(code, HTTP_STATUS_CODES.get(code, "Error"), message, errors))
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
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


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Any:
        if wants_json():
            return json_error(error.status, error.message, error.errors)
        return render_template(
            "error.html", code=error.status, message=error.message, errors=error.errors
        ), error.status

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        message = "The form expired or was not sent from this site. Reload the page and try again."
        if wants_json():
            return json_error(400, message)
        return render_template("error.html", code=400, message=message, errors={}), 400

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
        headers.update(getattr(error, "data", {}).get("headers") or {})
        if wants_json():
            return json_error(code, message, errors, headers)
        response = error.get_response()
        if code in (301, 302, 303, 307, 308):
            return response
        return render_template("error.html", code=code, message=message, errors=errors), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error")
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise error
        return _http(InternalServerError())
