"""Finance's billing pages (SPEC 4, 10): a billing run started from the page and its result, the
tax rules, and a contract's IRU payment plan."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import BillingRun, Invoice, InvoiceLine, TaxRuleRecord
from billing.jobs.queue import run_worker
from billing.sales.models import Contract
from tests import factories
from tests.helpers import csrf_token, login, post_form

ADMIN = "admin@azertelecom.az"
AZT_FINANCE = "finance@azertelecom.az"
KTC_FINANCE = "finance@kazakhtelecom.kz"
SALES = "sales@azertelecom.az"
KTC_SALES = "sales@kazakhtelecom.kz"
RUNS = "/finance/billing-runs"
RULES = "/finance/tax-rules"
NEW_RULE = {
    "issuer": "AZT",
    "customer_country": "ge",
    "rate_percent": "5.5",
    "name": "VAT 5.5%",
    "legal_note": "Reduced rate for Georgia",
    "effective_from": "2027-01-01",
    "effective_to": "",
}


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def lease(db: Database, clock: FrozenClock, *, owner: str = "AZT", country: str = "DE") -> int:
    """A lease of `owner` at 3,000 USD a month with a 500 USD installation, ready on 2026-11-10."""
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), owner=owner, country=country)
        return factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal("3000"),
            nrc=Decimal("500"),
            ready_for_service=date(2026, 11, 10),
        ).id


def finish(app: Flask, backend: str) -> None:
    """Let the queued runs go to their end: a worker on PostgreSQL; SQLite ran them already."""
    if backend == "postgres":
        run_worker(app, wait=False)


def run(client: FlaskClient, **data: str) -> Any:
    """Starts a run as its confirmation page does (tests/web/test_confirmations.py asks)."""
    fields = {"period": "2026-11", "issuer": "AZT", "confirmed": "yes", **data}
    return post_form(client, RUNS, RUNS, fields)


def test_a_run_from_the_page_makes_the_drafts_and_shows_what_it_did(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    lease(db, clock, country="AZ")
    with db.transaction() as s:  # the elsewhere rule of AZT ends: a DE customer is skipped
        rule = s.execute(
            select(TaxRuleRecord).where(TaxRuleRecord.customer_country == "elsewhere")
        ).scalars()
        for r in rule:
            if r.issuer.code == "AZT":
                r.effective_to = date(2026, 10, 31)
    login(client, AZT_FINANCE)
    page = client.get(RUNS).text
    assert re.search(r'name="period"[^>]* value="2026-11"', page)
    assert "Run billing…" in page  # it asks first: tests/web/test_confirmations.py
    response = run(client)
    assert response.status_code == 303, response.text
    run_url = response.headers["Location"]
    assert re.fullmatch(r"/finance/billing-runs/\d+", run_url)
    html = client.get(run_url).text
    assert "Billing run of 2026-11 for AZT requested." in html
    if backend == "postgres":  # a worker takes the run after the request's commit
        assert re.search(r'id="run-state" class="badge queued"[^>]*>queued<', html)
        assert 'id="run-cancel"' in html and 'id="run-cancel" hidden' not in html
        run_worker(app, wait=False)
        html = client.get(run_url).text
    assert re.search(r'id="run-state" class="badge finished"[^>]*>finished<', html)
    assert re.search(r'id="run-phase">Done<', html)
    assert re.search(r'id="run-invoices" class="num" data-field="drafts">1<', html)
    assert re.search(r'id="run-charges" class="num" data-field="charges">2<', html)
    assert re.search(r'id="run-services" class="num" data-field="services">2<', html)
    # 3,000 × 21/30 days + 500 installation
    assert "$2,600.00" in html
    assert re.search(r'<ul id="run-skipped"><li>TCF-WL-\d+: [^<]*tax rule', html)
    invoice_id = re.findall(r'href="/finance/invoices/(\d+)"', html)
    with db.transaction() as s:
        drafts = list(s.execute(select(Invoice)).scalars())
        assert [str(d.id) for d in drafts] == invoice_id
        assert drafts[0].status == "draft"
    runs_table = client.get(RUNS).text
    assert re.search(
        rf'<tr id="billing-run-\d+"><td><a href="{run_url}">2026-11</a></td><td>AZT</td>'
        r'\s*<td><span class="badge finished">finished</span></td>\s*<td>Done</td>',
        runs_table,
    )

    # The same month again bills nothing.
    again_url = run(client).headers["Location"]
    finish(app, backend)
    again = client.get(again_url).text
    assert re.search(r'data-field="charges">0<', again)
    assert "nothing billed" in again
    assert count(db, InvoiceLine) == 2
    assert count(db, BillingRun) == 2


def test_a_run_can_issue_its_drafts(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    login(client, ADMIN)
    response = run(client, issuer="", issue="y")
    # A run for both issuers is two runs, one per issuer: the list shows both.
    assert response.status_code == 303 and response.headers["Location"] == RUNS
    finish(app, backend)
    listing = client.get(RUNS).text
    assert "Billing run of 2026-11 for AZT requested." in listing
    assert "Billing run of 2026-11 for KTC requested." in listing
    urls = re.findall(
        r'<a href="(/finance/billing-runs/\d+)">2026-11</a></td><td>(\w+)</td>', listing
    )
    assert sorted(code for _, code in urls) == ["AZT", "KTC"]
    html = client.get(dict((c, u) for u, c in urls)["AZT"]).text
    assert re.search(r'data-field="issued">1<', html)
    assert "AZT-INV-2026-000001" in html
    with db.transaction() as s:
        assert s.execute(select(Invoice.status)).scalar_one() == "issued"


def test_bad_input_is_refused_with_a_message_and_writes_nothing(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    lease(db, clock)
    login(client, AZT_FINANCE)
    response = run(client, period="2027-01")
    assert response.status_code == 422
    assert "Choose 2026-12 or an earlier month." in response.text
    response = run(client, period="11/2026")
    assert response.status_code == 422
    assert "Write the month as YYYY-MM, e.g. 2026-11." in response.text
    response = run(client, issuer="XYZ")
    assert response.status_code == 422
    assert "Choose AZT or KTC." in response.text
    assert count(db, BillingRun) == 0


def test_ktc_finance_cannot_run_for_azt_nor_keep_its_tax_rules(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    lease(db, clock)
    rules_before = count(db, TaxRuleRecord)
    login(client, KTC_FINANCE)
    assert '<option value="AZT"' not in client.get(RUNS).text
    response = run(client)
    assert response.status_code == 403
    assert "you may not run billing for AZT" in response.text
    response = run(client, issuer="")
    assert response.status_code == 403
    assert count(db, BillingRun) == 0
    response = post_form(client, RULES, RULES, NEW_RULE)
    assert response.status_code == 403
    assert "only AZT&#39;s finance staff keep its tax rules" in response.text
    with db.transaction() as s:
        azt_rule = s.execute(
            select(TaxRuleRecord.id).join(TaxRuleRecord.issuer).where(TaxRuleRecord.name != "")
        ).scalars()
        ids = list(azt_rule)
    page = client.get(RULES).text
    token = csrf_token(page)
    azt_ids = [i for i in ids if f'<tr id="tax-rule-{i}"><td>AZT</td>' in page]
    assert azt_ids and f"/finance/tax-rules/{azt_ids[0]}/delete" not in page
    response = client.post(
        f"{RULES}/{azt_ids[0]}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "The tax rule was not deleted: only AZT&#39;s finance staff" in response.text
    response = client.post(
        f"{RULES}/{azt_ids[0]}/end",
        data={"csrf_token": token, "last_day": "2030-01-01"},
        follow_redirects=True,
    )
    assert "The tax rule was not ended: only AZT&#39;s finance staff" in response.text
    assert count(db, TaxRuleRecord) == rules_before
    # Sales staff do not see the finance pages at all.
    login(client, SALES)
    assert client.get(RUNS).status_code == 403
    assert client.get(RULES).status_code == 403


def rule_rows(client: FlaskClient, **query: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<tr id="tax-rule-\d+"><td>(\w+)</td><td>(\w+)</td><td class="num">([\d.]+)%</td>',
        client.get(RULES, query_string=query).text,
    )


def test_tax_rules_are_added_ended_and_deleted(client: FlaskClient, db: Database) -> None:
    login(client, AZT_FINANCE)
    assert ("KTC", "KZ", "16") in rule_rows(client)
    assert rule_rows(client, q="kz", sort="-rate") == [("KTC", "KZ", "16"), ("KTC", "KZ", "12")]
    response = post_form(client, RULES, RULES, NEW_RULE)
    assert response.status_code == 302
    assert ("AZT", "GE", "5.5") in rule_rows(client)
    # Overlapping the new rule, a bad country, a rate over 100: messages, nothing written.
    before = count(db, TaxRuleRecord)
    response = post_form(client, RULES, RULES, {**NEW_RULE, "effective_from": "2027-06-01"})
    assert response.status_code == 422
    assert "overlap" in response.text
    response = post_form(client, RULES, RULES, {**NEW_RULE, "customer_country": "XX"})
    assert response.status_code == 422
    assert "neither an ISO 3166-1 country code nor" in response.text
    response = post_form(client, RULES, RULES, {**NEW_RULE, "rate_percent": "101"})
    assert response.status_code == 422
    assert 'class="field-error"' in response.text
    assert count(db, TaxRuleRecord) == before
    with db.transaction() as s:
        rule_id = s.execute(
            select(TaxRuleRecord.id).where(TaxRuleRecord.customer_country == "GE")
        ).scalar_one()
    response = post_form(client, f"{RULES}/{rule_id}/end", RULES, {"last_day": "2026-12-01"})
    assert response.status_code == 302
    assert "a rule ends on or after the day it takes effect" in client.get(RULES).text
    response = post_form(client, f"{RULES}/{rule_id}/end", RULES, {"last_day": "31.12.2027"})
    assert "The tax rule was not ended:" in client.get(RULES).text
    response = post_form(client, f"{RULES}/{rule_id}/end", RULES, {"last_day": "2027-12-31"})
    assert response.status_code == 302
    with db.transaction() as s:
        assert s.get(TaxRuleRecord, rule_id).effective_to == date(2027, 12, 31)  # type: ignore[union-attr]
    assert f'action="/finance/tax-rules/{rule_id}/delete" data-confirm=' in client.get(RULES).text
    response = post_form(client, f"{RULES}/{rule_id}/delete", RULES, {})
    assert response.status_code == 302
    assert count(db, TaxRuleRecord) == before - 1


def iru_contract(db: Database, clock: FrozenClock) -> int:
    with db.transaction() as s:
        return factories.active_service(
            s, now=clock.now(), model="iru", term_months=120, ready_for_service=date(2026, 11, 10)
        ).contract_id


def plan_rows(**rows: tuple[str, str, str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for index in range(6):
        percent, due, months = rows.get(f"r{index}", ("", "", ""))
        data[f"rows-{index}-percent"] = percent
        data[f"rows-{index}-due_date"] = due
        data[f"rows-{index}-months_after_rfs"] = months
    return data


def test_the_payment_plan_page_shows_and_saves_the_plan(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    contract_id = iru_contract(db, clock)
    url = f"/finance/contracts/{contract_id}/payment-plan"
    login(client, SALES)
    contract_page = client.get(f"/contracts/{contract_id}").text
    assert f'href="{url}"' in contract_page
    page = client.get(url).text
    assert "No plan: 100% at ready-for-service." in page
    # Not adding up to 100, a row with both a date and months: messages, nothing saved.
    response = post_form(client, url, url, plan_rows(r0=("50", "", "0"), r1=("40", "", "12")))
    assert response.status_code == 422
    assert "add up to 90%, not 100%" in response.text
    response = post_form(client, url, url, plan_rows(r0=("100", "2027-01-01", "3")))
    assert response.status_code == 422
    assert "not both" in response.text
    with db.transaction() as s:
        assert s.get(Contract, contract_id).instalments == []  # type: ignore[union-attr]
    response = post_form(client, url, url, plan_rows(r0=("50", "", "0"), r2=("50", "", "12")))
    assert response.status_code == 302
    page = client.get(url).text
    assert re.search(r'name="rows-1-months_after_rfs"[^>]* value="12"', page)
    assert "2 instalments" in client.get(f"/contracts/{contract_id}").text
    # The other party's sales staff read the plan but cannot change it.
    login(client, KTC_SALES)
    page = client.get(url).text
    assert "12 months after RFS" in page and 'id="save-plan"' not in page
    token = csrf_token(client.get("/customers/new").text)
    response = client.post(url, data={**plan_rows(r0=("100", "", "0")), "csrf_token": token})
    assert response.status_code == 403
    with db.transaction() as s:
        plan = s.get(Contract, contract_id).instalments  # type: ignore[union-attr]
        assert [i.months_after_rfs for i in plan] == [0, 12]


@pytest.mark.parametrize("country", ["Germany", "DEU", "ＤＥ", "D", "elsewher", "1E"])
def test_a_tax_rule_for_a_country_that_is_no_code_gets_a_message_not_a_500(
    client: FlaskClient, db: Database, country: str
) -> None:
    login(client, AZT_FINANCE)
    before = count(db, TaxRuleRecord)
    response = post_form(client, RULES, RULES, {**NEW_RULE, "customer_country": country})
    assert response.status_code == 422
    assert "is neither an ISO 3166-1 country code nor &#39;elsewhere&#39;" in response.text
    assert count(db, TaxRuleRecord) == before


def mid_run(db: Database, clock: FrozenClock) -> int:
    """The latest run as it looks while a worker is in the middle of it (fresh heartbeat)."""
    with db.transaction() as s:
        r = s.execute(select(BillingRun).order_by(BillingRun.id.desc())).scalars().first()
        assert r is not None
        r.state, r.phase, r.finished_at, r.heartbeat_at = "running", "billing", None, clock.now()
        return r.id


def started_run(app: Flask, client: FlaskClient, backend: str, **data: str) -> str:
    response = run(client, **data)
    assert response.status_code == 303, response.text
    finish(app, backend)
    return str(response.headers["Location"])


def test_the_run_page_and_its_progress_json_show_the_same_run(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    login(client, AZT_FINANCE)
    run_url = started_run(app, client, backend, issue="y")
    progress = client.get(f"{run_url}/progress")
    assert progress.status_code == 200
    assert progress.headers["Cache-Control"] == "no-store"
    p = progress.get_json()
    assert {k: p[k] for k in ("issuer", "period", "issue", "state", "phase", "ended")} == {
        "issuer": "AZT",
        "period": "2026-11",
        "issue": True,
        "state": "finished",
        "phase": "done",
        "ended": True,
    }
    assert (p["services"], p["charges"], p["drafts"], p["issued"]) == (1, 2, 1, 1)
    assert p["started_by"] and p["finished_at"] and p["errors"] == []
    assert p["totals"] == [{"currency": "USD", "amount": "2600.00", "text": "$2,600.00"}]
    [invoice] = p["invoices"]
    assert invoice["label"] == "AZT-INV-2026-000001" and invoice["status"] == "issued"
    with db.transaction() as s:
        issued = s.execute(select(Invoice)).scalar_one()
        assert p["rendered"] == (1 if issued.pdf_sha256 else 0)
    page = client.get(run_url).text
    # The page polls only while the run goes on: a finished run's page says so and hides Refresh.
    assert 'data-ended="true"' in page
    assert re.search(r'<p id="run-refresh" hidden>', page)
    assert '<script src="/static/billing_run.js" defer></script>' in page
    assert 'aria-live="polite"><strong>Phase:</strong> <span id="run-phase">Done</span>' in page
    assert f'href="/finance/invoices/{invoice["id"]}">AZT-INV-2026-000001</a>' in page
    script = client.get("/static/billing_run.js")
    assert script.status_code == 200 and b"data-progress-url" in script.data
    script.close()


def test_a_running_run_page_offers_refresh_and_polls(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    login(client, AZT_FINANCE)
    run_url = started_run(app, client, backend)
    mid_run(db, clock)
    page = client.get(run_url).text
    assert 'data-ended="false"' in page
    assert f'<p id="run-refresh"><a href="{run_url}">Refresh</a>' in page
    assert '<span id="run-phase">Billing customers</span>' in page
    assert "when the run has finished" in page
    assert re.search(r'<form method="post" action="[^"]+/cancel" id="run-cancel"\s', page)
    assert 'id="run-resume" hidden' in page
    p = client.get(f"{run_url}/progress").get_json()
    assert (p["state"], p["phase"], p["ended"], p["totals"], p["invoices"]) == (
        "running",
        "billing",
        False,
        [],
        [],
    )


def test_another_partys_run_is_not_found_and_get_changes_nothing(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    login(client, AZT_FINANCE)
    run_url = started_run(app, client, backend)
    with db.transaction() as s:
        before = [(r.state, r.charges_billed) for r in s.execute(select(BillingRun)).scalars()]
    for url in (run_url, f"{run_url}/progress"):
        assert client.get(url).status_code == 200
        assert client.post(url).status_code in (400, 405)  # no POST, and no CSRF
    login(client, KTC_FINANCE)
    assert client.get(run_url).status_code == 404
    assert client.get(f"{run_url}/progress").status_code == 404
    assert client.get("/finance/billing-runs/999999").status_code == 404
    assert client.get("/finance/billing-runs/999999/progress").status_code == 404
    login(client, ADMIN)
    assert client.get(run_url).status_code == 200
    login(client, SALES)
    assert client.get(f"{run_url}/progress").status_code == 403
    assert count(db, BillingRun) == 1
    assert count(db, InvoiceLine) == 2
    with db.transaction() as s:
        after = [(r.state, r.charges_billed) for r in s.execute(select(BillingRun)).scalars()]
    assert after == before


def test_a_month_already_running_is_not_an_error_but_leads_to_that_run(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    login(client, AZT_FINANCE)
    run_url = started_run(app, client, backend)
    mid_run(db, clock)
    response = run(client)
    assert response.status_code == 303
    assert response.headers["Location"] == run_url
    page = client.get(run_url).text
    assert "The billing run of 2026-11 for AZT was already running: this is that run." in page
    assert count(db, BillingRun) == 1


def test_a_run_is_cancelled_then_resumed_from_its_page(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    login(client, AZT_FINANCE)
    run_url = started_run(app, client, backend)
    run_id = mid_run(db, clock)
    page = client.get(run_url).text
    assert (
        'data-confirm="Cancel the run? What was billed stays billed; running the month again '
        'finishes it."' in page
    )
    # Without the page's CSRF token nothing happens.
    assert client.post(f"{run_url}/cancel").status_code in (303, 400)
    with db.transaction() as s:
        assert s.get(BillingRun, run_id).cancel_requested_at is None  # type: ignore[union-attr]
    response = client.post(f"{run_url}/cancel", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303 and response.headers["Location"] == run_url
    page = client.get(run_url).text
    assert "Cancelling the run: it stops before its next chunk." in page
    assert "running, cancelling after this chunk" in page
    assert 'id="run-cancel" hidden' in page
    with db.transaction() as s:
        actions = [
            a
            for (a,) in s.execute(
                select(AuditEntry.action).where(AuditEntry.entity_type == "billing_run")
            )
        ]
    assert "billing_run.cancel" in actions
    # The worker died: after the lease the run is abandoned, shown so, and can be resumed.
    clock.advance(timedelta(minutes=6))  # past the 5-minute lease
    page = client.get(run_url).text
    assert "abandoned" in page
    assert 'data-ended="true"' in page
    assert 'id="run-resume" hidden' not in page
    assert '<span class="badge failed">abandoned</span>' in client.get(RUNS).text
    response = client.post(f"{run_url}/resume", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    finish(app, backend)
    page = client.get(run_url).text
    assert "The run was resumed: it carries on from where it stopped." in page
    with db.transaction() as s:
        r = s.get(BillingRun, run_id)
        assert r is not None and r.state in ("finished", "cancelled")
        actions = [
            a
            for (a,) in s.execute(
                select(AuditEntry.action).where(AuditEntry.entity_type == "billing_run")
            )
        ]
    assert "billing_run.resume" in actions
    assert count(db, InvoiceLine) == 2  # nothing billed twice


def test_another_party_cannot_cancel_or_resume_a_run(
    app: Flask, client: FlaskClient, db: Database, clock: FrozenClock, backend: str
) -> None:
    lease(db, clock)
    login(client, AZT_FINANCE)
    run_url = started_run(app, client, backend)
    run_id = mid_run(db, clock)
    login(client, KTC_FINANCE)
    token = csrf_token(client.get(RUNS).text)
    assert client.post(f"{run_url}/cancel", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{run_url}/resume", data={"csrf_token": token}).status_code == 404
    with db.transaction() as s:
        r = s.get(BillingRun, run_id)
        assert r is not None and r.state == "running" and r.cancel_requested_at is None
