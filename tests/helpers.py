"""Helpers tests share: logging in through the real form, API keys, reading CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from billing.access.services import create_api_key
from billing.db import Database
from billing.sales.models import Customer

PASSWORD = "caspian-demo-2026"
_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, email: str = "sales@azertelecom.az") -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 302, response.text


def post_form(client: FlaskClient, url: str, page_url: str, data: dict[str, Any]) -> Any:
    """POST a form the way a browser does: with the CSRF token of the page it came from."""
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={**data, "csrf_token": token})


def customer_id(db: Database, legal_name: str) -> int:
    from sqlalchemy import select

    with db.transaction() as s:
        return int(
            s.execute(select(Customer.id).where(Customer.legal_name == legal_name)).scalar_one()
        )


def make_api_key(app: Flask, customer: int) -> str:
    db: Database = app.extensions["billing.db"]
    clock = app.extensions["billing.clock"]
    with db.transaction() as s:
        _, secret = create_api_key(
            s, customer_id=customer, name="test", actor="test", now=clock.now()
        )
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
