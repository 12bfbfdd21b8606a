"""The sales pages through Flask's test client, on both databases (SPEC 3, 8 and 10).

Customers, the quote builder (preview writes nothing, save holds), the quote page and its PDF,
accepting into services, the service lifecycle and the price book, as each role sees them.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.models import Allocation, SpectrumReservation
from billing.parties.models import Customer
from billing.sales.models import Contract, PriceBookEntry, PriceBookVersion, Quote, Service
from tests.helpers import csrf_token, customer_id, login, post_form

ADMIN = "admin@azertelecom.az"
SALES = "sales@azertelecom.az"
FINANCE = "finance@azertelecom.az"
KTC_SALES = "sales@kazakhtelecom.kz"
SILK = "Silk Route Carrier GmbH"  # an AZT customer
CASPIAN = "Caspian Transit LLP"  # a KTC customer
BLANK_LINE = {
    "route": "main",
    "protection": "unprotected",
    "product": "",
    "model": "lease",
    "term_months": "12",
    "quantity": "1",
    "discount_percent": "0",
    "width_ghz": "",
}
PROTECTED_100G = {"product": "WL100G", "protection": "protected", "term_months": "36"}


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def stored(db: Database) -> dict[str, int]:
    """How many of each thing a sales page could write."""
    models = (
        Customer,
        Quote,
        SpectrumReservation,
        Allocation,
        Contract,
        Service,
        PriceBookVersion,
        AuditEntry,
    )
    return {m.__name__: count(db, m) for m in models}


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed: what a reader sees."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def flashes(html: str) -> list[str]:
    return [
        text_of(m).strip()
        for m in re.findall(r'<div class="flash [a-z]+"[^>]*>(.*?)</div>', html, re.S)
    ]


def field_errors(html: str) -> list[str]:
    return [text_of(m).strip() for m in re.findall(r'class="field-error"[^>]*>(.*?)</', html)]


# --- customers ------------------------------------------------------------------------------


def customer_form(**overrides: str) -> dict[str, str]:
    return {
        "legal_name": "Volga Link JSC",
        "country": "ge",  # lower case is accepted and stored upper case
        "tax_id": "GE-204567",
        "billing_address": "Rustaveli ave. 1, Tbilisi",
        "billing_currency": "USD",
        "payment_terms_days": "45",
        "owner_party": "AZT",
        "contact_name": "Nino",
        "contact_email": "noc@volgalink.example",
        "contact_phone": "+995 32 200 00 00",
        **overrides,
    }


def test_sales_creates_a_customer_and_edits_it(client: FlaskClient, db: Database) -> None:
    login(client)
    created = post_form(client, "/customers/new", "/customers/new", customer_form())
    assert created.status_code == 302
    page = client.get(created.headers["Location"])
    assert "Volga Link JSC saved." in flashes(page.text)
    shown = text_of(page.text)
    for fact in ("Georgia (GE)", "GE-204567", "45 days", "AzerTelecom LLC (AZT)", "USD"):
        assert fact in shown

    cid = customer_id(db, "Volga Link JSC")
    edit_url = f"/customers/{cid}/edit"
    assert 'value="Volga Link JSC"' in client.get(edit_url).text
    edited = post_form(
        client,
        edit_url,
        edit_url,
        customer_form(billing_currency="EUR", payment_terms_days="60", country="DE"),
    )
    assert edited.status_code == 302
    with db.transaction() as s:
        c = s.get(Customer, cid)
        assert c is not None
        assert (c.billing_currency, c.payment_terms_days, c.country) == ("EUR", 60, "DE")
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.entity_type == "customer")
        ).scalars()
        assert list(actions) == ["customer.create", "customer.update"]
    listing = text_of(client.get("/customers").text)
    assert "Volga Link JSC" in listing and "Germany (DE)" in listing


def test_a_ktc_sales_user_sees_azt_customers_read_only_and_gets_403_editing_one(
    client: FlaskClient, db: Database
) -> None:
    login(client, KTC_SALES)
    silk = customer_id(db, SILK)
    listing = client.get("/customers").text
    row = re.search(rf'<tr data-customer="{SILK}">(.*?)</tr>', listing, re.S)
    assert row and "read-only" in row.group(1) and "Edit" not in row.group(1)
    assert f"/customers/{silk}/edit" not in listing
    assert f"/customers/{customer_id(db, CASPIAN)}/edit" in listing  # its own customer

    assert client.get(f"/customers/{silk}/edit").status_code == 403
    before = stored(db)
    token = csrf_token(client.get("/customers").text)
    response = client.post(
        f"/customers/{silk}/edit",
        data={
            **customer_form(legal_name="Taken Over GmbH", owner_party="KTC"),
            "csrf_token": token,
        },
    )
    assert response.status_code == 403
    assert "read-only for you" in response.text
    assert stored(db) == before
    with db.transaction() as s:
        assert s.get(Customer, silk).legal_name == SILK  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "XX", "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ("billing_currency", "GBP", "Not a valid choice"),
        ("payment_terms_days", "400", "a whole number of days from 0 to 365"),
        ("payment_terms_days", "thirty", "must be a whole number"),
        ("legal_name", " ", "This field is required."),
    ],
)
def test_bad_customer_input_gets_422_with_the_fields_message_and_writes_nothing(
    client: FlaskClient, db: Database, field: str, value: str, message: str
) -> None:
    login(client)
    before = stored(db)
    created = post_form(client, "/customers/new", "/customers/new", customer_form(**{field: value}))
    assert created.status_code == 422
    assert any(message in e for e in field_errors(created.text)), field_errors(created.text)
    assert 'value="Volga Link JSC"' in created.text or field == "legal_name"  # input kept

    silk = customer_id(db, SILK)
    url = f"/customers/{silk}/edit"
    edited = post_form(client, url, url, customer_form(**{"legal_name": SILK, field: value}))
    assert edited.status_code == 422
    assert any(message in e for e in field_errors(edited.text))
    assert stored(db) == before
    with db.transaction() as s:
        silk_row = s.get(Customer, silk)
        assert silk_row is not None
        assert (silk_row.country, silk_row.billing_currency, silk_row.payment_terms_days) == (
            "DE",
            "EUR",
            30,
        )


# --- the quote builder ----------------------------------------------------------------------


def quote_form(
    customer: int, *lines: dict[str, str], action: str = "preview", valid_days: str = "14"
) -> dict[str, str]:
    data = {"customer_id": str(customer), "valid_days": valid_days, "notes": "", "action": action}
    for i in range(max(3, len(lines))):
        line = {**BLANK_LINE, **(lines[i] if i < len(lines) else {})}
        data.update({f"lines-{i}-{k}": v for k, v in line.items()})
    return data


def post_quote(client: FlaskClient, data: dict[str, str]) -> Any:
    return post_form(client, "/quotes/new", "/quotes/new", data)


def save_quote(client: FlaskClient, db: Database, *lines: dict[str, str]) -> int:
    response = post_quote(client, quote_form(customer_id(db, SILK), *lines, action="save"))
    assert response.status_code == 302, field_errors(response.text) + flashes(response.text)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_builder_offers_only_the_users_own_partys_customers(
    client: FlaskClient, db: Database
) -> None:
    login(client, KTC_SALES)
    page = client.get("/quotes/new").text
    assert CASPIAN in page and SILK not in page
    response = post_quote(
        client, quote_form(customer_id(db, SILK), {"product": "WL100G"}, action="save")
    )
    assert response.status_code == 422 and count(db, Quote) == 0


def test_preview_shows_price_and_availability_and_writes_nothing(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    before = stored(db)
    spectrum = {"product": "SPECTRUM", "width_ghz": "37.5", "discount_percent": "5"}
    response = post_quote(
        client,
        quote_form(
            customer_id(db, SILK),
            {**PROTECTED_100G, "quantity": "2", "discount_percent": "10"},
            {},  # an empty row in between is ignored
            spectrum,
        ),
    )
    assert response.status_code == 200, field_errors(response.text)
    preview = text_of(response.text.split('id="quote-preview"', 1)[1])
    # Line 1: two protected 100G wavelengths, 36 months: list 4,800 × 1.8, less 10%.
    assert "Available: 2 of 2 units fit" in preview
    assert "Unit 1: first fit main FP1 slots 0–3 + reserve FP1 slots 0–3" in preview
    assert "Unit 2: first fit main FP1 slots 4–7 + reserve FP1 slots 4–7" in preview
    assert "MRC monthly 8,640.00 10% 7,776.00 × 2 15,552.00" in preview
    assert "NRC (installation) one-time 9,000.00 10% 8,100.00 × 2 16,200.00" in preview
    # Line 3 (shown as line 3): 3 slots of spectrum, priced per slot, placed after line 1's units.
    assert "Line 3 · Spectrum" in preview
    assert "Unit 1: first fit main FP1 slots 8–10" in preview
    assert "MRC monthly 4,500.00 5% 4,275.00 × 1 4,275.00" in preview
    assert "Monthly recurring (MRC) $19,827.00" in preview
    assert "One-time (NRC and IRU fees) $19,050.00" in preview
    assert "until 2026-12-09 09:00 UTC" in preview
    assert stored(db) == before


def test_preview_says_when_not_every_unit_fits(client: FlaskClient, db: Database) -> None:
    login(client)
    pairs = {"product": "FIBER_PAIR", "model": "iru", "term_months": "180", "quantity": "5"}
    response = post_quote(client, quote_form(customer_id(db, SILK), pairs))
    assert response.status_code == 200
    preview = text_of(response.text)
    assert "Not available: only 4 of 5 units fit" in preview
    assert "not every unit fits" in preview
    assert "IRU fee one-time 30,000,000.00 0% 30,000,000.00 × 5 150,000,000.00" in preview
    assert "O&M yearly" in preview and "1,200,000.00 × 5 6,000,000.00" in preview


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"product": "WL100G", "term_months": "70"}, "term_months", "a lease runs 12 to 60 months"),
        (
            {"product": "WL100G", "model": "iru", "term_months": "130"},
            "term_months",
            "an IRU runs 10 to 25 whole years",
        ),
        (
            {"product": "WL100G", "discount_percent": "20"},
            "discount_percent",
            "the allowed discount is 0 to 15%",
        ),
        ({"product": "SPECTRUM"}, "width_ghz", "required for spectrum"),
        ({"product": "SPECTRUM", "width_ghz": "40"}, "width_ghz", "not a positive multiple"),
        ({"product": "FIBER_PAIR"}, "model", "IRU only for this product"),
        ({"product": "WL100G", "quantity": "0"}, "quantity", "1 to 32"),
        ({"product": "WL100G", "term_months": ""}, "term_months", "required"),
        ({"product": "NOPE"}, "product", "Not a valid choice"),
    ],
)
def test_a_bad_line_gets_422_with_its_fields_message_and_nothing_is_written(
    client: FlaskClient, db: Database, line: dict[str, str], field: str, message: str
) -> None:
    login(client)
    before = stored(db)
    good = {"product": "WL10G"}
    for action in ("preview", "save"):
        response = post_quote(client, quote_form(customer_id(db, SILK), good, line, action=action))
        assert response.status_code == 422
        # The message sits in line 2's cell for that field.
        cell = re.search(
            rf'<td class="has-error"><[^>]+name="lines-1-{field}".*?</td>', response.text, re.S
        )
        assert cell and message in text_of(cell.group(0)), field_errors(response.text)
        assert "Correct the lines and fields marked below." in flashes(response.text)
    assert stored(db) == before


def test_a_quote_needs_a_line_and_a_validity_in_range(client: FlaskClient, db: Database) -> None:
    login(client)
    before = stored(db)
    empty = post_quote(client, quote_form(customer_id(db, SILK), action="save"))
    assert empty.status_code == 422
    assert "Add at least one line: choose a product." in field_errors(empty.text)
    too_long = post_quote(
        client,
        quote_form(customer_id(db, SILK), {"product": "WL100G"}, action="save", valid_days="91"),
    )
    assert too_long.status_code == 422
    assert any("between 1 and 90" in e for e in field_errors(too_long.text))
    assert stored(db) == before


def test_saving_a_quote_holds_its_spectrum_until_it_expires(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    quote = save_quote(client, db, {**PROTECTED_100G, "quantity": "2"})
    page = client.get(f"/quotes/{quote}")
    assert "Quote Q-2026-000001 saved. Its spectrum is held until 2026-12-09 09:00 UTC." in flashes(
        page.text
    )
    shown = text_of(page.text)
    assert "Quote Q-2026-000001 open" in shown
    assert "Valid until 2026-12-09 09:00 UTC · its spectrum is held until then" in shown
    assert "Unit 1 S1 fiber pair 1 · slots 0–3 (191.3250–191.3750 THz) held" in shown
    assert "S2 fiber pair 1 · slots 0–3" in shown
    assert "Unit 2 S1 fiber pair 1 · slots 4–7" in shown
    assert "MRC monthly 8,640.00 0% 8,640.00 × 2 17,280.00" in shown
    with db.transaction() as s:
        holds = s.execute(select(Allocation)).scalars().all()
        assert len(holds) == 4
        assert {(a.state, a.hold_expires_at) for a in holds} == {
            ("hold", clock.now() + timedelta(days=14))
        }
    # The list shows it, filtered by status and customer.
    assert "Q-2026-000001" in client.get("/quotes?status=open").text
    assert "Q-2026-000001" not in client.get("/quotes?status=accepted").text
    assert "Q-2026-000001" in client.get(f"/quotes?customer_id={customer_id(db, SILK)}").text
    assert "Q-2026-000001" not in client.get(f"/quotes?customer_id={customer_id(db, CASPIAN)}").text


def test_saving_when_the_spectrum_is_gone_answers_409_and_writes_nothing(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    every_pair = {"product": "FIBER_PAIR", "model": "iru", "term_months": "180", "quantity": "4"}
    save_quote(client, db, every_pair)  # holds all four pairs of the main route
    before = stored(db)
    response = post_quote(
        client, quote_form(customer_id(db, SILK), {"product": "WL100G"}, action="save")
    )
    assert response.status_code == 409
    assert any(
        f.startswith("The quote was not saved: 4 free slots are not free on every segment")
        for f in flashes(response.text)
    )
    assert "Not available: only 0 of 1 unit fits" in text_of(response.text)
    assert stored(db) == before


def test_accepting_makes_a_contract_with_services_and_their_circuit_ids(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    quote = save_quote(
        client, db, {**PROTECTED_100G, "quantity": "2"}, {"product": "SPECTRUM", "width_ghz": "50"}
    )
    page = f"/quotes/{quote}"
    accepted = post_form(client, f"/quotes/{quote}/accept", page, {})
    assert accepted.status_code == 302
    contract = client.get(accepted.headers["Location"])
    assert (
        "Contract C-2026-000001 signed: 3 service(s) pending "
        "(TCF-WL-000001, TCF-WL-000002, TCF-SP-000001)." in flashes(contract.text)
    )
    shown = text_of(contract.text)
    assert "TCF-WL-000001 100G wavelength · protected lease 36 months 8,640.00 9,000.00" in shown
    assert "From quote Q-2026-000001" in shown
    with db.transaction() as s:
        assert set(s.execute(select(Allocation.state)).scalars()) == {"allocated"}
    quote_page = text_of(client.get(page).text)
    assert "Quote Q-2026-000001 accepted" in quote_page and "C-2026-000001" in quote_page
    assert "Accept: sign contract" not in quote_page
    again = post_form(client, f"/quotes/{quote}/accept", page, {})
    assert again.status_code == 409
    assert "The quote was not accepted: Q-2026-000001 is already accepted." in flashes(again.text)
    assert count(db, Contract) == 1


def test_cancelling_a_quote_frees_its_spectrum(client: FlaskClient, db: Database) -> None:
    login(client)
    quote = save_quote(client, db, {"product": "WL100G"})
    response = post_form(client, f"/quotes/{quote}/cancel", f"/quotes/{quote}", {})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Quote Q-2026-000001 cancelled; its spectrum is free again." in flashes(page.text)
    assert "Quote Q-2026-000001 cancelled" in text_of(page.text)
    with db.transaction() as s:
        assert set(s.execute(select(Allocation.state)).scalars()) == {"released"}
    again = save_quote(client, db, {"product": "WL100G"})
    assert "S1 fiber pair 1 · slots 0–3" in text_of(client.get(f"/quotes/{again}").text)


def test_an_expired_quote_shows_expired_and_cannot_be_accepted(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    quote = save_quote(client, db, {"product": "WL100G"})
    clock.advance(timedelta(days=14, seconds=1))
    login(client)  # two weeks without use ended the session
    page = client.get(f"/quotes/{quote}")
    shown = text_of(page.text)
    assert "Quote Q-2026-000001 expired" in shown
    assert "expired: its spectrum is free again" in shown
    assert "Accept: sign contract" not in shown
    assert "Q-2026-000001" in client.get("/quotes?status=expired").text
    assert "Q-2026-000001" not in client.get("/quotes?status=open").text
    response = post_form(client, f"/quotes/{quote}/accept", f"/quotes/{quote}", {})
    assert response.status_code == 409
    assert "The quote was not accepted: Q-2026-000001 expired on 2026-12-09 09:00 UTC." in flashes(
        response.text
    )
    assert count(db, Contract) == 0 and count(db, Service) == 0


# --- services -------------------------------------------------------------------------------


def accepted_service(client: FlaskClient, db: Database) -> str:
    quote = save_quote(client, db, {"product": "WL100G"})
    assert post_form(client, f"/quotes/{quote}/accept", f"/quotes/{quote}", {}).status_code == 302
    return "TCF-WL-000001"


def transition(client: FlaskClient, circuit: str, action: str, **fields: str) -> Any:
    """Posts a transition as its confirmation page does (suspend and terminate ask first:
    tests/web/test_confirmations.py)."""
    data = {"effective_date": "", "note": "", "confirmed": "yes", **fields}
    return post_form(client, f"/services/{circuit}/{action}", f"/services/{circuit}", data)


def test_a_service_goes_through_its_states_and_shows_its_history(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    circuit = accepted_service(client, db)
    today = clock.now().date().isoformat()
    page = client.get(f"/services/{circuit}").text
    shown = text_of(page)
    assert "S1 fiber pair 1 · slots 0–3 (191.3250–191.3750 THz) allocated" in shown
    assert "Lease, 12 months" in shown and "6,000.00 / month" in shown
    assert f'value="{today}"' in page  # the ready-for-service date defaults to today

    for action, fields, state in [
        ("activate", {"effective_date": today}, "active"),
        ("suspend", {"note": "unpaid invoice"}, "suspended"),
        ("resume", {}, "active"),
        ("terminate", {"effective_date": today, "note": "customer left"}, "terminated"),
    ]:
        response = transition(client, circuit, action, **fields)
        assert response.status_code == 302, flashes(response.text)
        page = client.get(response.headers["Location"]).text
        assert f"{circuit} is now {state}." in flashes(page)
    # The history in words, newest first, with names (SPEC 10).
    history = [
        text_of(item)
        for item in re.findall(r'<li id="history-\d+">(.*?)</li>', page.split('id="history"')[1])
    ]
    said = [re.sub(r"^\s*[0-9-]+ [0-9:]+ ", "", line) for line in history]  # no day and time
    assert said == [
        f"AZT Sales (AZT sales) charged service {circuit} USD 72,000.00 for ending 12 months "
        "before its term.",
        f"AZT Sales (AZT sales) terminated service {circuit} with effect from {today} (note: "
        "“customer left”).",
        f"AZT Sales (AZT sales) resumed service {circuit}.",
        f"AZT Sales (AZT sales) suspended service {circuit} (note: “unpaid invoice”).",
        f"AZT Sales (AZT sales) activated service {circuit} with effect from {today}.",
        f"AZT Sales (AZT sales) accepted quote Q-2026-000001, making contract C-2026-000001 "
        f"with services {circuit}.",
    ]
    assert "Change state" not in text_of(page)  # nothing is left to do
    with db.transaction() as s:
        assert set(s.execute(select(Allocation.state)).scalars()) == {"released"}
        service = s.execute(select(Service)).scalar_one()
        assert (service.ready_for_service_date, service.end_date) == (date(2026, 11, 25),) * 2
    listing = client.get("/services?state=terminated").text
    assert circuit in listing
    assert circuit not in client.get("/services?state=active").text


def test_a_wrong_transition_is_refused_with_a_message_and_changes_nothing(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    circuit = accepted_service(client, db)
    before = stored(db)
    yesterday = (clock.now().date() - timedelta(days=1)).isoformat()
    unsaid = transition(client, circuit, "activate", effective_date=yesterday)
    assert unsaid.status_code == 422
    assert f"{circuit} was not changed: a back-dated change needs a note saying why." in flashes(
        unsaid.text
    )
    assert f'value="{yesterday}"' in unsaid.text  # the form keeps what was typed
    early = transition(client, circuit, "activate", effective_date=yesterday, note="late")
    assert early.status_code == 422
    assert "the date cannot be before the contract was signed" in " ".join(flashes(early.text))
    long_ago = (clock.now().date() - timedelta(days=91)).isoformat()
    too_old = transition(client, circuit, "activate", effective_date=long_ago, note="late")
    assert too_old.status_code == 422
    assert "at most 90 days" in " ".join(flashes(too_old.text))
    missing = transition(client, circuit, "activate")
    assert missing.status_code == 422 and "required to activate" in field_errors(missing.text)
    not_now = transition(client, circuit, "suspend")
    assert not_now.status_code == 409
    assert f"{circuit} was not changed: a pending service cannot suspend." in flashes(not_now.text)
    assert transition(client, circuit, "explode").status_code == 404
    assert stored(db) == before
    assert "pending" in text_of(client.get(f"/services/{circuit}").text)


def test_a_ktc_user_sees_an_azt_service_but_cannot_change_it(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    circuit = accepted_service(client, db)
    other = client.application.test_client()
    login(other, KTC_SALES)
    page = other.get(f"/services/{circuit}").text
    assert "Change state" not in page
    response = transition(other, circuit, "activate", effective_date="2026-11-25")
    assert response.status_code == 403
    assert "read-only for you" in " ".join(flashes(response.text))


# --- the PDF --------------------------------------------------------------------------------


def test_the_quote_pdf_has_the_number_parties_lines_and_validity(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    quote = save_quote(
        client,
        db,
        {**PROTECTED_100G, "quantity": "2", "discount_percent": "10"},
        {"product": "WL400G", "model": "iru", "term_months": "180"},
    )
    response = client.get(f"/quotes/{quote}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="Q-2026-000001.pdf"'
    text = re.sub(
        r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    )
    for expected in (
        "QUOTATION",
        "Q-2026-000001",
        "AzerTelecom LLC",
        "Bakikhanov str. 38",
        "Tax id: 1400057421",
        SILK,
        "Kaiserstrasse 10",
        "Tax id: DE312345678",
        "Valid until 2026-12-09 09:00 UTC",
        "8,640.00 10% 7,776.00 2 15,552.00",  # MRC: list, discount, net, units, total
        "1,750,000.00 0% 1,750,000.00 1 1,750,000.00",  # the 400G IRU fee, 15–25 years
        "70,000.00",  # its yearly O&M: 4%
        "held for Silk Route Carrier GmbH until that time",
    ):
        assert expected in text, expected


# --- the price book -------------------------------------------------------------------------


def entry(db: Database, version: str, product_code: str, protection: str, term: int) -> Any:
    with db.transaction() as s:
        return s.execute(
            select(PriceBookEntry)
            .join(PriceBookVersion)
            .where(
                PriceBookVersion.name == version,
                PriceBookEntry.product.has(code=product_code),
                PriceBookEntry.protection == protection,
                PriceBookEntry.model == "lease",
                PriceBookEntry.term_min_months <= term,
                PriceBookEntry.term_max_months >= term,
            )
        ).scalar_one()


def test_an_admin_copies_the_price_book_with_a_percentage_change_and_edits_it_until_in_force(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    quote = save_quote(client, db, {"product": "WL100G"})  # at 6,000.00 a month
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    login(client, ADMIN)
    listing = text_of(client.get("/pricebook").text)
    assert "List prices 2026 2026-01-01 in force 15% 54" in listing

    created = post_form(
        client,
        "/pricebook",
        "/pricebook",
        {
            "source_id": "1",
            "effective_from": "2026-12-01",
            "change_percent": "5",
            "max_discount_percent": "",
            "name": "Winter 2026",
        },
    )
    assert created.status_code == 302
    page = client.get(created.headers["Location"]).text
    assert "Price book version “Winter 2026” created." in flashes(page)
    assert "Winter 2026 scheduled" in text_of(page)
    wl100g = entry(db, "Winter 2026", "WL100G", "unprotected", 12)
    assert (wl100g.mrc, wl100g.nrc) == (Decimal("6300.00"), Decimal("5250.00"))
    assert count(db, PriceBookEntry) == 2 * 54

    # Not yet in force: its prices can still change.
    url = created.headers["Location"]
    form = dict(re.findall(r'name="(e\d+-[a-z_]+|max_discount_percent)"[^>]*value="([^"]*)"', page))
    form[f"e{wl100g.id}-mrc"] = "6250"
    form["max_discount_percent"] = "12.5"
    saved = post_form(client, url, url, form)
    assert saved.status_code == 302
    assert "Saved: 1 price(s) changed." in flashes(client.get(url).text)
    assert entry(db, "Winter 2026", "WL100G", "unprotected", 12).mrc == Decimal("6250.00")
    with db.transaction() as s:
        assert s.execute(
            select(PriceBookVersion.max_discount_percent).where(
                PriceBookVersion.name == "Winter 2026"
            )
        ).scalar_one() == Decimal("12.5")
    bad = post_form(client, url, url, {**form, f"e{wl100g.id}-nrc": "-1"})
    assert bad.status_code == 422
    assert "must be between 0 and 999999999999.99" in field_errors(bad.text)

    # In force: read-only, and the quote made before keeps its price.
    clock.set(clock.now().replace(day=1, month=12))
    login(client, ADMIN)  # days without use ended the session
    assert 'name="max_discount_percent"' not in client.get(url).text
    late = post_form(client, url, "/pricebook", form)
    assert late.status_code == 409
    assert any("create a new version instead" in f for f in flashes(late.text))
    assert "6,000.00" in text_of(client.get(f"/quotes/{quote}").text)
    assert "6,250.00" not in text_of(client.get(f"/quotes/{quote}").text)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"effective_from": "2026-11-24"}, 422, "today or later"),
        ({"effective_from": "2026-01-01"}, 422, "today or later"),
        ({"change_percent": "-100"}, 422, "between -99.99 and 1000"),
        ({"change_percent": "x"}, 422, "must be a number"),
    ],
)
def test_a_bad_new_version_is_refused_and_writes_nothing(
    client: FlaskClient, db: Database, fields: dict[str, str], status: int, message: str
) -> None:
    login(client, ADMIN)
    before = stored(db)
    data = {"source_id": "1", "effective_from": "2026-12-01", "change_percent": "0", **fields}
    response = post_form(client, "/pricebook", "/pricebook", data)
    assert response.status_code == status
    assert any(message in e for e in field_errors(response.text)), field_errors(response.text)
    assert stored(db) == before


def test_only_admins_see_the_price_book(client: FlaskClient) -> None:
    login(client)
    assert client.get("/pricebook").status_code == 403
    assert "Price book" not in client.get("/").text


# --- roles and CSRF on every form -----------------------------------------------------------

POSTS = [
    "/customers/new",
    "/customers/1/edit",
    "/quotes/new",
    "/quotes/1/accept",
    "/quotes/1/cancel",
    "/services/TCF-WL-000001/activate",
    "/services/TCF-WL-000001/terminate",
    "/pricebook",
    "/pricebook/1",
]


@pytest.fixture
def quote_and_service(client: FlaskClient, db: Database) -> None:
    """Quote 1 (accepted: service TCF-WL-000001) and quote 2 (open), made by AZT sales."""
    login(client)
    accepted_service(client, db)
    save_quote(client, db, {"product": "WL100G"})
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})


@pytest.mark.usefixtures("quote_and_service")
def test_finance_reads_the_sales_pages_but_every_post_is_403(
    client: FlaskClient, db: Database
) -> None:
    login(client, FINANCE)
    for url in ["/customers", "/customers/1", "/quotes", "/quotes/1", "/quotes/1/pdf"]:
        assert client.get(url).status_code == 200, url
    page = client.get("/services/TCF-WL-000001").text
    assert "Change state" not in page
    assert "Accept: sign contract" not in client.get("/quotes/2").text
    token = csrf_token(page)
    before = stored(db)
    for url in [*POSTS, "/quotes/2/accept", "/quotes/2/cancel"]:
        assert client.post(url, data={"csrf_token": token}).status_code == 403, url
    assert stored(db) == before


@pytest.mark.usefixtures("quote_and_service")
def test_every_sales_post_without_a_csrf_token_is_400_and_changes_nothing(
    client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    before = stored(db)
    for url in [*POSTS, "/quotes/2/accept", "/quotes/2/cancel"]:
        response = client.post(url, data={"effective_date": "2026-11-25", "source_id": "1"})
        assert response.status_code == 400, url
        assert "The form expired or was not sent from this site" in response.text
    assert stored(db) == before
    with db.transaction() as s:
        assert s.execute(select(Quote.state).where(Quote.id == 2)).scalar_one() == "open"
        assert s.execute(select(Service.state)).scalar_one() == "pending"


def test_dates_ahead_are_scheduled_and_shown_and_an_admin_waives_the_early_charge(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    circuit = accepted_service(client, db)
    today = clock.now().date()
    ahead = (today + timedelta(days=7)).isoformat()
    scheduled = transition(client, circuit, "activate", effective_date=ahead)
    assert scheduled.status_code == 302
    page = client.get(f"/services/{circuit}").text
    assert f"active from {ahead}" in text_of(page)
    assert "pending" in text_of(page)
    # Made active on its date; then ended before its 12-month term, on a date set ahead.
    clock.advance(timedelta(days=7))
    assert (
        client.application.test_cli_runner().invoke(args=["services", "apply-dates"]).exit_code == 0
    )
    login(client)
    ends = (today + timedelta(days=40)).isoformat()
    page = client.get(f"/services/{circuit}").text
    assert "Terminate…" in page  # it asks first: tests/web/test_confirmations.py
    assert transition(client, circuit, "terminate", effective_date=ends).status_code == 302
    page = client.get(f"/services/{circuit}").text
    assert f"ends on {ends}" in text_of(page)
    charge = re.search(r'id="early-termination">(.*?)</dl>', page, re.S)
    assert charge and "11 remaining months" in text_of(charge.group(1))
    assert 'id="waive-form"' not in page  # sales may not waive
    login(client, "admin@azertelecom.az")
    url = f"/services/{circuit}/early-termination/waive"
    assert post_form(client, url, f"/services/{circuit}", {"reason": ""}).status_code == 422
    waived = post_form(client, url, f"/services/{circuit}", {"reason": "moved to an IRU"})
    assert waived.status_code == 302
    page = client.get(f"/services/{circuit}").text
    assert "waived" in text_of(page) and "moved to an IRU" in page
