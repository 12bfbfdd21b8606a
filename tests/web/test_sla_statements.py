"""Availability where customers read it (SPEC 7): the portal's service page shows the last months
with the same figures as the staff page and the API (the credit, and the invoice it is billed
on), and the SLA statement of a month, PDF and CSV, lists each of the customer's services active
in it. A portal login sees its own customer only; staff download a customer's statement from
its page when the customer is their party's (or they are admins)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader

from billing.access.services import create_portal_login
from billing.clock import FrozenClock
from billing.db import Database
from billing.sla.outages import record_outage
from billing.sla.services import seed_sla_policies
from tests import factories
from tests.helpers import FAST_HASH, PASSWORD, login

EMAIL = "noc@sla-portal.example"
STAFF = [
    ("finance@azertelecom.az", "AZT", "finance"),
    ("sales@azertelecom.az", "AZT", "sales"),
    ("admin@azertelecom.az", "AZT", "admin"),
    ("finance@kazakhtelecom.kz", "KTC", "finance"),
    ("noc@azertelecom.az", "AZT", "noc"),
]
HOSTILE_NAME = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def seed() -> str:
    return "reference"


@dataclass
class World:
    customer_id: int
    circuit: str  # below target in October: 224 minutes down
    late: str  # in service since 15 October
    theirs: str
    their_customer_id: int
    invoice: str  # the October invoice that carries the credit


def _world(db: Database, clock: FrozenClock) -> World:
    now = clock.now()
    with db.transaction() as s:
        factories.demo_tax_rules(s, now=now)
        factories.demo_agreement(s, now=now)
        seed_sla_policies(s, effective_from=date(2026, 1, 1), now=now)
        mine = factories.customer(s, now=now, legal_name=HOSTILE_NAME)
        down = factories.active_service(
            s,
            now=now,
            customer=mine,
            mrc=Decimal("6000"),
            nrc=Decimal("0"),
            ready_for_service=date(2026, 10, 1),
        )
        late = factories.active_service(
            s, now=now, customer=mine, ready_for_service=date(2026, 10, 15)
        )
        theirs = factories.active_service(
            s, now=now, mrc=Decimal("6000"), ready_for_service=date(2026, 10, 1)
        )
        record_outage(
            s,
            {
                "segment": "S1",
                "start": datetime(2026, 10, 20, 6, 0, tzinfo=UTC).isoformat(),
                "end": datetime(2026, 10, 20, 9, 44, tzinfo=UTC).isoformat(),
                "cause": "Fiber cut",
                "ticket": "INC-1",
            },
            actor="noc@example.test",
            now=now,
        )
        for email, party, role in STAFF:
            factories.staff_user(s, now=now, party=party, role=role, email=email)
        create_portal_login(
            s,
            customer_id=mine.id,
            email=EMAIL,
            name="Portal NOC",
            password=PASSWORD,
            actor="tests",
            now=now,
            hash_method=FAST_HASH,
        )
        world = World(
            mine.id, down.circuit_id, late.circuit_id, theirs.circuit_id, theirs.customer_id, ""
        )
    invoice = factories.bill_and_issue(db, clock, world.customer_id, "2026-10")
    assert invoice.number is not None
    world.invoice = invoice.number
    return world


@pytest.fixture
def world(db: Database, clock: FrozenClock) -> World:
    return _world(db, clock)


def test_the_portal_service_page_shows_the_months_and_the_billed_credit(
    client: FlaskClient, world: World
) -> None:
    login(client, EMAIL)
    page = client.get(f"/portal/services/{world.circuit}")
    assert page.status_code == 200
    html = page.text
    section = html[html.index('id="availability"') :]
    section = section[: section.index("</section>")]
    october = section[section.index('id="sla-2026-10"') :]
    october = october[: october.index("</tr>")]
    assert "October 2026" in october
    assert "44640" in october and ">224<" in october
    assert "99.49%" in october and "below target" in october
    assert "-$600.00" in october.replace("\u00a0", " ")
    assert f'href="/portal/invoices/{world.invoice}"' in october
    november = section[section.index('id="sla-2026-11"') :]
    assert "(so far)" in november[: november.index("</tr>")]
    assert "sla-2026-09" not in section  # not in service before October
    assert 'href="/portal/sla-statements"' in section
    # Another customer's service, and its months, are not found.
    assert client.get(f"/portal/services/{world.theirs}").status_code == 404


def test_the_statement_pdf_and_csv_list_the_customers_services_of_the_month(
    client: FlaskClient, world: World
) -> None:
    login(client, EMAIL)
    listing = client.get("/portal/sla-statements")
    assert listing.status_code == 200
    assert 'href="/portal/sla-statements/2026-10.pdf"' in listing.text
    assert 'href="/portal/sla-statements/2026-11.csv"' in listing.text
    assert "2026-09" not in listing.text  # before the first contract

    pdf = client.get("/portal/sla-statements/2026-10.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "sla-statement-" in pdf.headers["Content-Disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "SLA statement October 2026" in text
    assert HOSTILE_NAME in text  # printed as text, never run
    assert world.circuit in text and world.late in text
    assert world.theirs not in text
    assert "99.49%" in text and "224" in text and world.invoice in text

    response = client.get("/portal/sla-statements/2026-10.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "customer",
        "month",
        "circuit",
        "product",
        "protection",
        "active_minutes",
        "down_minutes",
        "availability_percent",
        "target_percent",
        "credit",
        "currency",
        "billed_on",
    ]
    by_circuit = {row[2]: row for row in rows[1:]}
    assert set(by_circuit) == {world.circuit, world.late}
    down = by_circuit[world.circuit]
    # A name that would run as a formula is quoted; the negative credit stays a number.
    assert down[0] == "'" + HOSTILE_NAME
    assert down[1] == "2026-10"
    assert down[5:] == ["44640", "224", "99.49", "99.5", "-600.00", "USD", world.invoice]
    late = by_circuit[world.late]
    # Active from 15 October in Baku: the same 224 minutes weigh more (99.0849...%).
    assert late[5:9] == [str(17 * 24 * 60), "224", "99.08", "99.5"]
    assert late[9].startswith("-") and late[10:] == ["USD", world.invoice]
    # Months not offered: not found.
    assert client.get("/portal/sla-statements/2026-12.pdf").status_code == 404
    assert client.get("/portal/sla-statements/2026-13.csv").status_code == 404
    assert client.get("/portal/sla-statements/2026-09.csv").status_code == 404


def test_staff_download_a_customers_statement_from_its_page(
    client: FlaskClient, world: World
) -> None:
    login(client, "finance@azertelecom.az")
    page = client.get(f"/customers/{world.customer_id}")
    assert 'id="sla-statement-form"' in page.text
    assert '<option value="2026-10">October 2026</option>' in page.text
    url = f"/customers/{world.customer_id}/sla-statement"
    response = client.get(f"{url}?period=2026-10&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert {row[2] for row in rows[1:]} == {world.circuit, world.late}
    pdf = client.get(f"{url}?period=2026-10&format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # A month not offered, or a format not known: back to the page with a message.
    for query in ("period=2026-12&format=pdf", "period=x&format=csv", "period=2026-10&format=x"):
        refused = client.get(f"{url}?{query}")
        assert refused.status_code == 302, query
        assert refused.headers["Location"].endswith(f"/customers/{world.customer_id}#sla")


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("sales@azertelecom.az", 200),
        ("admin@azertelecom.az", 200),
        ("finance@kazakhtelecom.kz", 403),  # another party's customer
        ("noc@azertelecom.az", 403),
    ],
)
def test_who_may_download_a_statement(
    client: FlaskClient, world: World, email: str, status: int
) -> None:
    login(client, email)
    response = client.get(f"/customers/{world.customer_id}/sla-statement?period=2026-10&format=csv")
    assert response.status_code == status
    if status == 403 and email != "noc@azertelecom.az":
        page = client.get(f"/customers/{world.customer_id}")
        assert 'id="sla-statement-form"' not in page.text
