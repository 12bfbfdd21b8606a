"""The portal a customer can live in (issue 17, SPEC 10): its credit balance, the bank details
to pay to, its payment history and credit notes, each invoice's lines, its services and
contracts, and its billing contacts, which it manages itself (audited with the portal login as
actor). Another customer's invoice, payment, service, contract or contact is not found (404)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from billing.access.services import create_portal_login
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice
from billing.mail.models import BillingContact
from billing.mail.services import add_contact
from billing.money import Money
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.payments.services import record_bank_payment
from tests import factories
from tests.helpers import FAST_HASH, PASSWORD, csrf_token, login

EMAIL = "ops@portal-pages.example"
SYSTEM = Seller("tests", None)


@dataclass
class World:
    customer_id: int
    invoice: str
    service: str
    contract: str
    contact_id: int
    their_invoice: str
    their_service: str
    their_contract: str
    their_contact_id: int


def _customer_with_history(db: Database, clock: FrozenClock, legal_name: str) -> dict[str, object]:
    with db.transaction() as s:
        customer = factories.customer(s, now=clock.now(), legal_name=legal_name)
        service = factories.active_service(
            s,
            now=clock.now(),
            customer=customer,
            mrc=Decimal("2000"),
            ready_for_service=date(2026, 11, 1),
        )
        contact = add_contact(
            s,
            customer.id,
            {"name": "Accounts", "email": f"ap@{customer.id}.example", "documents": ["invoices"]},
            editor=SYSTEM,
            now=clock.now(),
        )
        found = {
            "customer_id": customer.id,
            "service": service.circuit_id,
            "contract": service.contract.number,
            "contact_id": contact.id,
        }
    invoice = factories.bill_and_issue(db, clock, int(str(found["customer_id"])))
    found["invoice"] = invoice.number
    found["invoice_id"] = invoice.id
    return found


@pytest.fixture
def world(db: Database, clock: FrozenClock) -> World:
    return build_world(db, clock)


def build_world(db: Database, clock: FrozenClock) -> World:
    """Two customers each with a service, an issued November invoice and a billing contact; the
    first has paid its invoice with 150.00 over (credit balance) and has the portal login."""
    mine = _customer_with_history(db, clock, "Portal Pages Carrier")
    theirs = _customer_with_history(db, clock, "Someone Else Telecom")
    with db.transaction() as s:
        azt = s.scalars(select(Party).where(Party.code == "AZT")).one()
        invoice = s.get(Invoice, mine["invoice_id"])
        assert invoice is not None
        # Pays the invoice and 150.00 more, which stays as credit balance.
        record_bank_payment(
            s,
            customer_id=int(str(mine["customer_id"])),
            issuer_id=azt.id,
            amount=Money(invoice.total + Decimal("150.00"), invoice.currency),
            value_date=date(2026, 12, 3),
            reference="WIRE-PORTAL-0001",
            applications=None,
            actor=SYSTEM,
            now=clock.now(),
        )
        create_portal_login(
            s,
            customer_id=int(str(mine["customer_id"])),
            email=EMAIL,
            name="Portal Ops",
            password=PASSWORD,
            actor="tests",
            now=clock.now(),
            hash_method=FAST_HASH,
        )
    return World(
        customer_id=int(str(mine["customer_id"])),
        invoice=str(mine["invoice"]),
        service=str(mine["service"]),
        contract=str(mine["contract"]),
        contact_id=int(str(mine["contact_id"])),
        their_invoice=str(theirs["invoice"]),
        their_service=str(theirs["service"]),
        their_contract=str(theirs["contract"]),
        their_contact_id=int(str(theirs["contact_id"])),
    )


def _section(html: str, marker: str) -> str:
    part = html[html.index(marker) :]
    return part[: part.index("</section>")]


def test_the_portal_shows_balance_bank_details_payments_lines_services_and_contracts(
    client: FlaskClient, world: World
) -> None:
    login(client, EMAIL)
    home = client.get("/portal/").text
    for label in ("Invoices", "Payments", "Services", "Contracts", "Contacts", "Webhooks"):
        assert f">{label}</a>" in home, label
    credit = _section(home, 'id="credit-balance"')
    assert "AZT" in credit and "$150.00" in credit
    bank = _section(home, 'id="bank-details"')
    assert "IBAN AZ62AIIB38060019440020411200" in bank and "Kapital Bank" in bank
    assert "quote the invoice number" in bank

    payments = client.get("/portal/payments").text
    table = _section(payments, 'id="portal-payments"')
    assert "WIRE-PORTAL-0001" in table and world.invoice in table and "bank transfer" in table
    assert "$150.00" in table  # the credit left
    assert "Someone Else" not in payments and world.their_invoice not in payments
    assert "No payments match this search" in client.get("/portal/payments?q=nothing-like").text
    exported = client.get("/portal/payments?format=csv")
    assert exported.headers["Content-Disposition"].startswith('attachment; filename="payments-')
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1
    assert rows[0]["reference"] == "WIRE-PORTAL-0001"
    assert rows[0]["applied_to"] == world.invoice and rows[0]["credit_left"] == "150.00"

    invoice = client.get(f"/portal/invoices/{world.invoice}").text
    lines = _section(invoice, 'id="invoice-lines"')
    assert world.service in lines and "2026-11-01 – 2026-11-30" in lines and "2,000.00" in lines
    assert "Subtotal" in invoice and "WIRE-PORTAL-0001" not in invoice  # payments show by date
    assert "bank transfer" in _section(invoice, 'id="payments"')

    services = client.get("/portal/services").text
    row = _section(services, 'id="portal-services"')
    assert world.service in row and "2026-11-01" in row and world.contract in row
    assert world.their_service not in services
    assert world.service not in client.get("/portal/services?state=terminated").text
    service_csv = list(csv.DictReader(io.StringIO(client.get("/portal/services?format=csv").text)))
    assert [r["circuit"] for r in service_csv] == [world.service]
    assert service_csv[0]["active_since"] == "2026-11-01" and service_csv[0]["route"]

    service = client.get(f"/portal/services/{world.service}").text
    assert "Active since" in service and "2026-11-01" in service and world.contract in service

    contracts = client.get("/portal/contracts").text
    assert world.contract in contracts and world.their_contract not in contracts
    contract = client.get(f"/portal/contracts/{world.contract}").text
    assert world.service in _section(contract, 'id="contract-services"')
    contract_csv = list(
        csv.DictReader(io.StringIO(client.get("/portal/contracts?format=csv").text))
    )
    assert [r["number"] for r in contract_csv] == [world.contract]


def test_another_customers_records_are_not_found(client: FlaskClient, world: World) -> None:
    login(client, EMAIL)
    for path in (
        f"/portal/invoices/{world.their_invoice}",
        f"/portal/services/{world.their_service}",
        f"/portal/contracts/{world.their_contract}",
        f"/portal/contacts/{world.their_contact_id}/edit",
        f"/portal/contacts/{world.their_contact_id}/remove",
        "/portal/services/" + "X" * 300,
        "/portal/contracts/" + "X" * 300,
        "/portal/contacts/99999999/edit",
    ):
        assert client.get(path).status_code == 404, path
    token = csrf_token(client.get("/portal/contacts").text)
    removed = client.post(
        f"/portal/contacts/{world.their_contact_id}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 404
    edited = client.post(
        f"/portal/contacts/{world.their_contact_id}/edit",
        data={"csrf_token": token, "name": "Mine now", "email": "x@y.example", "language": "en"},
    )
    assert edited.status_code == 404


def test_a_customer_adds_edits_and_removes_its_billing_contacts_after_confirming(
    client: FlaskClient, db: Database, world: World
) -> None:
    login(client, EMAIL)
    page = client.get("/portal/contacts").text
    assert f"ap@{world.customer_id}.example" in page
    form = client.get("/portal/contacts/new").text
    bad = client.post(
        "/portal/contacts/new",
        data={"csrf_token": csrf_token(form), "name": "", "email": "not an address"},
    )
    assert bad.status_code == 422 and "field-error" in bad.text
    added = client.post(
        "/portal/contacts/new",
        data={
            "csrf_token": csrf_token(form),
            "name": "Treasury",
            "email": "treasury@portal-pages.example",
            "language": "ru",
            "invoices": "y",
            "reminders": "y",
        },
    )
    assert added.status_code == 302
    with db.transaction() as s:
        contact = s.scalars(
            select(BillingContact).where(BillingContact.email == "treasury@portal-pages.example")
        ).one()
        assert contact.customer_id == world.customer_id
        assert contact.documents == ["invoices", "reminders"]
        contact_id = contact.id

    edit = client.get(f"/portal/contacts/{contact_id}/edit").text
    assert 'value="treasury@portal-pages.example"' in edit
    saved = client.post(
        f"/portal/contacts/{contact_id}/edit",
        data={
            "csrf_token": csrf_token(edit),
            "name": "Treasury desk",
            "email": "treasury@portal-pages.example",
            "language": "en",
            "credit_notes": "y",
        },
    )
    assert saved.status_code == 302

    # Removing asks first: the GET is a question and changes nothing.
    question = client.get(f"/portal/contacts/{contact_id}/remove")
    assert question.status_code == 200 and "Remove billing contact" in question.text
    with db.transaction() as s:
        assert s.get(BillingContact, contact_id) is not None
    gone = client.post(
        f"/portal/contacts/{contact_id}/remove", data={"csrf_token": csrf_token(question.text)}
    )
    assert gone.status_code == 302
    with db.transaction() as s:
        assert s.get(BillingContact, contact_id) is None
        trail = s.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(
                AuditEntry.entity_type == "billing_contact", AuditEntry.entity_id == str(contact_id)
            )
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(t) for t in trail] == [
        ("billing_contact.create", f"portal {EMAIL}"),
        ("billing_contact.update", f"portal {EMAIL}"),
        ("billing_contact.delete", f"portal {EMAIL}"),
    ]
