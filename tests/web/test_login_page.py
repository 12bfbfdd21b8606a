"""The login page speaks to both kinds of people who log in (issue 17): staff of the two
operators and wholesale customers with a portal login; it no longer sends customers away to
the API."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_the_login_page_welcomes_portal_customers_and_names_the_api_only_as_an_extra(
    client: FlaskClient,
) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "wholesale customers with a portal login" in page.text
    assert "Wholesale customers use the API" not in page.text
    assert 'href="/api/v1/docs"' in page.text
    assert client.get("/api/v1/docs").status_code == 200
