"""Security headers on every response (SPEC 8): the page, the API, static files and errors."""

from __future__ import annotations

from flask import Flask, Response

# Only the platform's own origin, and no inline script: a page cannot run code it did not serve
# from a file of ours, and no other site may frame it (the one-click buttons cannot be clickjacked).
# `data:` images are Swagger UI's CSS icons.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"


def register_security_headers(app: Flask) -> None:
    production = app.config["BILLING_ENV"] == "production"

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
