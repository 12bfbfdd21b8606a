"""Invoice and credit-note mails in each contact language that has words (SPEC 13, SPEC 14)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing.mail.documents import SUBJECTS, _render

ISSUER = SimpleNamespace(legal_name="AzerTelecom LLC", bank_details="IBAN AZ21NABZ0000000013")
CUSTOMER = SimpleNamespace(legal_name="Şəki Rabitə MMC")
INVOICE = SimpleNamespace(
    number="AZT-INV-2026-000001",
    issue_date=date(2026, 12, 1),
    due_date=date(2026, 12, 31),
    total=Decimal("1180.00"),
    currency="USD",
    credited_invoice=None,
)
NOTE = SimpleNamespace(
    number="AZT-CN-2026-000007",
    issue_date=date(2026, 12, 5),
    due_date=None,
    total=Decimal("-118.00"),
    currency="USD",
    credited_invoice=INVOICE,
)
WORDS = {
    "az": ("Hörmətli Şəki Rabitə MMC", "hesab-faktura", "kredit notası"),
    "kk": ("Құрметті Şəki Rabitə MMC", "шот-фактура", "кредиттік нота"),
    "ru": ("Уважаемые коллеги из Şəki Rabitə MMC", "счёт", "кредит-ноту"),
}


def test_every_mail_language_has_both_subjects() -> None:
    assert set(SUBJECTS) == {"en", "ru", "az", "kk"}
    for subjects in SUBJECTS.values():
        assert set(subjects) == {"invoice", "credit_note"}


@pytest.mark.parametrize("language", sorted(WORDS))
def test_invoice_and_credit_note_mails_read_in_the_contacts_language(language: str) -> None:
    greeting, invoice_word, note_word = WORDS[language]
    context = {"issuer": ISSUER, "customer": CUSTOMER}

    text, html = _render("invoice", language, invoice=INVOICE, **context)
    assert greeting in text and invoice_word in text and "AZT-INV-2026-000001" in text
    assert "2026-12-31" in text and "IBAN AZ21NABZ0000000013" in text
    assert f'<html lang="{language}">' in html and "2026-12-31" in html

    text, html = _render("credit_note", language, invoice=NOTE, **context)
    assert greeting in text and note_word in text
    assert "AZT-CN-2026-000007" in text and "AZT-INV-2026-000001" in text  # the credited one
    assert "Şəki Rabitə MMC" in html and "AZT-CN-2026-000007" in html
    assert "Dear" not in text and "Dear" not in html
