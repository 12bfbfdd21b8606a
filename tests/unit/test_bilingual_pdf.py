"""Bilingual invoices and credit notes (SPEC 14): the customer's invoice language beside English,
legal notes in both, scripts the font covers, long words that stay on the page; read back from
the PDF with pypdf."""

from __future__ import annotations

import io
import re
import string
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from billing.invoicing.document import FxNote, InvoiceDocument
from billing.invoicing.rendering import render_invoice
from billing.invoicing.wording import LABELS, PUBLISHERS, RATE_WORDS, label, rate_source_words
from billing.parties.models import INVOICE_LANGUAGES
from tests.unit.test_invoice_pdf import (
    CUSTOMER,
    KZ_CUSTOMER,
    byte_identical_renders,
    credit_note,
    five_line_invoice,
    kzt_invoice,
    pdf_text,
)

AZ_NOTE = "Xidmətlərin ixracı — ƏDV 0%"
EN_NOTE = "Export of services — VAT 0%"
AZ_CUSTOMER = replace(
    CUSTOMER,
    name="Şəki Rabitə MMC",
    address="Məhəmməd Əmin Rəsulzadə küçəsi 15\nŞəki AZ5500",
    country="AZ",
    tax_id="2300456781",
)
KK_CUSTOMER = replace(
    KZ_CUSTOMER,
    name="Қазақтелеком АҚ",
    address="Сығанақ көшесі 31\nАстана 010000",
)
# Letters of each script that a font without them would draw as boxes or take from elsewhere.
AZERBAIJANI_LETTERS = "əƏğĞıİşŞçÇöÖüÜ"
KAZAKH_LETTERS = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"


def azerbaijani_invoice() -> InvoiceDocument:
    document = five_line_invoice()
    taxes = tuple(
        replace(t, local_legal_notes=(AZ_NOTE,)) if t.legal_notes else t for t in document.taxes
    )
    return replace(document, customer=AZ_CUSTOMER, taxes=taxes, language="az")


def kazakh_invoice() -> InvoiceDocument:
    document = kzt_invoice()
    note = "Қазақстан ҚҚС-ы 16% мөлшерлемесі бойынша"
    taxes = (replace(document.taxes[0], legal_notes=("Kazakhstan VAT at 16%",)),)
    taxes = (replace(taxes[0], local_legal_notes=(note,)),)
    return replace(document, customer=KK_CUSTOMER, taxes=taxes, language="kk")


def russian_credit_note() -> InvoiceDocument:
    return replace(credit_note(), customer=KK_CUSTOMER, language="ru")


def test_every_language_has_every_label_with_the_same_placeholders() -> None:
    fields = string.Formatter()
    assert set(LABELS) == set(INVOICE_LANGUAGES) == set(PUBLISHERS) == set(RATE_WORDS)
    for language, labels in LABELS.items():
        assert labels.keys() == LABELS["en"].keys(), language
        for key, text in labels.items():
            english = {name for _, name, _, _ in fields.parse(LABELS["en"][key]) if name}
            assert {name for _, name, _, _ in fields.parse(text) if name} == english, (
                language,
                key,
            )
            assert text.strip(), (language, key)
    # Nothing left in English by mistake: each language's own words differ from English.
    for language in ("ru", "az", "kk"):
        same = [k for k in LABELS["en"] if LABELS[language][k] == LABELS["en"][k]]
        assert same == [], (language, same)


def test_a_label_is_english_alone_or_the_language_beside_english() -> None:
    assert label("total") == "Total"
    assert label("total", "en") == "Total"
    assert label("total", "ru") == "Итого / Total"
    assert label("total", "az") == "Cəmi / Total"
    assert label("total", "kk") == "Барлығы / Total"
    assert label("invoice", "ru") == "Счёт-фактура / Invoice"
    assert (
        label("vat_on", "ru", rate="12", base="100.00")
        == "НДС 12% с суммы 100.00 / VAT 12% on 100.00"
    )
    # An unknown code (a document issued before languages) prints English.
    assert label("total", "xx") == "Total"


def test_the_rate_source_reads_in_each_language() -> None:
    day = kzt_invoice().issue_date
    assert rate_source_words("nbk", day, "ru") == (
        "официальный курс Национального Банка Республики Казахстан на 2026-12-01"
    )
    assert "Mərkəzi Bankının 2026-12-01 tarixinə rəsmi məzənnəsi" in rate_source_words(
        "cbar", day, "az"
    )
    note = FxNote("USD", "KZT", Decimal("512.34"), day, "nbk cross")
    assert note.words("kk").startswith("1 USD = 512.34 KZT (Қазақстан Республикасы Ұлттық")
    assert note.words("kk").endswith(
        " / cross rate from National Bank of Kazakhstan official rates of 2026-12-01)"
    )
    assert note.words("en") == str(note)


def test_an_azerbaijani_customers_invoice_is_azerbaijani_beside_english() -> None:
    _, text = pdf_text(render_invoice(azerbaijani_invoice()))

    for expected in (
        "Hesab-faktura / Invoice AZT-INV-2026-000001",
        "Tərtib tarixi / Issue date: 2026-12-01",
        "Son ödəniş tarixi / Due date: 2026-12-31",
        "Təchizatçı / From",
        "Alıcı / Bill to",
        "Şəki Rabitə MMC",
        "Məhəmməd Əmin Rəsulzadə küçəsi 15",
        "Azərbaycan / Azerbaijan (AZ)",
        "VÖEN / Tax id: 2300456781",
        "Ödəniş şərtləri / Payment terms: 30 gün ərzində ödəniş / 30 days net",
        "Sifarişləriniz / Your POs: PO-77120, PO-77121",
        "Kanal Circuit",
        "Məbləğ Amount",
        "ƏDV-siz cəmi / Subtotal 34,450.49",
        "24,000.50 məbləğindən ƏDV 18% / VAT 18% on 24,000.50 4,320.09",
        # The legal note in both languages.
        f"{AZ_NOTE} {EN_NOTE}",
        "Cəmi / Total USD 38,770.58",
        "Ödəniləcək məbləğ / Amount due USD 38,770.58",
        "Ödəniş rekvizitləri / Payment instructions",
        "Ödəniş zamanı AZT-INV-2026-000001 nömrəsini göstərin. / Please quote",
        "Səhifə 1 (cəmi 1) / Page 1 of 1",
    ):
        assert expected in text, expected
    assert not re.search("[А-Яа-яЁё]", text)  # no Russian or Kazakh on an Azerbaijani invoice


def test_a_kazakh_customers_invoice_is_kazakh_beside_english() -> None:
    _, text = pdf_text(render_invoice(kazakh_invoice()))

    for expected in (
        "Шот-фактура / Invoice KTC-INV-2026-000042",
        "Жазып берілген күні / Issue date: 2026-12-01",
        "Сатып алушы / Bill to",
        "Қазақтелеком АҚ",
        "Сығанақ көшесі 31",
        "Қазақстан / Kazakhstan (KZ)",
        "Барлығы / Total KZT 2,971,572.00",
        "Төленуге тиіс / Amount due KZT 2,971,572.00",
        "Қазақстан ҚҚС-ы 16% мөлшерлемесі бойынша Kazakhstan VAT at 16%",
        "Қолданылған бағам / Exchange rate used: 1 USD = 512.34 KZT (Қазақстан Республикасы "
        "Ұлттық Банкінің 2026-11-30 күнгі ресми бағамы / National Bank of Kazakhstan official "
        "rate of 2026-11-30)",
        "ҚҚС KZT түрінде / VAT in KZT: KZT 409,872.00 бағам бойынша / at 1 USD = 512.34 KZT",
        "Бет 1 (барлығы 1) / Page 1 of 1",
    ):
        assert expected in text, expected


def test_a_russian_credit_note_is_russian_beside_english() -> None:
    _, text = pdf_text(render_invoice(russian_credit_note()))

    for expected in (
        "Кредит-нота / Credit note AZT-CN-2026-000007",
        "Кредит-нота к счёту-фактуре / Credit note for invoice AZT-INV-2026-000001",
        "Основание / Reason: Outage of 10 days on CKT-00003 (SLA credit)",
        "Казахстан / Kazakhstan (KZ)",
        "Сумма кредита / Amount credited USD 1,219.53",
        "Банковские реквизиты поставщика / Issuer's bank details",
        "Страница 1 из 1 / Page 1 of 1",
    ):
        assert expected in text, expected
    assert "Платёжные реквизиты" not in text  # a credit note asks for no payment


def test_an_english_customers_invoice_is_english_only() -> None:
    for document in (five_line_invoice(), credit_note(), kzt_invoice()):
        _, text = pdf_text(render_invoice(document))
        assert " / " not in text.replace("Page 1 of 1", ""), text
        assert not re.search(f"[А-Яа-яЁё{AZERBAIJANI_LETTERS}{KAZAKH_LETTERS}]", text), text


@pytest.mark.parametrize("build", [azerbaijani_invoice, kazakh_invoice, russian_credit_note])
def test_a_bilingual_document_renders_to_the_same_bytes(build: Any) -> None:
    byte_identical_renders()
    first = render_invoice(build())
    assert render_invoice(build()) == first
    assert render_invoice(replace(build(), language="en")) != first


def _fonts(pdf: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    return names


def test_every_letter_is_drawn_with_dejavu_sans_and_none_from_a_fallback_font() -> None:
    document = replace(
        azerbaijani_invoice(),
        issuer=replace(five_line_invoice().issuer, address=f"{KAZAKH_LETTERS}\nBaku"),
        customer=replace(AZ_CUSTOMER, address=f"{AZERBAIJANI_LETTERS}\nŞəki"),
    )
    pdf = render_invoice(document)
    _, text = pdf_text(pdf)

    assert AZERBAIJANI_LETTERS in text and KAZAKH_LETTERS in text
    # The CSS names DejaVu Sans (Debian's fonts-dejavu-core): had it lacked a letter, Pango
    # would have drawn that letter with another font, embedded beside it.
    assert _fonts(pdf) == {"DejaVu-Sans", "DejaVu-Sans-Bold"}


# -- long words --------------------------------------------------------------------------------

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
A4_WIDTH_PT = 595.28
RIGHT_MARGIN_PT = 16 / 25.4 * 72
PX = 0.75  # WeasyPrint draws in CSS pixels: 0.75 pt each


@cache
def _advances(bold: bool) -> tuple[dict[int, str], dict[str, tuple[int, int]], int]:
    font = TTFont(DEJAVU / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"))
    return font.getBestCmap(), dict(font["hmtx"].metrics), font["head"].unitsPerEm


def _width_pt(text: str, font_name: str, size_px: float) -> float:
    cmap, metrics, units = _advances("Bold" in font_name)
    advance = sum(metrics[cmap[ord(c)]][0] for c in text if ord(c) in cmap)
    return advance / units * size_px * PX


def _runs(pdf: bytes) -> list[tuple[float, str, float]]:
    """(right edge in pt, text, left edge) of every run of text drawn on every page."""
    runs: list[tuple[float, str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text.strip() or font is None:
            return
        left = tm[4] * cm[0] + cm[4]
        line = text.rstrip("\n")
        runs.append((left + _width_pt(line, str(font["/BaseFont"]), size), line, left))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return runs


WORD = "Şəkirabitəinformasiyatexnologiyalarıkommunikasiyaxidmətləri" * 3
CYRILLIC_WORD = "Қазақтелекомтранзиттікбайланысарналарыныңсипаттамасы" * 3


def test_long_unbroken_words_wrap_inside_their_boxes_and_stay_on_the_page() -> None:
    if not (DEJAVU / "DejaVuSans.ttf").exists():  # pragma: no cover - fonts-dejavu-core
        pytest.fail("fonts-dejavu-core is not installed: the PDF has no font for its scripts")
    document = azerbaijani_invoice()
    document = replace(
        document,
        customer=replace(AZ_CUSTOMER, name=WORD, address=CYRILLIC_WORD),
        lines=(replace(document.lines[0], description=CYRILLIC_WORD), *document.lines[1:]),
        reason=WORD,
        purchase_orders=(WORD,),
    )
    pdf = render_invoice(document)
    _, text = pdf_text(pdf)
    joined = "".join(text.split())

    assert WORD in joined and CYRILLIC_WORD in joined  # every letter is there, in order
    assert "Cəmi/TotalUSD38,770.58" in joined
    runs = _runs(pdf)
    limit = A4_WIDTH_PT - RIGHT_MARGIN_PT + 1
    over = [(round(right), line[:40]) for right, line, _ in runs if right > limit]
    assert over == [], over
    # The name broke over several lines of its column rather than one line off the page.
    assert sum(1 for _, line, _ in runs if line and line in WORD) >= 3


def test_a_long_word_would_run_off_the_page_without_wrapping() -> None:
    """The measure above can fail: the same word in a box that may not break it overflows."""
    from billing.pdf import render_pdf

    pdf = render_pdf(
        "<html><body style=\"font: 8.5pt 'DejaVu Sans'; margin: 0\">"
        f'<p style="width: 60mm">{WORD}</p></body></html>'
    )
    assert max(right for right, _, _ in _runs(pdf)) > A4_WIDTH_PT
