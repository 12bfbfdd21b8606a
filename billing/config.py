"""Settings, read from environment variables (SPEC 11)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused outside development and tests


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config from the environment, then apply explicit overrides."""
    env = os.environ
    environment = env.get("BILLING_ENV", "production")
    default_db = "sqlite:///" + str(Path(instance_path) / "billing.db")
    settings: dict[str, Any] = {
        "BILLING_ENV": environment,
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "DATABASE_URL": env.get("DATABASE_URL") or default_db,
        "SQL_ECHO": _flag(env.get("SQL_ECHO"), False),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "HOLD_DAYS_DEFAULT": int(env.get("HOLD_DAYS_DEFAULT", "14")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(
            env.get("SESSION_COOKIE_SECURE"), environment == "production"
        ),
        "PERMANENT_SESSION_LIFETIME": int(env.get("SESSION_LIFETIME_SECONDS", "28800")),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,  # SPEC 9: over 1 MB answers 413
    }
    if overrides:
        settings.update(overrides)
    if not settings["SECRET_KEY"]:
        if settings["BILLING_ENV"] in {"development", "test"} or settings.get("TESTING"):
            settings["SECRET_KEY"] = DEV_SECRET_KEY
        else:
            raise RuntimeError(
                "SECRET_KEY is not set. Set it in the environment (BILLING_ENV=development "
                "allows a built-in key for local use only)."
            )
    return settings
