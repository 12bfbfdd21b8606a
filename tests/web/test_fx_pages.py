"""The exchange-rates page (SPEC 4): finance and admins list, search, enter and import rates."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from billing.audit import AuditEntry
from billing.db import Database
from billing.invoicing.models import FxRateRecord
from tests.helpers import csrf_token, login, post_form

ADMIN = "admin@azertelecom.az"
SALES = "sales@azertelecom.az"
FINANCE = "finance@azertelecom.az"
FX = Path(__file__).parents[1] / "fixtures" / "fx"
PAGE = "/finance/fx-rates"
MANUAL = {"base": "USD", "quote": "AZN", "rate": "1.7025", "rate_date": "2026-11-25"}


def rates(db: Database) -> dict[tuple[str, str, str, str], Decimal]:
    with db.transaction() as s:
        return {
            (r.base, r.quote, r.source, r.rate_date.isoformat()): r.rate
            for r in s.execute(select(FxRateRecord)).scalars()
        }


def fx_audit(db: Database) -> list[tuple[str, str]]:
    with db.transaction() as s:
        return [
            (e.action, e.actor)
            for e in s.execute(
                select(AuditEntry)
                .where(AuditEntry.entity_type == "fx_rate")
                .order_by(AuditEntry.id)
            ).scalars()
        ]


def upload(client: FlaskClient, source: str, content: bytes, name: str = "rates.xml") -> object:
    token = csrf_token(client.get(PAGE).text)
    return client.post(
        f"{PAGE}/import",
        data={"csrf_token": token, "source": source, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_the_page_is_for_finance_and_admins(client: FlaskClient, db: Database) -> None:
    for user, status in ((SALES, 403), (FINANCE, 200), (ADMIN, 200)):
        login(client, user)
        assert client.get(PAGE).status_code == status, user
        if status == 200:  # on their home page (finance: their dashboard)
            assert 'href="/finance/fx-rates"' in client.get("/", follow_redirects=True).text
    login(client, SALES)
    assert 'href="/finance/fx-rates"' not in client.get("/").text
    token = csrf_token(client.get("/customers/new").text)
    response = client.post(PAGE, data={**MANUAL, "csrf_token": token})
    assert response.status_code == 403
    response = client.post(
        f"{PAGE}/import",
        data={
            "csrf_token": token,
            "source": "cbar",
            "file": (io.BytesIO((FX / "cbar-2026-11-24.xml").read_bytes()), "c.xml"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert rates(db) == {}


def test_a_file_uploaded_is_imported_and_listed_newest_first(
    client: FlaskClient, db: Database
) -> None:
    login(client, FINANCE)
    response = upload(client, "nbk", (FX / "nbk-2026-11-24.xml").read_bytes())
    assert response.status_code == 302
    page = client.get(PAGE).text
    assert "NBK rates of 2026-11-24: 6 added, 0 changed, 0 unchanged, 0 skipped." in page
    assert rates(db)[("IRR", "KZT", "nbk", "2026-11-24")] == Decimal("0.01224")
    post_form(client, PAGE, PAGE, {**MANUAL, "rate_date": "2026-11-26"})
    rows = re.findall(
        r'<tr id="fx-rate-\d+"><td>([\d-]+)</td><td>(\w+)</td>', client.get(PAGE).text
    )
    assert rows[0] == ("2026-11-26", "USD")
    assert len(rows) == 7
    # Search by currency: the code on either side.
    found = re.findall(
        r'<tr id="fx-rate-\d+"><td>[\d-]+</td><td>(\w+)</td><td>(\w+)</td>',
        client.get(PAGE, query_string={"q": "uzs"}).text,
    )
    assert found == [("UZS", "KZT")]
    found = client.get(PAGE, query_string={"q": "azn"}).text
    assert len(re.findall(r'<tr id="fx-rate-', found)) == 2  # AZN/KZT and the manual USD/AZN


def test_a_malformed_upload_says_why_and_writes_nothing(client: FlaskClient, db: Database) -> None:
    login(client, FINANCE)
    response = upload(client, "cbar", (FX / "nbk-2026-11-24.xml").read_bytes())
    assert response.status_code == 422
    assert "The rates were not imported: not a CBAR daily file" in response.text
    response = upload(client, "cbar", b"<ValCurs Date='24.11.2026'><ValType>")
    assert response.status_code == 422
    assert "not a well-formed CBAR daily file" in response.text
    response = client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf_token(client.get(PAGE).text), "source": "cbar"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Choose the file to import." in response.text
    assert rates(db) == {}
    assert fx_audit(db) == []


def test_a_rate_entered_by_hand_is_stored_and_audited(client: FlaskClient, db: Database) -> None:
    login(client, FINANCE)
    response = post_form(client, PAGE, PAGE, {**MANUAL, "base": " usd "})
    assert response.status_code == 302
    assert "Rate saved: 1 USD = 1.7025 AZN on 2026-11-25." in client.get(PAGE).text
    assert rates(db) == {("USD", "AZN", "manual", "2026-11-25"): Decimal("1.7025")}
    assert fx_audit(db) == [("fx_rate.add", f"{FINANCE} (finance, AZT)")]


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"rate": "NaN"}, None),
        ({"rate": "0"}, None),
        ({"rate": "-1"}, None),
        ({"rate": "1e30"}, None),
        ({"rate": "1.000000001"}, None),
        ({"rate": ""}, "This field is required."),
        ({"base": "XYZ"}, "XYZ is not an ISO 4217 currency."),
        ({"quote": "USD"}, "A rate is between two different currencies."),
        ({"rate_date": "2026-02-30"}, None),
    ],
)
def test_a_bad_rate_gets_a_message_beside_its_field_and_writes_nothing(
    client: FlaskClient, db: Database, changed: dict[str, str], message: str | None
) -> None:
    login(client, FINANCE)
    response = post_form(client, PAGE, PAGE, {**MANUAL, **changed})
    assert response.status_code == 422
    (name,) = changed
    label = re.search(
        rf'<label class="field has-error">.*?name="{name}".*?</label>', response.text, re.S
    )
    assert label, response.text
    assert 'class="field-error"' in label.group(0)
    if message:
        assert message in label.group(0)
    assert rates(db) == {}
    assert fx_audit(db) == []


@pytest.mark.parametrize(
    ("nominal", "value", "message"),
    [
        ("9" * 5000, "1.7", "is quoted per &#39;999999999999&#39;… (5,000 characters) units"),
        ("1", "9" * 5000, "is not a number of sensible size"),
        ("1", "1e9999999", "is not a number of sensible size"),
    ],
)
def test_a_file_with_a_number_past_any_rate_gets_a_message_not_a_500(
    client: FlaskClient, db: Database, nominal: str, value: str, message: str
) -> None:
    login(client, FINANCE)
    content = (
        f'<ValCurs Date="24.11.2026"><ValType><Valute Code="USD"><Nominal>{nominal}</Nominal>'
        f"<Value>{value}</Value></Valute></ValType></ValCurs>"
    ).encode()
    response = upload(client, "cbar", content)
    assert response.status_code == 422
    assert f"The rates were not imported: the rate of USD {message}" in response.text
    assert rates(db) == {}


def test_the_import_address_leads_back_to_the_list(client: FlaskClient) -> None:
    login(client, ADMIN)
    response = client.get(f"{PAGE}/import", query_string={"q": "usd", "sort": "base"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/finance/fx-rates?q=usd&sort=base")
