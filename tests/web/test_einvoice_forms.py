"""The e-invoice data through the forms (SPEC 14): a customer's split address and VAT id, a tax
rule's VAT category and exemption reason, an operator's address, VAT id, IBAN and BIC. Bad input
is a form message and writes nothing; good input is stored, compacted, and audited."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from billing.audit import AuditEntry
from billing.db import Database
from billing.invoicing.models import TaxRuleRecord
from billing.parties.models import Customer, Party
from tests.helpers import customer_id, login, post_form
from tests.web.test_billing_run_pages import NEW_RULE, RULES
from tests.web.test_sales_pages import SILK, count, customer_form, field_errors, stored

ADMIN = "admin@azertelecom.az"
AZT_FINANCE = "finance@azertelecom.az"


def test_a_customer_gets_its_split_address_and_vat_id_compacted(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    values = customer_form(
        country="de",
        vat_id="de 811 907 980",
        street="Kaiserstrasse 10",
        postal_code="60311",
        city="Frankfurt am Main",
    )
    response = post_form(client, "/customers/new", "/customers/new", values)
    assert response.status_code == 302, field_errors(response.text)
    page = client.get(response.headers["Location"]).text
    assert "DE811907980" in page and "Kaiserstrasse 10, 60311 Frankfurt am Main" in page
    with db.transaction() as s:
        c = s.get(Customer, customer_id(db, "Volga Link JSC"))
        assert c is not None
        assert (c.vat_id, c.street, c.postal_code, c.city) == (
            "DE811907980",
            "Kaiserstrasse 10",
            "60311",
            "Frankfurt am Main",
        )


@pytest.mark.parametrize(
    ("vat_id", "message"),
    [
        ("DE", "2-letter country code and 2 to 30 letters or digits"),
        ("DE81190798!", "2-letter country code and 2 to 30 letters or digits"),
        ("FR40303265045", "starts with GE"),
    ],
)
def test_a_bad_vat_id_is_a_form_message_and_nothing_is_stored(
    client: FlaskClient, db: Database, vat_id: str, message: str
) -> None:
    login(client)
    before = stored(db)
    response = post_form(client, "/customers/new", "/customers/new", customer_form(vat_id=vat_id))
    assert response.status_code == 422
    assert any(message in e for e in field_errors(response.text)), field_errors(response.text)
    url = f"/customers/{customer_id(db, SILK)}/edit"
    response = post_form(client, url, url, customer_form(legal_name=SILK, vat_id=vat_id))
    assert response.status_code == 422
    assert stored(db) == before


def test_a_tax_rule_takes_a_category_and_needs_an_exemption_reason_outside_s_and_z(
    client: FlaskClient, db: Database
) -> None:
    login(client, AZT_FINANCE)
    before = count(db, TaxRuleRecord)
    zero = {**NEW_RULE, "rate_percent": "0", "name": "VAT reverse charge"}
    for values, message in (
        ({**zero, "category_code": "AE"}, "needs an exemption reason"),
        ({**NEW_RULE, "category_code": "AE"}, "has a 0% rate"),
        ({**zero, "category_code": "S"}, "Standard rate (S) has a rate above 0%"),
        (
            {**zero, "category_code": "AE", "exemption_reason_code": "EU-AE"},
            "A VATEX code",
        ),
    ):
        response = post_form(client, RULES, RULES, values)
        assert response.status_code == 422, values
        assert message in response.text, values
    assert count(db, TaxRuleRecord) == before
    response = post_form(
        client,
        RULES,
        RULES,
        {
            **zero,
            "category_code": "AE",
            "exemption_reason_code": "vatex-eu-ae",
            "exemption_reason": "Reverse charge",
        },
    )
    assert response.status_code == 302
    with db.transaction() as s:
        rule = s.execute(
            select(TaxRuleRecord).where(TaxRuleRecord.name == "VAT reverse charge")
        ).scalar_one()
        assert (rule.category_code, rule.exemption_reason_code, rule.exemption_reason) == (
            "AE",
            "VATEX-EU-AE",
            "Reverse charge",
        )
    assert "Exemption: VATEX-EU-AE · Reverse charge" in client.get(RULES).text


def _azt(db: Database) -> tuple[int, tuple[str, ...]]:
    with db.transaction() as s:
        party = s.execute(select(Party).where(Party.code == "AZT")).scalar_one()
        return party.id, (party.street, party.vat_id, party.iban, party.bic)


PARTY = {
    "street": "Bakikhanov str. 38",
    "postal_code": "AZ1065",
    "city": "Baku",
    "vat_id": "AZ1400057421",
    "iban": "AZ62 AIIB 3806 0019 4400 2041 1200",
    "bic": "AIIBAZ2X",
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("iban", "AZ63AIIB38060019440020411200", "check digits do not match"),
        ("iban", "AZ77", "2 letters, 2 check digits"),
        ("bic", "AIIB", "8 or 11 letters and digits"),
        ("vat_id", "KZ123456789012", "starts with AZ"),
    ],
)
def test_an_operators_bad_iban_bic_or_vat_id_is_a_form_message_and_nothing_is_stored(
    client: FlaskClient, db: Database, field: str, value: str, message: str
) -> None:
    login(client, ADMIN)
    party_id, before = _azt(db)
    url = f"/admin/parties/{party_id}"
    audit = count(db, AuditEntry)
    response = post_form(client, url, url, {**PARTY, field: value})
    assert response.status_code == 422
    assert any(message in e for e in field_errors(response.text)), field_errors(response.text)
    assert _azt(db) == (party_id, before)
    assert count(db, AuditEntry) == audit


def test_an_administrator_keeps_an_operators_details_audited_and_finance_may_not(
    client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    party_id, _ = _azt(db)
    url = f"/admin/parties/{party_id}"
    assert "AZT" in client.get("/admin/parties").text
    # The demo has AZT's details already: a move is what changes them.
    response = post_form(client, url, url, {**PARTY, "street": "Bakikhanov str. 40"})
    assert response.status_code == 302
    assert _azt(db)[1] == (
        "Bakikhanov str. 40",
        "AZ1400057421",
        "AZ62AIIB38060019440020411200",
        "AIIBAZ2X",
    )
    with db.transaction() as s:
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.entity_type == "party")
        ).scalars()
        assert "party.update" in list(actions)
    login(client, AZT_FINANCE)
    assert client.get(url).status_code == 403
