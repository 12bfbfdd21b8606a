"""The staff pages through Flask's test client, on both databases (SPEC 8 and 10).

Each test drives the pages the way a browser does (forms with the CSRF token of the page they came
from) and checks what the user sees and what is stored.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.access.models import ApiKey, User
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.inventory.models import Allocation, SpectrumReservation
from billing.seed import DEMO_USERS
from tests.helpers import PASSWORD, bearer, csrf_token, customer_id, login, post_form

ADMIN = "admin@azertelecom.az"
SALES = "sales@azertelecom.az"
FINANCE = "finance@azertelecom.az"
KTC_SALES = "sales@kazakhtelecom.kz"
SILK = "Silk Route Carrier GmbH"  # an AZT customer
STAFF_PAGES = ["/", "/availability", "/admin/users", "/admin/api-keys", "/admin/audit"]
WL100G = {"route": "main", "protection": "unprotected", "product": "WL100G"}


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def actions(db: Database) -> list[str]:
    with db.transaction() as s:
        return list(s.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def flashes(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", m).strip()
        for m in re.findall(r'<div class="flash [a-z]+"[^>]*>(.*?)</div>', html, re.S)
    ]


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed: what a reader sees."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def hold(client: FlaskClient, **fields: Any) -> Any:
    """Hold on the availability page, in the name of Silk Route (an AZT customer) by default."""
    silk = customer_id(client.application.extensions["billing.db"], SILK)
    data = {**WL100G, "customer_id": str(silk), "hold_days": "14", **fields}
    return post_form(client, "/availability/hold", "/availability", data)


# --- logging in and out ---------------------------------------------------------------------


def test_a_wrong_password_is_refused_with_a_message_and_no_session(
    client: FlaskClient, db: Database
) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": SALES, "password": "not-the-password", "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 401
    assert "Email or password is not right." in response.text
    assert client.get("/").status_code == 302  # still logged out
    assert "user.login" not in actions(db)


def test_login_returns_to_the_page_asked_for_but_never_off_site(client: FlaskClient) -> None:
    response = client.get("/availability?product=WL400G")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    for target, lands_on in [
        ("/availability?product=WL400G", "/availability?product=WL400G"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
    ]:
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/login").text)})
        page = client.get("/login")
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"email": SALES, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        )
        assert response.status_code == 302
        assert response.headers["Location"] == lands_on


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_pages_send_a_logged_out_visitor_to_the_login_page(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_logout_is_a_post_with_a_csrf_token(client: FlaskClient) -> None:
    login(client)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # a forged logout changed nothing
    page = client.get("/")
    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "You are logged out." in flashes(client.get("/login").text)
    assert client.get("/").status_code == 302


# --- forms and GETs -----------------------------------------------------------------------


def test_a_post_without_csrf_token_is_refused_and_stores_nothing(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    audit_before = count(db, AuditEntry)
    response = client.post(
        "/availability/hold", data={**WL100G, "customer_id": "0", "hold_days": "14"}
    )
    assert response.status_code == 400
    assert "The form expired or was not sent from this site" in response.text
    wrong = client.post(
        "/availability/hold",
        data={**WL100G, "customer_id": "0", "hold_days": "14", "csrf_token": "forged"},
    )
    assert wrong.status_code == 400
    assert count(db, SpectrumReservation) == 0
    assert count(db, AuditEntry) == audit_before


def test_get_never_changes_state(client: FlaskClient, db: Database, clock: FrozenClock) -> None:
    login(client, ADMIN)
    assert hold(client, hold_days="1").status_code == 302
    clock.advance(timedelta(days=2))  # the hold has expired: pages show it free, but only read
    login(client, ADMIN)  # two idle days ended the session
    before = (count(db, AuditEntry), count(db, Allocation), count(db, User), count(db, ApiKey))
    urls = [
        *STAFF_PAGES,
        "/availability?route=main&protection=protected&product=SPECTRUM&width_ghz=100",
        "/availability?route=reserve&product=FIBER_PAIR",
        "/admin/audit?action=spectrum&page=1",
        "/login",
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
    # The forms' targets answer a GET with 405 and do nothing.
    for url in [
        "/availability/hold",
        "/reservations/1/extend",
        "/reservations/1/release",
        "/admin/api-keys/1/revoke",
        "/logout",
    ]:
        assert client.get(url).status_code == 405, url
    after = (count(db, AuditEntry), count(db, Allocation), count(db, User), count(db, ApiKey))
    assert after == before
    with db.transaction() as s:
        assert s.execute(select(Allocation.state)).scalars().all() == ["hold"]


# --- holding spectrum -----------------------------------------------------------------------


def test_the_availability_page_opens_on_the_main_route_with_no_error(client: FlaskClient) -> None:
    login(client)
    response = client.get("/availability")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "100G wavelength · unprotected · main route" in page
    assert "First fit: main route fiber pair 1, slots 0–3" in page
    assert 'class="field-error"' not in response.text
    assert "E+" not in page  # decimals print plainly: 50 GHz, not 5E+1


def test_a_finance_user_cannot_hold_spectrum(client: FlaskClient, db: Database) -> None:
    login(client, FINANCE)
    page = client.get("/availability")
    assert page.status_code == 200
    assert 'id="hold-form"' not in page.text  # the form is not offered
    response = hold(client)
    assert response.status_code == 403
    assert "Your role may not do this." in response.text
    assert count(db, SpectrumReservation) == 0


def test_a_hold_is_confirmed_on_the_page_and_a_spectrum_hold_returns_to_its_query(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    response = hold(client, product="SPECTRUM", width_ghz="100", customer_id="1")
    assert response.status_code == 302
    assert "width_ghz=100" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Reservation 1 holds S1 fiber pair 1 slots 0–7 until 2026-12-09 09:00 UTC." in flashes(
        page.text
    )
    assert "First fit: main route fiber pair 1, slots 8–15" in text_of(page.text)
    row = re.search(r'<tr id="reservation-1">(.*?)</tr>', page.text, re.S)
    assert row
    assert "S1 · FP1 · slots 0–7" in text_of(row.group(1))
    assert "held" in text_of(row.group(1))
    assert actions(db)[-1] == "spectrum.hold"


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"fiber_pair": "1", "first_slot": "382"}, 422, "slots 382…385 are outside the band"),
        ({"first_slot": "-1"}, 422, "must be at least 0"),
        (
            {"product": "SPECTRUM", "width_ghz": "30"},
            422,
            "30 GHz is not a positive multiple of 12.5 GHz",
        ),
        ({"fiber_pair": "9"}, 422, "no fiber pair 9 on this route"),
        ({"hold_days": "0"}, 422, "must be between 1 and 90"),
        ({"product": "WL999G"}, 422, "Not a valid choice."),
    ],
)
def test_the_hold_form_refuses_bad_input_with_a_message(
    client: FlaskClient, db: Database, fields: dict[str, str], status: int, message: str
) -> None:
    login(client)
    response = hold(client, **fields)
    assert response.status_code == status
    assert message in response.text
    assert any(f.startswith("The hold was not made") for f in flashes(response.text))
    assert count(db, Allocation) == 0


def test_a_conflicting_pinned_hold_answers_409_and_offers_the_next_free_alternative(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    assert hold(client, fiber_pair="1", first_slot="0").status_code == 302
    silk = str(customer_id(db, SILK))
    response = hold(client, fiber_pair="1", first_slot="2", customer_id=silk)
    assert response.status_code == 409
    assert "slots 2…5 are not free" in " ".join(flashes(response.text))
    offer = re.search(r'id="alternative">(.*?)</div>', response.text, re.S)
    assert offer
    assert "Next free alternative: main route fiber pair 1, slots 4–7" in text_of(offer.group(1))
    assert count(db, SpectrumReservation) == 1

    # "Hold the alternative" posts the same request pinned to the alternative.
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', offer.group(1)))
    assert fields["fiber_pair"] == "1" and fields["first_slot"] == "4"
    assert fields["customer_id"] == silk
    taken = client.post("/availability/hold", data=fields)
    assert taken.status_code == 302
    with db.transaction() as s:
        rows = s.execute(select(Allocation.first_slot, Allocation.end_slot).order_by(Allocation.id))
        assert rows.all() == [(0, 4), (4, 8)]


def test_an_expired_hold_shows_as_free_and_can_be_held_again(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    assert hold(client, fiber_pair="1", first_slot="0", hold_days="1").status_code == 302
    dashboard = client.get("/")
    assert dashboard.text.count('class="slot-hold"') == 1

    clock.advance(timedelta(days=1, seconds=1))
    login(client)  # a day without use ended the session
    assert 'class="slot-hold"' not in client.get("/").text
    page = client.get("/availability")
    assert "First fit: main route fiber pair 1, slots 0–3" in text_of(page.text)
    row = re.search(r'<tr id="reservation-1">(.*?)</tr>', page.text, re.S)
    assert row and "expired" in text_of(row.group(1))
    assert "Allocate" not in row.group(1)

    again = hold(client, fiber_pair="1", first_slot="0")
    assert again.status_code == 302
    assert "Reservation 2 holds S1 fiber pair 1 slots 0–3" in " ".join(
        flashes(client.get(again.headers["Location"]).text)
    )
    # The old hold cannot be extended any more.
    refused = post_form(client, "/reservations/1/extend", "/availability", {"hold_days": "5"})
    assert refused.status_code == 409
    assert "spectrum reservation 1 is not a live hold" in " ".join(flashes(refused.text))


def test_extend_and_release_from_the_reservations_table_but_never_allocate(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client)
    hold(client, protection="protected", hold_days="2")
    page = client.get("/availability").text
    row = re.search(r'<tr id="reservation-1">(.*?)</tr>', page, re.S)
    assert row and "Allocate" not in row.group(1)
    assert "Extend" in row.group(1) and "Quote…" in row.group(1)
    assert 'data-confirm="Release reservation 1?' in row.group(1)
    assert post_form(client, "/reservations/1/confirm", "/availability", {}).status_code == 404
    extended = post_form(client, "/reservations/1/extend", "/availability", {"hold_days": "30"})
    until = clock.now() + timedelta(days=30)
    assert f"Reservation 1 is held until {until:%Y-%m-%d %H:%M} UTC." in flashes(
        client.get(extended.headers["Location"]).text
    )
    too_long = post_form(client, "/reservations/1/extend", "/availability", {"hold_days": "91"})
    assert too_long.status_code == 422
    released = post_form(client, "/reservations/1/release", "/availability", {})
    assert "Reservation 1 released." in flashes(client.get(released.headers["Location"]).text)
    assert 'class="slot-hold"' not in client.get("/").text
    assert actions(db)[-3:] == ["spectrum.hold", "spectrum.extend", "spectrum.release"]


def test_a_ktc_user_cannot_touch_an_azt_hold_nor_hold_in_an_azt_customers_name(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    hold(client)
    ktc = client.application.test_client()
    login(ktc, KTC_SALES)
    row = re.search(r'<tr id="reservation-1">(.*?)</tr>', ktc.get("/availability").text, re.S)
    assert row and "<form" not in row.group(1) and "Quote…" not in row.group(1)
    before = (count(db, Allocation), count(db, AuditEntry))
    with db.transaction() as s:
        spectrum = s.execute(select(Allocation.state, Allocation.hold_expires_at)).all()
    for url, data in (
        ("/reservations/1/release", {}),
        ("/reservations/1/extend", {"hold_days": "60"}),
        ("/reservations/1/quote", {"model": "lease", "term_months": "12", "valid_days": "14"}),
    ):
        response = post_form(ktc, url, "/availability", data)
        assert response.status_code == 403, url
    assert ktc.get("/reservations/1/quote").status_code == 403
    assert hold(ktc).status_code == 403  # in Silk Route's name: an AZT customer
    assert (count(db, Allocation), count(db, AuditEntry)) == before
    with db.transaction() as s:
        assert s.execute(select(Allocation.state, Allocation.hold_expires_at)).all() == spectrum


def test_a_hold_becomes_a_quote_holding_the_same_spectrum(
    client: FlaskClient, db: Database
) -> None:
    login(client)
    hold(client, fiber_pair="2", first_slot="40")
    page = client.get("/reservations/1/quote")
    assert page.status_code == 200 and SILK in page.text
    made = post_form(
        client,
        "/reservations/1/quote",
        "/reservations/1/quote",
        {"model": "lease", "term_months": "24", "discount_percent": "0", "valid_days": "10"},
    )
    assert made.status_code == 302, made.text
    quote_page = client.get(made.headers["Location"]).text
    assert "holds the spectrum of reservation 1" in " ".join(flashes(quote_page))
    with db.transaction() as s:
        assert s.execute(select(Allocation.reservation_id, Allocation.first_slot)).all() == [
            (1, 40)
        ]
    assert count(db, SpectrumReservation) == 1


def test_own_use_is_made_by_an_admin_with_a_reason_and_drawn_apart(
    client: FlaskClient, db: Database
) -> None:
    login(client)  # sales: no own-use form, and the endpoint refuses
    assert 'id="own-use-form"' not in client.get("/availability").text
    own = {**WL100G, "reason": "OTDR test"}
    assert post_form(client, "/availability/own-use", "/availability", own).status_code == 403
    login(client, ADMIN)
    blank = post_form(client, "/availability/own-use", "/availability", {**own, "reason": ""})
    assert blank.status_code == 422
    assert count(db, SpectrumReservation) == 0
    made = post_form(client, "/availability/own-use", "/availability", own)
    assert made.status_code == 302, made.text
    dashboard = client.get("/").text
    assert dashboard.count('class="slot-own_use"') == 1
    assert 'id="legend-own-use"' in dashboard
    assert "own use (operators" in text_of(dashboard)
    row = re.search(r'<tr id="reservation-1">(.*?)</tr>', client.get("/availability").text, re.S)
    assert row and "own use" in text_of(row.group(1)) and "OTDR test" in row.group(1)
    assert "Extend" not in row.group(1) and "Release" in row.group(1)
    login(client)  # sales may not release it
    assert post_form(client, "/reservations/1/release", "/availability", {}).status_code == 403
    login(client, ADMIN)
    assert post_form(client, "/reservations/1/release", "/availability", {}).status_code == 302


def test_revenue_assurance_page_is_for_admins_and_finance(
    client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    post_form(client, "/availability/own-use", "/availability", {**WL100G, "reason": "spare"})
    for user, status in ((SALES, 403), (FINANCE, 200), (ADMIN, 200)):
        login(client, user)
        response = client.get("/reports/revenue-assurance")
        assert response.status_code == status, user
    assert 'id="all-billed"' in response.text
    assert re.search(r'<tr id="reservation-1" class="own-use">.*?spare', response.text, re.S)


# --- administration -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/audit", "/admin/users", "/admin/api-keys"])
def test_admin_pages_are_for_admins_only(client: FlaskClient, url: str) -> None:
    login(client, SALES)
    response = client.get(url)
    assert response.status_code == 403
    assert "Your role may not do this." in response.text


def test_the_audit_log_lists_entries_and_filters_them(client: FlaskClient) -> None:
    login(client, ADMIN)
    hold(client)
    page = client.get("/admin/audit")
    assert page.status_code == 200
    rows = re.findall(r"<tr id=\"audit-\d+\">(.*?)</tr>", page.text, re.S)
    seen = [text_of(r) for r in rows]
    # In words, with the actor's name (SPEC 10), beside the raw action.
    assert "spectrum.hold" in seen[0] and "AZT Administrator (AZT admin) held" in seen[0]
    assert "AZT Administrator (AZT admin) logged in." in text_of(page.text)
    assert any("user.login" in r for r in seen)
    assert any("seed.demo" in r for r in seen)
    only_spectrum = client.get("/admin/audit?action=spectrum")
    assert "(1 entry)" in text_of(only_spectrum.text)
    assert "user.login" not in only_spectrum.text


def test_an_admin_creates_a_user_who_can_then_log_in(client: FlaskClient, db: Database) -> None:
    login(client, ADMIN)
    new = {
        "email": "Nodira@AzerTelecom.az",
        "name": "Nodira Aliyeva",
        "role": "finance",
        "party": "AZT",
        "password": "long-enough-secret",
    }
    response = post_form(client, "/admin/users", "/admin/users", new)
    assert response.status_code == 302
    page = client.get("/admin/users")
    assert "User nodira@azertelecom.az created." in flashes(page.text)
    assert "Nodira Aliyeva" in page.text
    with db.transaction() as s:
        entry = (
            s.execute(
                select(AuditEntry).where(AuditEntry.action == "user.create").order_by(AuditEntry.id)
            )
            .scalars()
            .all()[-1]
        )
        assert entry.actor == "admin@azertelecom.az (admin, AZT)"
        assert entry.after == {"email": "nodira@azertelecom.az", "role": "finance", "party": "AZT"}

    again = post_form(client, "/admin/users", "/admin/users", new)
    assert again.status_code == 409
    assert "already taken" in again.text
    short = post_form(
        client, "/admin/users", "/admin/users", {**new, "email": "x@y.az", "password": "short"}
    )
    assert short.status_code == 422
    assert "Field must be at least 10 characters long." in short.text
    assert count(db, User) == len(DEMO_USERS) + 1  # the demo staff and the one created

    other = client.application.test_client()
    login_page = other.get("/login")
    ok = other.post(
        "/login",
        data={
            "email": "nodira@azertelecom.az",
            "password": "long-enough-secret",
            "csrf_token": csrf_token(login_page.text),
        },
    )
    assert ok.status_code == 302


def test_an_api_key_is_shown_once_and_can_be_revoked(client: FlaskClient, db: Database) -> None:
    login(client, ADMIN)
    created = post_form(
        client, "/admin/api-keys", "/admin/api-keys", {"customer_id": "1", "name": "NOC"}
    )
    assert created.status_code == 200
    match = re.search(r'id="new-secret">(tcf_[^<]+)<', created.text)
    assert match
    secret = match.group(1)
    assert client.get("/api/v1/routes", headers=bearer(secret)).status_code == 200

    listing = client.get("/admin/api-keys")
    assert secret not in listing.text
    assert secret[:12] in listing.text  # the prefix identifies it
    assert re.search(r'name="name"[^>]*value=""', created.text)  # the form is empty again

    revoked = post_form(client, "/admin/api-keys/1/revoke", "/admin/api-keys", {})
    assert revoked.status_code == 302
    page = client.get("/admin/api-keys")
    assert "API key 1 revoked." in flashes(page.text)
    assert "revoked" in text_of(re.search(r'<tr id="key-1">(.*?)</tr>', page.text, re.S).group(1))
    assert client.get("/api/v1/routes", headers=bearer(secret)).status_code == 401
    assert actions(db)[-2:] == ["api_key.create", "api_key.revoke"]
