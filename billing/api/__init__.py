"""The wholesale JSON API under /api/v1 (SPEC 9), documented by its own OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api

from billing.extensions import csrf

API_PREFIX = "/api/v1"
DOCS_ASSETS = f"{API_PREFIX}/docs/assets/"


def _docs_assets() -> Blueprint:
    """Swagger UI's files, served by the platform itself: the docs work with no internet."""
    import swagger_ui_bundle

    bp = Blueprint("api_docs_assets", __name__)

    @bp.get(f"{DOCS_ASSETS}<path:filename>")
    def asset(filename: str) -> Any:
        response = send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
        return response

    return bp


def register_api(app: Flask) -> None:
    from billing.api.contract import INFO, ContractPlugin, init_rate_limits

    app.config.update(
        API_TITLE="Trans-Caspian Fiber wholesale API",
        API_VERSION="v1",
        # 3.0.3: the Swagger UI served at /docs (4.x) reads no 3.1. A nullable nested object is
        # written `anyOf: [{$ref}, null-only]` (see nullable_ref), which validators and
        # generated clients read as "that type, or None".
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
        API_SPEC_OPTIONS={
            "info": INFO,  # description (errors, limits, changelog), contact, licence
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                },
            },
            "security": [{"bearerAuth": []}],
        },
    )
    from billing.api import (
        availability,
        balance,
        contracts,
        invoices,
        products,
        quotes,
        routes,
        services,
        webhook_endpoints,
    )
    from billing.api.common import ErrorSchema, enum_ref, nullable_ref
    from billing.input_guard import RecordIdConverter
    from billing.validation import INT_MAX

    # The description gains the Webhooks section (a copy: the options' dict may be shared).
    info = dict(app.config["API_SPEC_OPTIONS"]["info"])
    info["description"] = info["description"] + "\n" + webhook_endpoints.WEBHOOKS_DESCRIPTION
    app.config["API_SPEC_OPTIONS"]["info"] = info

    class BillingApi(Api):  # type: ignore[misc]
        ERROR_SCHEMA = ErrorSchema

        def _register_pagination_header(self) -> None:
            """Pages carry their `meta` in the body; flask-smorest's header schema is unused."""

    api = BillingApi(app, spec_kwargs={"extra_plugins": [ContractPlugin()]})
    init_rate_limits(app)
    api.register_converter(
        RecordIdConverter, lambda _: {"type": "integer", "minimum": 1, "maximum": INT_MAX}
    )
    api.ma_plugin.converter.add_attribute_function(nullable_ref)
    api.ma_plugin.converter.add_attribute_function(enum_ref)
    app.extensions["billing.api"] = api
    # A blueprint's name is its tag in the document: Routes, Availability, Products, …
    for module in (
        routes,
        availability,
        products,
        quotes,
        contracts,
        services,
        invoices,
        balance,
        webhook_endpoints,
    ):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix=API_PREFIX)
    app.register_blueprint(_docs_assets())
    # A webhook's `data` is its subject as these resources' GET shows it (billing/outbound).
    webhook_endpoints.register_subjects(quotes.quote_json, quotes.QuoteSchema)
