"""Domain errors. Each maps to one HTTP status at the edge (API, web, CLI)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """`type` is the machine-readable kind beside the status (the API's error `type`): the
    class's, or one given for this error (`card_payment_disabled`, `nothing_due`, …)."""

    status = 400
    type = "bad_request"

    def __init__(
        self, message: str, errors: dict[str, Any] | None = None, *, type: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if type is not None:
            self.type = type


class InvalidRequestError(DomainError):
    """Input that is well-formed but breaks a business rule."""

    status = 422
    type = "invalid_request"


class NotFoundError(DomainError):
    status = 404
    type = "not_found"


class PermissionDeniedError(DomainError):
    status = 403
    type = "forbidden"


class ConflictError(DomainError):
    status = 409
    type = "conflict"
