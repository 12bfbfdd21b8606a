"""Every list downloads as CSV exactly as filtered (issue 17, SPEC 10): the same rows in the same
order as the page (search, a filter, a sort; every page), a header, plain decimal amounts with a
currency column, ISO dates, an attachment named for the business day, the page's access rules, and
cells that a spreadsheet shows but never runs. Receivables add totals per currency and age bucket
and each customer's credit balance; on a phone the amount and status columns stay in view."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser
from sqlalchemy import select

from billing.calendar import local_date
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.web import frame
from tests import factories
from tests.helpers import PASSWORD, login
from tests.web.test_accessibility import WCAG_AA
from tests.web.test_payment_pages import _record

FINANCE = "finance@azertelecom.az"
KTC_FINANCE = "finance@kazakhtelecom.kz"
ADMIN = "admin@azertelecom.az"
SALES = "sales@azertelecom.az"
SYSTEM = Seller("tests", None)
HOSTILE = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(A1)"]
AMOUNT = re.compile(r"-?[0-9]+\.[0-9]{2}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF-1.7 {d.number}".encode() for d in documents]


def bill(db: Database, clock: FrozenClock, names: list[str], *, mrc: str = "3000") -> None:
    """A new AZT customer per name with one service since 1 November; November billed, issued."""
    with db.transaction() as s:
        ids = []
        for n, name in enumerate(names):
            customer = factories.customer(s, now=clock.now(), legal_name=name)
            factories.active_service(
                s,
                now=clock.now(),
                customer=customer,
                mrc=Decimal(mrc) + n,
                nrc=Decimal("0"),
                ready_for_service=date(2026, 11, 1),
            )
            ids.append(customer.id)
    run_billing(
        db.transaction,
        period=parse_period("2026-11"),
        issuer_code="AZT",
        actor=SYSTEM,
        clock=clock.now,
    )
    with db.transaction() as s:
        drafts = s.execute(select(Invoice.id).where(Invoice.customer_id.in_(ids))).scalars()
        for draft in list(drafts):
            issue_invoice(s, draft, actor=SYSTEM, now=clock.now(), render=_render)


def rows_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text[:500]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))


def table_cells(html: str, table_id: str, column: int) -> list[str]:
    """The text of one column of a page's table, row by row (tags stripped)."""
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert table, f"no table {table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    assert body
    cells = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        if len(tds) > column:
            cells.append(unescape(re.sub(r"<[^>]+>", "", tds[column])).strip())
    return cells


def today_of(db: Database, clock: FrozenClock, code: str = "AZT") -> date:
    with db.transaction() as s:
        zone = s.execute(select(Party.time_zone).where(Party.code == code)).scalar_one()
    return local_date(clock.now(), zone)


def test_invoices_csv_is_the_filtered_sorted_list_with_every_page(
    client: FlaskClient, db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bill(db, clock, ["Csv Alpha", "Csv Beta", "Csv Gamma", "Other Delta"])
    monkeypatch.setattr(frame, "PAGE_SIZE", 2)  # the page shows two; the CSV holds all three
    login(client, FINANCE)
    query = "q=Csv&status=issued&sort=-customer"
    page = client.get(f"/finance/invoices?{query}").text
    assert f"/finance/invoices?{query}&format=csv".replace("&", "&amp;") in page
    response = client.get(f"/finance/invoices?{query}&format=csv&page=2")
    rows = rows_of(response)
    assert [r["customer"] for r in rows] == ["Csv Gamma", "Csv Beta", "Csv Alpha"]
    assert table_cells(page, "invoices", 2) == ["Csv Gamma", "Csv Beta"]
    assert list(rows[0]) == [
        "number", "kind", "customer", "issuer", "period", "issue_date", "due_date",
        "currency", "total", "amount_due", "status", "overdue", "disputed",
    ]  # fmt: skip
    for row in rows:
        assert AMOUNT.fullmatch(row["total"]) and AMOUNT.fullmatch(row["amount_due"]), row
        assert ISO_DATE.fullmatch(row["issue_date"]) and ISO_DATE.fullmatch(row["due_date"]), row
        assert (row["currency"], row["status"], row["period"]) == ("USD", "issued", "2026-11")
        assert Decimal(row["amount_due"]) > 0
    filename = f"invoices-{today_of(db, clock).isoformat()}.csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'


def test_formula_cells_are_neutralised_in_every_export_they_reach(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    bill(db, clock, HOSTILE)
    login(client, ADMIN)
    expected = {"'" + name for name in HOSTILE}
    for url in ("/customers?format=csv", "/finance/invoices?format=csv"):
        names = {r.get("legal_name") or r.get("customer") for r in rows_of(client.get(url))}
        assert expected <= names, (url, names)
        assert not names & set(HOSTILE), url
    receivables = rows_of(client.get("/finance/receivables?format=csv"))
    assert expected <= {r["customer"] for r in receivables}
    raw = client.get("/services?format=csv").data.decode()
    assert "\n=HYPERLINK" not in raw and ",=HYPERLINK" not in raw and ",@SUM" not in raw


def test_receivables_csv_matches_the_searched_sorted_page_and_totals_add_up(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    bill(db, clock, ["Recv One", "Recv Two"], mrc="1000")
    bill(db, clock, ["Elsewhere Ltd"], mrc="500")
    login(client, FINANCE)
    page = client.get("/finance/receivables?q=Recv&sort=-due_amount").text
    rows = rows_of(client.get("/finance/receivables?q=Recv&sort=-due_amount&format=csv"))
    assert [r["invoice"] for r in rows] == table_cells(page, "receivables", 0)
    assert [r["customer"] for r in rows] == ["Recv Two", "Recv One"]
    assert all(AMOUNT.fullmatch(r["amount_due"]) and r["currency"] == "USD" for r in rows)
    total = sum(Decimal(r["amount_due"]) for r in rows)
    footer = re.search(r'<tr id="ageing-total-USD">(.*?)</tr>', page, re.S)
    assert footer, page
    assert f"{total:,.2f}" in footer.group(1)


def test_receivables_show_each_customers_credit_balance(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    bill(db, clock, ["Credit Holder"], mrc="1000")
    with db.transaction() as s:
        invoice = s.execute(
            select(Invoice).join(Invoice.customer).where(Invoice.kind == "invoice")
        ).scalar_one()
        customer_id, invoice_id = invoice.customer_id, invoice.id
    login(client, FINANCE)
    # 900 toward the invoice and 350 left unapplied: a credit balance
    response = _record(client, customer_id, amount="1250", **{f"invoice_{invoice_id}": "900"})
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = client.get("/finance/receivables").text
    ageing = re.search(r'<table id="ageing">(.*?)</table>', page, re.S)
    assert ageing
    row = re.search(r"<tr><td>Credit Holder</td>(.*?)</tr>", ageing.group(1), re.S)
    assert row, ageing.group(1)
    assert "USD" in row.group(1) and "350.00" in row.group(1)
    balances = rows_of(client.get("/finance/credit-balances?format=csv"))
    assert [(b["customer"], b["currency"], b["balance"]) for b in balances] == [
        ("Credit Holder", "USD", "350.00")
    ]
    payments = rows_of(client.get("/finance/payments?q=Credit&format=csv"))
    assert [(p["customer"], p["amount"], p["credit_left"]) for p in payments] == [
        ("Credit Holder", "1250.00", "350.00")
    ]
    assert ISO_DATE.fullmatch(payments[0]["value_date"])


def test_services_quotes_customers_and_audit_csvs_follow_their_filters(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        kept = factories.customer(s, now=clock.now(), legal_name="Listed Carrier")
        factories.active_service(s, now=clock.now(), customer=kept)
        factories.quote(s, now=clock.now(), customer=kept)
        other = factories.customer(s, now=clock.now(), legal_name="Unlisted Carrier")
        factories.quote(s, now=clock.now(), customer=other)
    login(client, ADMIN)
    services = rows_of(client.get("/services?q=Listed&state=active&format=csv"))
    assert [(r["customer"], r["state"]) for r in services] == [("Listed Carrier", "active")]
    page = client.get("/services?q=Listed&state=active").text
    assert [r["circuit"] for r in services] == table_cells(page, "services", 0)
    contracts = rows_of(client.get(f"/contracts?customer_id={kept.id}&q=Listed&format=csv"))
    page = client.get(f"/contracts?customer_id={kept.id}&q=Listed").text
    assert [r["number"] for r in contracts] == table_cells(page, "contracts", 0)
    assert [(r["customer"], r["party"], r["services"]) for r in contracts] == [
        ("Listed Carrier", "AZT", "1")
    ]
    assert ISO_DATE.fullmatch(contracts[0]["signed_at"][:10])
    assert rows_of(client.get(f"/contracts?customer_id={other.id}&format=csv")) == []
    quotes = rows_of(client.get(f"/quotes?customer_id={kept.id}&status=open&format=csv"))
    assert [(r["customer"], r["status"]) for r in quotes] == [("Listed Carrier", "open")]
    assert ISO_DATE.fullmatch(quotes[0]["valid_until"][:10])
    customers = rows_of(client.get("/customers?q=Listed&sort=-name&format=csv"))
    assert [r["legal_name"] for r in customers] == ["Unlisted Carrier", "Listed Carrier"]
    page = client.get("/customers?q=Listed&sort=-name").text
    assert "/customers?q=Listed&amp;sort=-name&amp;format=csv" in page
    assert [r["legal_name"] for r in customers] == table_cells(page, "customers", 0)
    audit = rows_of(client.get("/admin/audit?action=customer.create&format=csv"))
    assert audit and {r["action"] for r in audit} == {"customer.create"}
    assert any("Listed Carrier" in r["after"] for r in audit)
    page = client.get("/admin/audit?action=customer.create").text
    assert len(audit) == int(re.search(r"\((\d+) entr", page).group(1))  # type: ignore[union-attr]


def test_a_finance_user_of_another_party_gets_what_its_page_shows(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    bill(db, clock, ["Party Scoped"])
    login(client, KTC_FINANCE)
    page = client.get("/finance/invoices").text
    rows = rows_of(client.get("/finance/invoices?format=csv"))
    assert [r["customer"] for r in rows] == table_cells(page, "invoices", 2)
    assert (
        client.get("/finance/invoices?format=csv")
        .headers["Content-Disposition"]
        .endswith(f'-{today_of(db, clock, "KTC").isoformat()}.csv"')
    )


FINANCE_LISTS = [
    "/finance/invoices",
    "/finance/receivables",
    "/finance/payments",
    "/finance/credit-balances",
]
STAFF_LISTS = ["/services", "/contracts", "/quotes", "/customers"]


def test_access_rules_are_the_pages_own(client: FlaskClient) -> None:
    for url in [*FINANCE_LISTS, *STAFF_LISTS, "/admin/audit"]:
        response = client.get(f"{url}?format=csv")
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    login(client, SALES)
    for url in [*FINANCE_LISTS, "/admin/audit"]:
        assert client.get(f"{url}?format=csv").status_code == 403, url
    for url in STAFF_LISTS:
        assert client.get(f"{url}?format=csv").status_code == 200, url
    login(client, FINANCE)
    assert client.get("/admin/audit?format=csv").status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "q=%00&format=csv",
        "q=a%00b&sort=%00&status=%00&format=csv",
        "page=99999999999999999999999&format=csv",
        "page=-1&format=csv&format=csv",
        "format=%00",
        "q=%00",
        "period=9999-99&customer_id=99999999999999999999&format=csv",
        "q=" + "x" * 5000 + "&format=csv",
    ],
)
def test_hostile_query_strings_never_500(client: FlaskClient, query: str) -> None:
    login(client, ADMIN)
    for url in [*FINANCE_LISTS, *STAFF_LISTS, "/admin/audit"]:
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query)


def test_a_capped_export_says_where_it_stopped(
    client: FlaskClient, db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.transaction() as s:
        for name in ("Cap A", "Cap B", "Cap C"):
            factories.customer(s, now=clock.now(), legal_name=name)
    monkeypatch.setattr(frame, "EXPORT_LIMIT", 2)
    login(client, SALES)
    text = client.get("/customers?q=Cap&format=csv").data.decode()
    lines = text.strip().split("\n")
    assert len(lines) == 4 and "stopped at 2 rows" in lines[-1]
    assert lines[1].startswith("Cap A,") and lines[2].startswith("Cap B,")


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_receivables_page_is_accessible_and_keeps_amount_and_status_in_view(
    browser: Browser, live_server: str, app: Flask, clock: FrozenClock, width: int
) -> None:
    db: Database = app.extensions["billing.db"]
    bill(db, clock, ["Phone View Carrier With A Long Legal Name LLC"])
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": 844})
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", FINANCE)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)  # home: map or dashboard
        for path, table, kept in (
            ("/finance/receivables", "#receivables", ("Amount due", "Ageing")),
            ("/finance/invoices", "#invoices", ("Amount due", "Status")),
        ):
            page.goto(path)
            result = Axe().run(page, options=WCAG_AA)
            assert result.response["passes"]
            assert result.response["violations"] == [], (path, result.response["violations"])
            wide = page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect()"
                ".right > document.documentElement.clientWidth).map(e => e.tagName + '.' + "
                "e.className + '#' + e.id).slice(0, 8)"
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, wide)
            for label in kept:
                header = page.locator(f"{table} thead th", has_text=label).first
                assert header.is_visible(), (path, label)
                box = header.bounding_box()
                assert box and box["x"] + box["width"] <= width, (path, label, box)
            cell = page.locator(f"{table} tbody tr").first.locator("td").last
            assert cell.is_visible()
            box = cell.bounding_box()
            assert box and box["x"] + box["width"] <= width, (path, box)
        # The other lists keep their priority columns in view, and nothing scrolls sideways,
        # not even inside the table's own box.
        for path, table, kept in (
            ("/contracts", "#contracts", ("Number", "Customer", "Services")),
            ("/services", "#services", ("Circuit", "Customer", "State", "Ready for service")),
            ("/quotes", "#quotes", ("Number", "Customer", "Status")),
            ("/customers", "#customers", ("Legal name", "Owner")),
            ("/finance/payments", "#payments", ("Value date", "Customer", "Amount", "State")),
            ("/mail", "#mails", ("Queued", "Subject", "Status")),
        ):
            page.goto(path)
            result = Axe().run(page, options=WCAG_AA)
            assert result.response["passes"]
            assert result.response["violations"] == [], (path, result.response["violations"])
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
            box = page.locator(table).bounding_box()
            assert box and box["x"] + box["width"] <= width, (path, box)
            for label in kept:
                header = page.locator(f"{table} thead th", has_text=label).first
                assert header.is_visible(), (path, label)
                box = header.bounding_box()
                assert box and box["x"] + box["width"] <= width, (path, label, box)
    finally:
        context.close()
