"""The words of the invoice and credit-note PDF in each invoice language (SPEC 14).

A customer whose invoice language is not English gets every label in its language beside the
English one: "Итого / Total". The documents are rendered by jobs, outside any request, and their
bytes must not depend on a UI catalog that translators keep changing: the words live here, one
table per language, frozen with the code. Values in, values out: no session, no Flask.

The Russian, Azerbaijani (Latin script) and Kazakh words follow the usual wording of invoices in
Azerbaijan and Kazakhstan; a native-speaking finance reviewer should confirm them before
production use, as for the UI catalogs.
"""

from __future__ import annotations

import gettext
from datetime import date
from functools import cache

import pycountry

from billing.parties.models import INVOICE_LANGUAGES

ENGLISH = "en"

# Each label in English; every other language must have the same keys (a unit test checks it).
# Placeholders are str.format fields, the same in every language.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "billing_period": "Billing period",
        "currency": "Currency",
        "credit_note_for": "Credit note for invoice",
        "reason": "Reason",
        "from": "From",
        "bill_to": "Bill to",
        "tax_id": "Tax id",
        "payment_terms": "Payment terms",
        "terms_days": "{days} days net",
        "terms_day": "{days} day net",
        "terms_on_receipt": "due on receipt",
        "contract": "Contract",
        "contracts": "Contracts",
        "your_po": "Your PO",
        "your_pos": "Your POs",
        "billing_contact": "Billing contact",
        "account_currency": "Account currency",
        "col_circuit": "Circuit",
        "col_description": "Description",
        "col_period": "Service period",
        "col_quantity": "Qty",
        "col_unit_price": "Unit price",
        "col_amount": "Amount",
        "subtotal": "Subtotal",
        "vat_on": "VAT {rate}% on {base}",
        "total": "Total",
        "amount_due": "Amount due",
        "amount_credited": "Amount credited",
        "fx_used": "Exchange rate used",
        "vat_in": "VAT in {currency}",
        "at_rate": "at",
        "payment_instructions": "Payment instructions",
        "issuer_bank_details": "Issuer's bank details",
        "quote_number": "Please quote {number} with your payment.",
        "pay_online": "Pay online",
        "draft_note": "DRAFT — a preview: not issued, not numbered, not payable.",
        "page_of": '"Page " counter(page) " of " counter(pages)',
    },
    "ru": {
        "invoice": "Счёт-фактура",
        "credit_note": "Кредит-нота",
        "issue_date": "Дата выставления",
        "due_date": "Срок оплаты",
        "billing_period": "Расчётный период",
        "currency": "Валюта",
        "credit_note_for": "Кредит-нота к счёту-фактуре",
        "reason": "Основание",
        "from": "Поставщик",
        "bill_to": "Покупатель",
        "tax_id": "Налоговый номер",
        "payment_terms": "Условия оплаты",
        "terms_days": "оплата в течение {days} дн.",
        "terms_day": "оплата в течение {days} дн.",
        "terms_on_receipt": "оплата по получении",
        "contract": "Договор",
        "contracts": "Договоры",
        "your_po": "Ваш заказ",
        "your_pos": "Ваши заказы",
        "billing_contact": "Контактное лицо по счетам",
        "account_currency": "Валюта расчётов",
        "col_circuit": "Канал",
        "col_description": "Описание",
        "col_period": "Период услуги",
        "col_quantity": "Кол.",
        "col_unit_price": "Цена за ед.",
        "col_amount": "Сумма",
        "subtotal": "Итого без НДС",
        "vat_on": "НДС {rate}% с суммы {base}",
        "total": "Итого",
        "amount_due": "К оплате",
        "amount_credited": "Сумма кредита",
        "fx_used": "Применённый курс",
        "vat_in": "НДС в {currency}",
        "at_rate": "по курсу",
        "payment_instructions": "Платёжные реквизиты",
        "issuer_bank_details": "Банковские реквизиты поставщика",
        "quote_number": "При оплате укажите номер {number}.",
        "pay_online": "Оплатить онлайн",
        "draft_note": "ПРОЕКТ — предварительный просмотр: не выставлен, без номера, не к оплате.",
        "page_of": '"Страница " counter(page) " из " counter(pages)',
    },
    "az": {
        "invoice": "Hesab-faktura",
        "credit_note": "Kredit notası",
        "issue_date": "Tərtib tarixi",
        "due_date": "Son ödəniş tarixi",
        "billing_period": "Hesablaşma dövrü",
        "currency": "Valyuta",
        "credit_note_for": "Hesab-fakturaya kredit notası",
        "reason": "Səbəb",
        "from": "Təchizatçı",
        "bill_to": "Alıcı",
        "tax_id": "VÖEN",
        "payment_terms": "Ödəniş şərtləri",
        "terms_days": "{days} gün ərzində ödəniş",
        "terms_day": "{days} gün ərzində ödəniş",
        "terms_on_receipt": "alındıqda ödəniş",
        "contract": "Müqavilə",
        "contracts": "Müqavilələr",
        "your_po": "Sifarişiniz",
        "your_pos": "Sifarişləriniz",
        "billing_contact": "Hesablar üzrə əlaqə şəxsi",
        "account_currency": "Hesablaşma valyutası",
        "col_circuit": "Kanal",
        "col_description": "Təsvir",
        "col_period": "Xidmət dövrü",
        "col_quantity": "Miqdar",
        "col_unit_price": "Vahidin qiyməti",
        "col_amount": "Məbləğ",
        "subtotal": "ƏDV-siz cəmi",
        "vat_on": "{base} məbləğindən ƏDV {rate}%",
        "total": "Cəmi",
        "amount_due": "Ödəniləcək məbləğ",
        "amount_credited": "Kreditləşdirilən məbləğ",
        "fx_used": "Tətbiq edilən məzənnə",
        "vat_in": "ƏDV {currency} ilə",
        "at_rate": "məzənnə ilə",
        "payment_instructions": "Ödəniş rekvizitləri",
        "issuer_bank_details": "Təchizatçının bank rekvizitləri",
        "quote_number": "Ödəniş zamanı {number} nömrəsini göstərin.",
        "pay_online": "Onlayn ödəniş",
        "draft_note": "LAYİHƏ — ilkin baxış: təqdim edilməyib, nömrəsizdir, ödənilmir.",
        "page_of": '"Səhifə " counter(page) " (cəmi " counter(pages) ")"',
    },
    "kk": {
        "invoice": "Шот-фактура",
        "credit_note": "Кредиттік нота",
        "issue_date": "Жазып берілген күні",
        "due_date": "Төлеу мерзімі",
        "billing_period": "Есеп айырысу кезеңі",
        "currency": "Валюта",
        "credit_note_for": "Шот-фактураға кредиттік нота",
        "reason": "Негіздеме",
        "from": "Жеткізуші",
        "bill_to": "Сатып алушы",
        "tax_id": "Салық нөмірі",
        "payment_terms": "Төлем шарттары",
        "terms_days": "{days} күн ішінде төлеу",
        "terms_day": "{days} күн ішінде төлеу",
        "terms_on_receipt": "алған кезде төлеу",
        "contract": "Шарт",
        "contracts": "Шарттар",
        "your_po": "Сіздің тапсырысыңыз",
        "your_pos": "Сіздің тапсырыстарыңыз",
        "billing_contact": "Шоттар бойынша байланыс тұлғасы",
        "account_currency": "Есеп айырысу валютасы",
        "col_circuit": "Арна",
        "col_description": "Сипаттама",
        "col_period": "Қызмет кезеңі",
        "col_quantity": "Саны",
        "col_unit_price": "Бірлік бағасы",
        "col_amount": "Сомасы",
        "subtotal": "ҚҚС-сыз жиыны",
        "vat_on": "{base} сомасынан ҚҚС {rate}%",
        "total": "Барлығы",
        "amount_due": "Төленуге тиіс",
        "amount_credited": "Кредиттелген сома",
        "fx_used": "Қолданылған бағам",
        "vat_in": "ҚҚС {currency} түрінде",
        "at_rate": "бағам бойынша",
        "payment_instructions": "Төлем деректемелері",
        "issuer_bank_details": "Жеткізушінің банк деректемелері",
        "quote_number": "Төлем кезінде {number} нөмірін көрсетіңіз.",
        "pay_online": "Онлайн төлеу",
        "draft_note": "ЖОБА — алдын ала қарау: жазып берілмеген, нөмірсіз, төленбейді.",
        "page_of": '"Бет " counter(page) " (барлығы " counter(pages) ")"',
    },
}

# Who publishes the rates of a source, as a reader says it in each language: the publisher's
# name in the form the phrases below need (the genitive in Russian, Azerbaijani and Kazakh).
PUBLISHERS: dict[str, dict[str, str]] = {
    "en": {"cbar": "Central Bank of Azerbaijan", "nbk": "National Bank of Kazakhstan"},
    "ru": {
        "cbar": "Центрального банка Азербайджанской Республики",
        "nbk": "Национального Банка Республики Казахстан",
    },
    "az": {
        "cbar": "Azərbaycan Respublikası Mərkəzi Bankının",
        "nbk": "Qazaxıstan Respublikası Milli Bankının",
    },
    "kk": {
        "cbar": "Әзірбайжан Республикасы Орталық банкінің",
        "nbk": "Қазақстан Республикасы Ұлттық Банкінің",
    },
}
RATE_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "official": "{publisher} official rate of {day}",
        "cross": "cross rate from {publisher} official rates of {day}",
        "manual": "rate entered by finance for {day}",
        "unknown": "source not recorded",
    },
    "ru": {
        "official": "официальный курс {publisher} на {day}",
        "cross": "кросс-курс по официальным курсам {publisher} на {day}",
        "manual": "курс, введённый финансовой службой на {day}",
        "unknown": "источник не записан",
    },
    "az": {
        "official": "{publisher} {day} tarixinə rəsmi məzənnəsi",
        "cross": "{publisher} {day} tarixinə rəsmi məzənnələri üzrə çarpaz məzənnə",
        "manual": "maliyyə xidmətinin {day} tarixi üçün daxil etdiyi məzənnə",
        "unknown": "mənbə qeyd edilməyib",
    },
    "kk": {
        "official": "{publisher} {day} күнгі ресми бағамы",
        "cross": "{publisher} {day} күнгі ресми бағамдары бойынша кросс-бағам",
        "manual": "қаржы қызметі {day} күнге енгізген бағам",
        "unknown": "дереккөзі жазылмаған",
    },
}


def invoice_language(code: str | None) -> str:
    """The language a document is printed in beside English; English for none or an unknown
    code (documents issued before languages were recorded are English)."""
    return code if code in INVOICE_LANGUAGES else ENGLISH


def words(key: str, language: str = ENGLISH, **values: object) -> str:
    """The label `key` in `language` only, its placeholders filled."""
    return LABELS[invoice_language(language)][key].format(**values)


def label(key: str, language: str = ENGLISH, *, sep: str = " / ", **values: object) -> str:
    """The label `key` as the document prints it: English alone, or the document's language
    first and English beside it ("Итого / Total")."""
    english = words(key, ENGLISH, **values)
    language = invoice_language(language)
    if language == ENGLISH:
        return english
    own = words(key, language, **values)
    return english if own == english else f"{own}{sep}{english}"


def page_counter(language: str) -> str:
    """The CSS `content` of the page footer's "Page X of Y", bilingual where the document is."""
    language = invoice_language(language)
    if language == ENGLISH:
        return LABELS[ENGLISH]["page_of"]
    return f'{LABELS[language]["page_of"]} " / " {LABELS[ENGLISH]["page_of"]}'


def rate_source_words(source: str, on: date, language: str = ENGLISH) -> str:
    """`cbar` on 2026-12-05 reads "Central Bank of Azerbaijan official rate of 2026-12-05" (in
    `language`); a rate crossed through a third currency (`cbar cross`) and one entered by hand
    say so."""
    language = invoice_language(language)
    phrases = RATE_WORDS[language]
    code, _, cross = source.partition(" ")
    day = on.isoformat()
    if code == "manual":
        return phrases["manual"].format(day=day)
    publisher = PUBLISHERS[language].get(code) or code.upper() or phrases["unknown"]
    return phrases["cross" if cross == "cross" else "official"].format(publisher=publisher, day=day)


@cache
def _country_names(language: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def country_name(code: str, language: str = ENGLISH) -> str:
    """ "Azerbaijan (AZ)"; bilingual "Азербайджан / Azerbaijan (AZ)" (ISO 3166 names as
    Debian's iso-codes translate them, shipped with pycountry)."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    english = str(country.name)
    language = invoice_language(language)
    own = english if language == ENGLISH else _country_names(language).gettext(english)
    name = english if own == english else f"{own} / {english}"
    return f"{name} ({code})"
