"""A customer's invoice language and a tax rule's legal notes per language through the forms
(SPEC 14): stored, shown, audited; a bad value is a form message that writes nothing; another
party's finance reads the notes but cannot change them."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from billing.audit import AuditEntry
from billing.db import Database
from billing.invoicing.models import TaxRuleRecord
from billing.parties.models import Customer, Party
from tests.helpers import customer_id, login, post_form
from tests.web.test_billing_run_pages import RULES
from tests.web.test_sales_pages import customer_form, field_errors

AZT_FINANCE = "finance@azertelecom.az"
KTC_FINANCE = "finance@kazakhtelecom.kz"


def test_a_new_customer_takes_its_countrys_invoice_language_or_the_one_chosen(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    made = post_form(
        client, "/customers/new", "/customers/new", customer_form(country="az", invoice_language="")
    )
    assert made.status_code == 302, field_errors(made.text)
    page = client.get(made.headers["Location"]).text
    assert "Azerbaijani beside English" in page
    chosen = post_form(
        client,
        "/customers/new",
        "/customers/new",
        customer_form(legal_name="Kaspi Link LLP", country="kz", invoice_language="kk"),
    )
    assert chosen.status_code == 302, field_errors(chosen.text)
    volga, kaspi = customer_id(db, "Volga Link JSC"), customer_id(db, "Kaspi Link LLP")
    with db.transaction() as s:
        assert [s.get(Customer, i).invoice_language for i in (volga, kaspi)] == ["az", "kk"]  # type: ignore[union-attr]


def test_an_unknown_invoice_language_is_a_form_message_and_nothing_is_stored(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    refused = post_form(
        client, "/customers/new", "/customers/new", customer_form(invoice_language="fr")
    )
    assert refused.status_code == 422
    assert "Not a valid choice" in refused.text
    for hostile in ("en\x00", "k" * 10_000):
        response = post_form(
            client, "/customers/new", "/customers/new", customer_form(invoice_language=hostile)
        )
        assert response.status_code in (400, 422)
    with db.transaction() as s:
        assert s.scalar(select(Customer.id).where(Customer.legal_name == "Volga Link JSC")) is None


def _rule_id(db: Database, issuer: str, country: str) -> int:
    with db.transaction() as s:
        return int(
            s.scalars(
                select(TaxRuleRecord.id)
                .join(Party, Party.id == TaxRuleRecord.issuer_party_id)
                .where(Party.code == issuer, TaxRuleRecord.customer_country == country)
            ).first()
        )


def test_finance_keeps_a_rules_legal_notes_per_language_audited(
    client: FlaskClient, db: Database
) -> None:
    rule = _rule_id(db, "AZT", "AZ")
    url = f"{RULES}/{rule}/notes"
    login(client, AZT_FINANCE)
    assert f'href="{url}"' in client.get(RULES).text
    page = client.get(url).text
    assert "Azərbaycan Respublikasında ƏDV 18% dərəcə ilə" in page  # the demo's own
    saved = post_form(
        client,
        url,
        url,
        {"note_ru": "НДС Азербайджана 18%", "note_az": "", "note_kk": "  "},
    )
    assert saved.status_code == 302
    with db.transaction() as s:
        row = s.get(TaxRuleRecord, rule)
        assert row is not None and {n.language: n.note for n in row.notes} == {
            "ru": "НДС Азербайджана 18%"
        }
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "tax_rule.notes")).one()
        assert entry.after == {"ru": "НДС Азербайджана 18%"}
    too_long = post_form(client, url, url, {"note_ru": "я" * 2001, "note_az": "", "note_kk": ""})
    assert too_long.status_code == 422
    with db.transaction() as s:
        row = s.get(TaxRuleRecord, rule)
        assert row is not None and [n.note for n in row.notes] == ["НДС Азербайджана 18%"]


def test_another_partys_finance_reads_the_notes_but_cannot_change_them(
    client: FlaskClient, db: Database
) -> None:
    rule = _rule_id(db, "AZT", "AZ")
    url = f"{RULES}/{rule}/notes"
    login(client, KTC_FINANCE)
    page = client.get(url)
    assert page.status_code == 200 and 'name="note_ru"' not in page.text
    refused = post_form(client, url, url, {"note_ru": "X", "note_az": "", "note_kk": ""})
    assert refused.status_code in (403, 422)
    with db.transaction() as s:
        row = s.get(TaxRuleRecord, rule)
        assert row is not None and "ru" not in {n.language for n in row.notes}
    assert client.get(f"{RULES}/999999/notes").status_code == 404
