"""Server-rendered pages for staff (SPEC 10): Jinja, no JavaScript build, nothing from a CDN."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from billing.web.auth import load_current_user


def register_web(app: Flask) -> None:
    from billing.web import admin, auth, inventory

    app.before_request(load_current_user)
    for module in (auth, inventory, admin):
        app.register_blueprint(module.bp)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"current_user": g.get("user")}

    @app.template_filter("thz")
    def _thz(value: Any) -> str:
        return f"{value:.4f}"
