"""Settings, read from environment variables (SPEC 11)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused outside development and tests
MIN_SECRET_KEY_BYTES = 32  # SPEC 8: a production key of at least 32 bytes
# The From of each party's mail unless MAIL_FROM_<party code> says otherwise.
DEFAULT_MAIL_FROM = {
    "AZT": "AzerTelecom Billing <billing@azertelecom.example>",
    "KTC": "Kazakhtelecom Billing <billing@kazakhtelecom.example>",
}


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
        "SESSION_IDLE_SECONDS": int(env.get("SESSION_IDLE_SECONDS", "1800")),
        # Login throttling (Flask-Limiter): memory suits one process; several gunicorn workers
        # need one shared store, e.g. redis://host:6379/0 (with the redis package installed).
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_STRATEGY": "moving-window",
        # The API's requests per key (SPEC 9), counted in the same store as failed logins.
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT") or "120 per minute",
        "LOGIN_LIMIT_PER_ACCOUNT": env.get("LOGIN_LIMIT_PER_ACCOUNT") or "10 per 15 minutes",
        "LOGIN_LIMIT_PER_ADDRESS": env.get("LOGIN_LIMIT_PER_ADDRESS") or "50 per 15 minutes",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,  # SPEC 9: over 1 MB answers 413
        # Job workers (SPEC 12): a heartbeat every N s; a worker silent for M s is taken for
        # dead and its jobs go back to the queue.
        "JOB_HEARTBEAT_SECONDS": float(env.get("JOB_HEARTBEAT_SECONDS", "10")),
        "JOB_STALLED_SECONDS": float(env.get("JOB_STALLED_SECONDS", "60")),
        # Email (SPEC 13): smtp://user:pass@host:587 (STARTTLS) or smtps://...; empty, mail goes
        # to the outbox page instead. The From address of each party's mail, by party code.
        "SMTP_URL": env.get("SMTP_URL", ""),
        # The address people reach the platform at, for links in mail (a reminder's
        # unsubscribe link); set it in production (https://billing.example.com).
        "PUBLIC_URL": env.get("PUBLIC_URL", "") or f"http://127.0.0.1:{env.get('PORT', '5000')}",
        "MAIL_FROM": {
            **DEFAULT_MAIL_FROM,
            **{
                name.removeprefix("MAIL_FROM_"): value
                for name, value in env.items()
                if name.startswith("MAIL_FROM_") and value
            },
        },
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
    if (
        settings["BILLING_ENV"] == "production"
        and len(str(settings["SECRET_KEY"]).encode()) < MIN_SECRET_KEY_BYTES
    ):
        raise RuntimeError(
            f"SECRET_KEY is too short for production: it must be at least {MIN_SECRET_KEY_BYTES} "
            "bytes (python -c 'import secrets; print(secrets.token_hex(32))' makes one)."
        )
    return settings
