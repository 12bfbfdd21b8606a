"""Trans-Caspian capacity wholesale and billing platform."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify

from billing.clock import Clock, SystemClock
from billing.config import load_settings
from billing.db import Database
from billing.extensions import close_session, csrf, database

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "web" / "static"),
        instance_path=str(ROOT / "instance"),
    )
    overrides = dict(config or {})
    clock: Clock = overrides.pop("CLOCK", None) or SystemClock()
    app.config.update(load_settings(app.instance_path, overrides))
    if (
        app.config["DATABASE_URL"].startswith("sqlite:///")
        and ":memory:" not in app.config["DATABASE_URL"]
    ):
        Path(app.config["DATABASE_URL"][len("sqlite:///") :]).parent.mkdir(
            parents=True, exist_ok=True
        )
    app.extensions["billing.db"] = Database(
        app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"], now=clock.now
    )
    app.extensions["billing.clock"] = clock
    app.teardown_appcontext(close_session)

    from billing.logs import configure_logging

    configure_logging(app)
    from billing.pdf import warn_about_missing_libraries

    warn_about_missing_libraries()
    csrf.init_app(app)

    from billing.api import register_api
    from billing.cli import register_cli
    from billing.http_errors import register_error_handlers
    from billing.input_guard import register_id_converter
    from billing.web import register_web

    register_id_converter(app)
    register_api(app)
    register_web(app)
    register_cli(app)
    register_error_handlers(app)
    from billing.http_headers import register_security_headers

    register_security_headers(app)
    from billing.input_guard import register_input_guard

    register_input_guard(app)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        try:
            with database().engine.connect() as conn:
                # sa.text: importing billing.text binds `text` in this package to that module.
                conn.execute(sa.text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            return jsonify(status="unavailable", error=type(error).__name__), 503
        return jsonify(status="ok", database=database().dialect)

    return app


__all__ = ["Database", "create_app"]
