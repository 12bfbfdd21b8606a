"""The agreement page for administrators, the split on an invoice page, and disputes from the
invoice page (SPEC 5)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.agreement.models import AgreementVersion
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import InvoiceDispute
from tests.helpers import csrf_token, login
from tests.web.test_invoice_pages import ADMIN, AZT_FINANCE, KTC_FINANCE, LIST, bill, issue, post

PAGE = "/admin/agreement"


def versions(db: Database) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(AgreementVersion)).scalar_one())


def form(client: FlaskClient, **changes: str) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": csrf_token(client.get(PAGE).text),
        "name": "Agreement 2027",
        "effective_from": "2027-01-01",
        "commission_percent": "7.5",
        "settlement_terms_days": "30",
        "share_S1_AZT": "60",
        "share_S1_KTC": "40",
        "share_S2_AZT": "50",
        "share_S2_KTC": "50",
        "commission_kinds": ["mrc", "iru_fee"],
        "whole_kinds": ["nrc"],
    }
    data.update(changes)
    return data


def test_only_admins_see_and_record_agreement_versions(client: FlaskClient, db: Database) -> None:
    login(client, AZT_FINANCE)
    assert client.get(PAGE).status_code == 403
    login(client, ADMIN)
    html = client.get(PAGE).text
    assert "Cooperation agreement (demo)" in html and "from 2026-01-01" in html
    response = client.post(PAGE, data=form(client))
    assert response.status_code == 302
    html = client.get(PAGE).text
    assert "Agreement 2027" in html and "7.5" in html
    assert "Seller&#39;s commission 7.5% on mrc, iru_fee" in html or "7.5% on mrc, iru_fee" in html
    assert versions(db) == 2


def test_a_bad_version_is_refused_on_the_form_and_nothing_is_written(
    client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    response = client.post(PAGE, data=form(client, share_S2_KTC="40"))
    assert response.status_code == 422
    assert "add up to 90" in response.text
    response = client.post(PAGE, data=form(client, effective_from="2026-01-01"))
    assert response.status_code == 422
    assert "already takes effect on 2026-01-01" in response.text
    response = client.post(PAGE, data=form(client, commission_percent="101"))
    assert response.status_code == 422
    assert versions(db) == 1


def test_an_issued_invoice_shows_each_party_part_and_total(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    billed = bill(db, clock, mrc="3000", nrc="500")
    issue(db, clock, billed.invoice_id)
    login(client, AZT_FINANCE)
    html = client.get(f"{LIST}/{billed.invoice_id}").text
    # MRC 3,000 for all November: AZT 150 commission + 1,425; KTC 1,425. NRC 500 stays AZT's.
    assert re.search(r'id="split-total-AZT">\$2,075\.00<', html)
    assert re.search(r'id="split-total-KTC">\$1,425\.00<', html)
    assert "Cooperation agreement (demo)" in html


def test_finance_flags_and_resolves_a_dispute_from_the_invoice_page(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    billed = bill(db, clock)
    issue(db, clock, billed.invoice_id)
    url = f"{LIST}/{billed.invoice_id}"
    login(client, KTC_FINANCE)
    refused = post(client, f"{url}/dispute", billed.invoice_id, {"reason": "not ours"})
    assert refused.status_code == 403
    login(client, AZT_FINANCE)
    assert 'id="flag-dispute"' in client.get(url).text
    empty = post(client, f"{url}/dispute", billed.invoice_id, {"reason": ""})
    assert empty.status_code == 422
    flagged = post(client, f"{url}/dispute", billed.invoice_id, {"reason": "Outage days"})
    assert flagged.status_code == 302
    html = client.get(url).text
    assert 'id="disputed"' in html and "Outage days" in html
    row = f'<tr id="invoice-{billed.invoice_id}"'
    assert row in client.get(f"{LIST}?disputed=1").text
    resolved = post(
        client, f"{url}/resolve-dispute", billed.invoice_id, {"resolution": "Credited 2 days"}
    )
    assert resolved.status_code == 302
    assert row not in client.get(f"{LIST}?disputed=1").text
    assert row in client.get(LIST).text
    html = client.get(url).text
    assert "resolved" in html and "Credited 2 days" in html
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(InvoiceDispute)).scalar_one() == 1
