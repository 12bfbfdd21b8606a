"""Finance's billing pages (SPEC 4, 10): a billing run started from the page and its result, the
tax rules, and a contract's IRU payment plan."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import BillingRun, Invoice, InvoiceLine, TaxRuleRecord
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


def run(client: FlaskClient, **data: str) -> object:
    return post_form(client, RUNS, RUNS, {"period": "2026-11", "issuer": "AZT", **data})


def test_a_run_from_the_page_makes_the_drafts_and_shows_what_it_did(
    client: FlaskClient, db: Database, clock: FrozenClock
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
    assert "data-confirm=" in page
    response = run(client)
    assert response.status_code == 200, response.text
    html = response.text
    assert re.search(r'id="run-invoices">1<', html)
    assert re.search(r'id="run-charges">2<', html)
    assert re.search(r'id="run-services">2<', html)
    # 3,000 × 21/30 days + 500 installation
    assert "USD 2,600.00" in html
    assert re.search(r'<ul id="run-skipped"><li>TCF-WL-\d+: [^<]*tax rule', html)
    invoice_id = re.findall(r'href="/finance/invoices/(\d+)"', html)
    with db.transaction() as s:
        drafts = list(s.execute(select(Invoice)).scalars())
        assert [str(d.id) for d in drafts] == invoice_id
        assert drafts[0].status == "draft"
    runs_table = client.get(RUNS).text
    assert re.search(r'<tr id="billing-run-\d+"><td>2026-11</td><td>AZT</td>', runs_table)

    # The same month again bills nothing.
    again = run(client).text
    assert re.search(r'id="run-charges">0<', again)
    assert "nothing billed" in again
    assert count(db, InvoiceLine) == 2
    assert count(db, BillingRun) == 2


def test_a_run_can_issue_its_drafts(client: FlaskClient, db: Database, clock: FrozenClock) -> None:
    lease(db, clock)
    login(client, ADMIN)
    html = run(client, issuer="", issue="y").text
    assert re.search(r'id="run-issued">1<', html)
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
