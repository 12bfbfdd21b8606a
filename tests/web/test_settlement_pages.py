"""Settlement and revenue-recognition pages (SPEC 5, 10): build a statement (bad input refused,
nothing written), approve per party, settle, PDF and CSV; the recognition report and its CSV; the
dashboard's chart of billed revenue per party; the CLI."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.agreement.models import AgreementVersion
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice, InvoiceLine
from billing.invoicing.runs import parse_period, run_billing
from billing.settlement.models import SettlementStatement
from tests import factories
from tests.helpers import csrf_token, login
from tests.web.test_invoice_pages import (
    ADMIN,
    AZT_FINANCE,
    KTC_FINANCE,
    SALES,
    SYSTEM,
    bill,
    issue,
)

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
    assert re.search(r"(AZT|KTC) owes (AZT|KTC) \$[\d,]+\.\d\d", html)
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

    # Built on 25 November: provisional, marked so, and approval is refused with the reason.
    assert 'id="provisional"' in html and "Provisional" in html
    login(client, KTC_FINANCE)
    token = csrf_token(client.get(url).text)
    early = client.post(f"{url}/approve", data={"csrf_token": token, "party": "KTC"})
    assert early.status_code == 409
    assert "has not ended in the calendar of AZT (Asia/Baku), KTC (Asia/Almaty)" in early.text
    # 1 December in both calendars: rebuilt, it is final.
    clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))
    login(client, AZT_FINANCE)
    assert build(client).headers["Location"] == url
    with db.transaction() as s:
        stored = s.get(SettlementStatement, sid)
        assert stored is not None and not stored.provisional
        text, digest = stored.csv, stored.csv_sha256
    assert 'id="provisional"' not in client.get(url).text
    assert hashlib.sha256(client.get(f"{url}/csv").data).hexdigest() == digest

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
    # AZT pays (it holds more of KTC's than KTC of AZT's): KTC is not offered, and is refused.
    assert "AZT owes KTC" in html and "2026-12-30" in html and "HSBKKZKX" in html
    login(client, KTC_FINANCE)
    ktc_html = client.get(url).text
    assert 'id="settle-statement"' not in ktc_html and 'id="awaiting-payment"' in ktc_html
    refused = client.post(
        f"{url}/settle", data={"csrf_token": csrf_token(ktc_html), "payment_reference": "X"}
    )
    assert refused.status_code == 403 and "only AZT marks it settled" in refused.text
    login(client, AZT_FINANCE)
    html = client.get(url).text
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
    assert re.search(r"AZT: \$[\d,]+\.\d\d; KTC: \$[\d,]+\.\d\d", chart)
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


def _statement(db: Database, url: str) -> SettlementStatement:
    with db.transaction() as s:
        statement = s.get(SettlementStatement, int(url.rstrip("/").rsplit("/", 1)[1]))
        assert statement is not None
        s.expunge(statement)
        return statement


def test_an_administrator_approves_for_their_own_party_only(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    billed(db, clock)
    clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))
    login(client, ADMIN)  # an administrator of AZT
    url = build(client).headers["Location"]
    html = client.get(url).text
    assert '<option value="AZT">' in html and '<option value="KTC">' not in html
    token = csrf_token(html)
    refused = client.post(f"{url}/approve", data={"csrf_token": token, "party": "KTC"})
    assert refused.status_code == 422
    with db.transaction() as s:
        assert s.get(SettlementStatement, _statement(db, url).id).approvals == []  # type: ignore[union-attr]
    done = client.post(f"{url}/approve", data={"csrf_token": token, "party": "AZT"})
    assert done.status_code == 302
    with db.transaction() as s:
        statement = s.get(SettlementStatement, _statement(db, url).id)
        assert statement is not None
        assert [a.party.code for a in statement.approvals] == ["AZT"]
        assert statement.state == "draft"


def test_the_probe_a_statement_goes_stale_on_the_page_and_the_list(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    """5 December: December's statement built in the morning; an invoice issued later that day
    makes it stale (and, December being open, it is provisional anyway)."""
    clock.set(datetime(2026, 12, 5, 6, tzinfo=UTC))
    billed(db, clock)
    login(client, KTC_FINANCE)
    url = build(client, "2026-12").headers["Location"]
    html = client.get(url).text
    assert "Provisional" in html and "Stale" not in html
    clock.set(datetime(2026, 12, 5, 11, tzinfo=UTC))
    number = issue(db, clock, bill(db, clock, owner="KTC", mrc="35193.55", nrc="0").invoice_id)
    login(client, KTC_FINANCE)  # the session's idle timeout follows the moved clock
    html = client.get(url).text
    assert 'id="stale"' in html and "Stale — rebuild before approval" in html
    assert number in html.split('id="not-in-statement"', 1)[1].split("</section>", 1)[0]
    assert "Stale — rebuild before approval" in client.get(LIST).text
    token = csrf_token(html)
    refused = client.post(f"{url}/approve", data={"csrf_token": token, "party": "KTC"})
    assert refused.status_code == 409
    assert build(client, "2026-12").status_code == 302
    html = client.get(url).text
    assert 'id="stale"' not in html and 'id="not-in-statement"' not in html
    assert number in html  # now one of its lines


def test_a_document_issued_after_approval_is_shown_as_not_in_the_statement(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    billed(db, clock)
    clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))
    login(client, AZT_FINANCE)
    url = build(client).headers["Location"]
    for user, party in ((AZT_FINANCE, "AZT"), (KTC_FINANCE, "KTC")):
        login(client, user)
        token = csrf_token(client.get(url).text)
        approved = client.post(f"{url}/approve", data={"csrf_token": token, "party": party})
        assert approved.status_code == 302
    # A document dated 30 November issued after the approval (a clock behind, a back-dated issue).
    clock.set(datetime(2026, 11, 30, 15, tzinfo=UTC))
    number = issue(db, clock, bill(db, clock, owner="AZT", mrc="500", nrc="0").invoice_id)
    clock.set(datetime(2026, 12, 1, 7, tzinfo=UTC))
    login(client, KTC_FINANCE)
    html = client.get(url).text
    section = html.split('id="not-in-statement"', 1)[1].split("</section>", 1)[0]
    assert "Issued after approval: not in this statement." in section and number in section


def test_the_agreement_version_carries_its_settlement_terms(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client, ADMIN)
    page = client.get("/admin/agreement").text
    assert 'name="settlement_terms_days"' in page and "Settlement due 30 days" in page
    data = {
        "csrf_token": csrf_token(page),
        "name": "Agreement 2027",
        "effective_from": "2027-01-01",
        "commission_percent": "5",
        "commission_kinds": ["mrc", "iru_fee"],
        "whole_kinds": ["nrc"],
        **{f"share_{seg}_{p}": "50" for seg in ("S1", "S2") for p in ("AZT", "KTC")},
    }
    for bad in ("x", "-1", "366", "１０"):
        refused = client.post("/admin/agreement", data={**data, "settlement_terms_days": bad})
        assert refused.status_code == 422, bad
    assert (
        client.post("/admin/agreement", data={**data, "settlement_terms_days": "45"}).status_code
        == 302
    )
    with db.transaction() as s:
        version = s.execute(
            select(AgreementVersion).where(AgreementVersion.name == "Agreement 2027")
        ).scalar_one()
        assert version.settlement_terms_days == 45
    assert "Settlement due 45 days" in client.get("/admin/agreement").text


def test_the_invoice_page_shows_each_lines_path_km_weights_and_parts(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    with db.transaction() as s:
        buyer = factories.customer(s, now=now, owner="AZT", currency="USD")
        factories.active_service(
            s, now=now, customer=buyer, owner="AZT", mrc=Decimal("10000"), nrc=Decimal("500"),
            protection="protected", ready_for_service=date(2026, 11, 1),
        )  # fmt: skip
        buyer_id = buyer.id
    run_billing(
        db.transaction, period=parse_period("2026-11"), issuer_code="AZT", actor=SYSTEM,
        clock=clock.now,
    )  # fmt: skip
    with db.transaction() as s:
        invoice_id = s.execute(
            select(Invoice.id).where(Invoice.customer_id == buyer_id)
        ).scalar_one()
    issue(db, clock, invoice_id)
    login(client, KTC_FINANCE)
    html = client.get(f"/finance/invoices/{invoice_id}").text
    with db.transaction() as s:
        lines = {
            line.charge_kind: line
            for line in s.execute(
                select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
            ).scalars()
        }
    mrc, nrc = lines["mrc"], lines["nrc"]
    steps = html.split(f'id="split-steps-{mrc.position}"', 1)[1].split("</tr>", 1)[0]
    # 10,000 less 5% commission = 9,500 by km: S1 345/675, S2 330/675; each 50/50.
    assert "Path S1+S2 (S1 345, S2 330 km" in steps
    assert "weights S1 0.511111111111, S2 0.488888888889" in steps
    assert "commission AZT 500" in steps
    assert "S1 4855.555556, S2 4644.444444" in steps
    assert "S1:AZT 2427.777778,KTC 2427.777778; S2:AZT 2322.222222,KTC 2322.222222" in steps
    whole = html.split(f'id="split-steps-{nrc.position}"', 1)[1].split("</tr>", 1)[0]
    assert "kept whole by AZT" in whole


def test_the_default_month_is_the_users_business_month(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    """30 November 21:00 UTC is 1 December in Baku: the forms offer December, not UTC's November."""
    clock.set(datetime(2026, 11, 30, 21, tzinfo=UTC))
    login(client, AZT_FINANCE)
    assert 'value="2026-12"' in client.get(LIST).text
    assert 'name="period" value="2026-12"' in client.get("/finance/revenue-recognition").text
    clock.set(datetime(2026, 11, 30, 19, tzinfo=UTC))
    login(client, AZT_FINANCE)
    assert 'value="2026-11"' in client.get(LIST).text
