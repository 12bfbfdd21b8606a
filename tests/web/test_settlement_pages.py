"""Settlement and revenue-recognition pages (SPEC 5, 10): build a statement (bad input refused,
nothing written), approve per party, settle, PDF and CSV; the recognition report and its CSV; the
dashboard's chart of billed revenue per party; the CLI."""

from __future__ import annotations

import hashlib
import re
from io import BytesIO

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.settlement.models import SettlementStatement
from tests.helpers import csrf_token, login
from tests.web.test_invoice_pages import ADMIN, AZT_FINANCE, KTC_FINANCE, SALES, bill, issue

LIST = "/finance/settlements"


def statements(db: Database) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(SettlementStatement)).scalar_one())


def build(client: FlaskClient, period: str = "2026-11", basis: str = "invoiced"):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(LIST).text)
    return client.post(LIST, data={"csrf_token": token, "period": period, "basis": basis})


def billed(db: Database, clock: FrozenClock) -> None:
    issue(db, clock, bill(db, clock, owner="AZT", mrc="10000", nrc="0").invoice_id)
    issue(db, clock, bill(db, clock, owner="KTC", mrc="2000", nrc="0").invoice_id)


def test_finance_builds_approves_and_settles_a_statement(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    billed(db, clock)
    login(client, SALES)
    assert client.get(LIST).status_code == 403
    login(client, AZT_FINANCE)
    page = client.get(LIST).text
    assert "data-confirm" in page and 'name="period"' in page
    response = build(client)
    assert response.status_code == 302
    url = response.headers["Location"]
    html = client.get(url).text
    assert re.search(r"(AZT|KTC) owes (AZT|KTC) USD [\d,]+\.\d\d", html)
    sid = int(url.rstrip("/").rsplit("/", 1)[1])
    with db.transaction() as s:
        stored = s.get(SettlementStatement, sid)
        assert stored is not None
        text, digest = stored.csv, stored.csv_sha256
    csv_response = client.get(f"{url}/csv")
    assert csv_response.mimetype == "text/csv" and csv_response.text == text
    assert hashlib.sha256(csv_response.data).hexdigest() == digest
    pdf = client.get(f"{url}/pdf")
    assert pdf.mimetype == "application/pdf"
    assert digest in PdfReader(BytesIO(pdf.data)).pages[0].extract_text().replace("\n", "")

    # KTC's finance cannot approve for AZT: the form offers only KTC, and AZT is refused.
    login(client, KTC_FINANCE)
    html = client.get(url).text
    assert '<option value="KTC">' in html and '<option value="AZT">' not in html
    token = csrf_token(html)
    refused = client.post(f"{url}/approve", data={"csrf_token": token, "party": "AZT"})
    assert refused.status_code == 422
    with db.transaction() as s:
        assert s.get(SettlementStatement, sid).approvals == []  # type: ignore[union-attr]
    assert (
        client.post(f"{url}/approve", data={"csrf_token": token, "party": "KTC"}).status_code == 302
    )
    login(client, AZT_FINANCE)
    token = csrf_token(client.get(url).text)
    assert (
        client.post(f"{url}/approve", data={"csrf_token": token, "party": "AZT"}).status_code == 302
    )
    html = client.get(url).text
    assert '<span class="badge" id="state">approved</span>' in html
    assert (
        client.post(
            f"{url}/settle", data={"csrf_token": csrf_token(html), "payment_reference": ""}
        ).status_code
        == 422
    )
    done = client.post(
        f"{url}/settle", data={"csrf_token": csrf_token(html), "payment_reference": "SWIFT 42"}
    )
    assert done.status_code == 302
    html = client.get(url).text
    assert "payment reference SWIFT 42" in html and 'id="settle-statement"' not in html
    # Rebuilding a settled month is refused, and says why.
    response = build(client)
    assert response.status_code == 409 and "settled" in response.text


def test_bad_input_is_refused_and_nothing_is_written(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client, AZT_FINANCE)
    before = statements(db)
    for period, basis in (("2026-13", "invoiced"), ("soon", "invoiced"), ("2026-11", "accrued")):
        response = build(client, period, basis)
        assert response.status_code == 422
        assert "was not built" in response.text or "Not a valid choice" in response.text
    assert statements(db) == before
    assert client.get(f"{LIST}/99999").status_code == 404


def test_revenue_recognition_report_and_csv(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    billed(db, clock)
    login(client, KTC_FINANCE)
    html = client.get("/finance/revenue-recognition?period=2026-11").text
    assert "per party" in html and "AZT" in html and "KTC" in html
    csv_text = client.get("/finance/revenue-recognition.csv?period=2026-11").text
    assert csv_text.startswith("section,month,party")
    assert csv_text.count("\nparty,2026-11,") == 2
    bad = client.get("/finance/revenue-recognition?period=2026-99")
    assert bad.status_code == 422 and "not a billing month" in bad.text
    assert client.get("/finance/revenue-recognition.csv?period=x").status_code == 422


def test_the_dashboard_charts_billed_revenue_per_party(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    billed(db, clock)
    login(client, ADMIN)
    html = client.get("/").text
    chart = html.split('id="revenue-by-party"', 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in html and "<title" in chart and "<desc" in chart
    assert re.search(r"AZT: USD [\d,]+\.\d\d; KTC: USD [\d,]+\.\d\d", chart)
    login(client, SALES)
    assert 'id="revenue-by-party"' not in client.get("/").text


def test_cli_builds_and_prints_the_statement(app: Flask, db: Database, clock: FrozenClock) -> None:
    billed(db, clock)
    result = app.test_cli_runner().invoke(args=["settlement", "build", "--period", "2026-11"])
    assert result.exit_code == 0, result.output
    assert "statement" in result.output and "net:" in result.output and "SHA-256" in result.output
    bad = app.test_cli_runner().invoke(
        args=["settlement", "build", "--period", "2026-11", "--basis", "accrued"]
    )
    assert bad.exit_code == 1 and "invoiced or collected" in bad.output
