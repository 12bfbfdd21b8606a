"""The UI in English, Russian, Azerbaijani and Kazakh (SPEC 14), through the test client on both
databases: the login page follows Accept-Language, a visitor's and a user's choice (stored on the
user, audited, kept over logout and login), a bad language code is a 400 and never a 500, amounts
and dates per locale on pages, and CSV downloads that stay locale-free whatever the language."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from billing.access.models import User
from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from tests.helpers import csrf_token, login
from tests.web.test_hostile_input import build_world as hostile_world
from tests.web.test_hostile_input import get_pages
from tests.web.test_portal_pages import EMAIL, World, build_world

FINANCE = "finance@azertelecom.az"


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([a-z]+)"', html)
    assert match, "no lang on <html>"
    return match.group(1)


def _choose(client: FlaskClient, language: str, page: str = "/login") -> object:
    token = csrf_token(client.get(page).text)
    return client.post("/language", data={"language": language, "csrf_token": token, "next": page})


@pytest.mark.parametrize(
    ("header", "lang", "words"),
    [
        ("ru-RU,ru;q=0.9,en;q=0.5", "ru", "Войти"),
        ("az-Latn-AZ,az;q=0.9", "az", "Daxil ol"),
        ("kk-KZ,kk;q=0.9,ru;q=0.8", "kk", "Кіру"),
        ("de-DE,fr;q=0.8,kk;q=0.3", "kk", "Кіру"),
        ("de-DE,fr;q=0.8", "en", "Log in"),
        ("", "en", "Log in"),
    ],
)
def test_the_login_page_follows_accept_language(
    client: FlaskClient, header: str, lang: str, words: str
) -> None:
    headers = {"Accept-Language": header} if header else {}
    page = client.get("/login", headers=headers)
    assert page.status_code == 200
    assert _lang(page.text) == lang
    assert f"<h1>{words}</h1>" in page.text
    # The picker names every language in itself and marks the one in use.
    for code, name in (("en", "English"), ("ru", "Русский"), ("az", "Azərbaycanca")):
        assert f'value="{code}" lang="{code}"' in page.text and name in page.text
    assert f'value="{lang}" lang="{lang}" selected' in page.text


def test_a_visitor_picks_a_language_kept_in_the_session_and_over_the_login(
    client: FlaskClient, db: Database
) -> None:
    response = _choose(client, "az")
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = client.get("/login", headers={"Accept-Language": "ru"}).text
    assert _lang(page) == "az" and "<h1>Daxil ol</h1>" in page
    assert "İnterfeys dili: Azərbaycanca." in page  # the flash, in the new language
    login(client, FINANCE)
    assert _lang(client.get("/finance").text) == "az"
    # Nothing was stored on the user: the visitor's choice lives in the session only.
    with db.session() as s:
        user = s.scalars(select(User).where(User.email == FINANCE)).one()
        assert user.language is None


def test_a_users_choice_is_stored_audited_and_survives_logout_and_login(
    client: FlaskClient, db: Database
) -> None:
    login(client, FINANCE)
    assert _choose(client, "kk", "/finance").status_code == 302  # type: ignore[attr-defined]
    dashboard = client.get("/finance").text
    assert _lang(dashboard) == "kk"
    assert "Қаржы тақтасы" in dashboard and "Дебиторлық берешек мерзімі бойынша" in dashboard
    with db.session() as s:
        user = s.scalars(select(User).where(User.email == FINANCE)).one()
        assert user.language == "kk"
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.language")).one()
        assert entry.entity_id == str(user.id)
        assert entry.before == {"language": None} and entry.after == {"language": "kk"}
        assert entry.actor.startswith(FINANCE)
    token = csrf_token(dashboard)
    client.post("/logout", data={"csrf_token": token})
    # Logged out, the login page follows the browser again ...
    assert _lang(client.get("/login", headers={"Accept-Language": "en"}).text) == "en"
    # ... and the stored choice comes back with the login, whatever the browser asks for.
    login(client, FINANCE)
    assert _lang(client.get("/finance", headers={"Accept-Language": "ru"}).text) == "kk"
    # Choosing the same language again changes nothing and audits nothing.
    _choose(client, "kk", "/finance")
    with db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.language"))
        assert len(entries.all()) == 1


@pytest.mark.parametrize("code", ["xx", "", "EN", "ru-RU", "k" * 5000, "ru\x00", "<script>"])
def test_a_bad_language_code_is_a_400_with_a_message_never_a_500(
    client: FlaskClient, db: Database, code: str
) -> None:
    login(client, FINANCE)
    token = csrf_token(client.get("/finance").text)
    response = client.post("/language", data={"language": code, "csrf_token": token})
    assert response.status_code == 400
    # A NUL never gets this far: the input guard refuses it first, with its own message.
    if "\x00" not in code:
        assert "Choose one of the languages offered." in response.text
    with db.session() as s:
        user = s.scalars(select(User).where(User.email == FINANCE)).one()
        assert user.language is None


def test_the_picker_refuses_a_post_without_its_csrf_token_and_a_get(client: FlaskClient) -> None:
    assert client.post("/language", data={"language": "ru"}).status_code == 400
    assert client.get("/language?language=ru").status_code == 405
    assert _lang(client.get("/login").text) == "en"


def test_the_picker_goes_back_only_to_a_page_of_this_site(client: FlaskClient) -> None:
    token = csrf_token(client.get("/login").text)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/a b"):
        response = client.post(
            "/language", data={"language": "ru", "csrf_token": token, "next": target}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/login", target


@pytest.fixture
def world(db: Database, clock: FrozenClock) -> World:
    return build_world(db, clock)


def test_money_and_dates_read_the_locales_way_on_pages(client: FlaskClient, world: World) -> None:
    login(client, EMAIL)
    english = client.get("/portal/").text
    assert "$150.00" in english  # Babel's English (en_US), as SPEC 14 writes it
    expected = {
        "ru": ("150,00\xa0$", "Кредитовый остаток"),
        "az": ("150,00\xa0US$", "Kredit qalığı"),
        "kk": ("150,00\xa0$", "Кредиттік қалдық"),
    }
    for language, (amount, heading) in expected.items():
        _choose(client, language, "/portal/")
        home = client.get("/portal/").text
        credit = home[home.index('id="credit-balance"') :]
        assert amount in credit[: credit.index("</section>")], language
        assert heading in home
    _choose(client, "ru", "/portal/")
    home = client.get("/portal/").text
    # The issue date as Russian writes it (the November invoice), not ISO.
    assert re.search(r"\d{1,2} (нояб|дек)\. 2026[\xa0\u202f ]г\.", home), "no Russian date"


def test_a_russian_users_csv_stays_locale_free(client: FlaskClient, world: World) -> None:
    login(client, FINANCE)
    english = client.get("/finance/invoices?format=csv").data
    _choose(client, "ru", "/finance")
    assert _lang(client.get("/finance/invoices").text) == "ru"
    russian = client.get("/finance/invoices?format=csv")
    assert russian.status_code == 200
    assert russian.data == english  # byte for byte what an English user downloads
    rows = list(csv.reader(io.StringIO(russian.data.decode("utf-8"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert any(re.fullmatch(r"-?\d+\.\d{2}", cell) for cell in cells), "no plain amount"
    assert not any("\xa0" in cell or re.fullmatch(r"-?\d+,\d{2}", cell) for cell in cells)


def test_the_api_stays_locale_free_for_a_russian_browser(client: FlaskClient) -> None:
    response = client.get("/api/v1/products", headers={"Accept-Language": "ru"})
    # The API answers in English, whatever the language: no key is a 401 with English words.
    assert response.status_code == 401
    assert response.json is not None and response.json["type"] == "unauthenticated"
    assert not re.search(r"[а-яА-Я]", response.text)


def test_pages_are_in_each_language(client: FlaskClient) -> None:
    login(client, FINANCE)
    for language, words in (
        ("ru", ("Финансовая панель", "Выйти", "Перейти к содержимому")),
        ("az", ("Maliyyə paneli", "Çıxış", "Məzmuna keç")),
        ("kk", ("Қаржы тақтасы", "Шығу", "Мазмұнға өту")),
        ("en", ("Finance dashboard", "Log out", "Skip to content")),
    ):
        _choose(client, language, "/finance")
        page = client.get("/finance").text
        assert _lang(page) == language
        for word in words:
            assert word in page, (language, word)


def test_the_staff_invoice_page_in_russian(client: FlaskClient, db: Database, world: World) -> None:
    from billing.invoicing.models import Invoice

    with db.session() as s:
        invoice = s.scalars(select(Invoice).where(Invoice.number == world.invoice)).one()
        invoice_id = invoice.id
    login(client, FINANCE)
    english = client.get(f"/finance/invoices/{invoice_id}").text
    assert "<h2>Totals</h2>" in english and "Download PDF" in english
    _choose(client, "ru", "/finance")
    page = client.get(f"/finance/invoices/{invoice_id}")
    assert page.status_code == 200
    assert _lang(page.text) == "ru"
    for words in ("<h2>Итоги</h2>", "Скачать PDF", "Дата выставления", "оплачен"):
        assert words in page.text, words
    assert re.search(r"\d[\d\xa0]*,\d{2}\xa0\$", page.text), "no amount written the Russian way"


def test_error_pages_speak_the_pages_language_and_the_api_stays_english(
    client: FlaskClient,
) -> None:
    page = client.get("/no-such-page", headers={"Accept-Language": "kk"})
    assert page.status_code == 404
    assert _lang(page.text) == "kk" and "Мұндай бет жоқ." in page.text
    assert "Басқару тақтасына оралу" in page.text
    english = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert "There is no such page here." in english.text
    api = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "kk"})
    assert api.status_code == 404 and api.json is not None
    assert not re.search(r"[\u0400-\u04ff]", api.text)
    # A form posted without its CSRF token: the page says so in Azerbaijani.
    refused = client.post("/login", headers={"Accept-Language": "az"}, data={"email": "x"})
    assert refused.status_code == 400
    assert "Formanın vaxtı bitib" in refused.text


def test_every_staff_page_answers_in_each_language_with_its_own_words(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    """Every GET page of the staff UI, its arguments filled (the hostile-input crawl's world), in
    Russian, Azerbaijani and Kazakh: never a 500 (a translation whose placeholders do not match
    its message would be one) and the page's language on <html>. That every text is marked and
    translated is tests/unit/test_catalogs.py's."""
    world = hostile_world(app, clock)
    login(client, "admin@azertelecom.az")
    pages = get_pages(app, world)
    assert len(pages) > 60
    for language in ("ru", "az", "kk"):
        _choose(client, language, "/")
        for url in pages:
            response = client.get(url)
            assert response.status_code < 500, (language, url)
            if 'id="ui-language"' in response.text:  # a page of the UI (a mail's body is not)
                assert _lang(response.text) == language, (language, url)


def _refused_customer_in_russian(client: FlaskClient, **fields: str) -> str:
    """A Russian sales user's new customer form with `fields` over good values: its 422 page."""
    login(client, "sales@azertelecom.az")
    _choose(client, "ru", "/customers/new")
    token = csrf_token(client.get("/customers/new").text)
    data = {
        "csrf_token": token,
        "legal_name": "Волга Линк",
        "country": "GE",
        "billing_currency": "USD",
        "owner_party": "AZT",
        "payment_terms_days": "30",
        "contact_email": "",
    }
    refused = client.post("/customers/new", data={**data, **fields})
    assert refused.status_code == 422
    return refused.text


def test_a_refused_value_is_told_beside_its_field_in_the_pages_language(
    client: FlaskClient, db: Database
) -> None:
    """The field rules' messages (billing/validation.py) read in the user's language on a form;
    the API keeps them English."""
    text = _refused_customer_in_russian(client, payment_terms_days="12.5")
    assert "должно быть целым числом" in text
    assert "must be a whole number" not in text


def test_a_refusals_reason_and_field_messages_read_in_the_pages_language(
    client: FlaskClient, db: Database
) -> None:
    """A domain error's message and its field messages (templates marked N_ below the web
    layer, billing/errors.py) read in the user's language, their values put in."""
    text = _refused_customer_in_russian(client, vat_id="DE123456789")
    text = text.replace("&#34;", '"').replace("&#39;", "'")
    assert "Номер НДС компании из GE начинается с GE." in text  # beside the field
    assert ": данные клиента неверны." in text  # the reason, after the flash's refusal
    assert "starts with GE" not in text and "the customer is not valid" not in text
