"""Tax as data (SPEC 4): rate rules by issuer, customer country and supply date, with legal notes.

Pure rules on values: the database keeps the rules, this module picks one and computes the tax.
Tax is computed once per invoice per rate, on the sum of the lines, and rounded half-up there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.errors import N_, InvalidRequestError, Text
from billing.money import Money, to_decimal, total

# The rule for customers in every country that has no rule of its own.
ELSEWHERE = "elsewhere"

# The VAT categories of UNCL5305 that EN 16931 and e-invoices use (SPEC 14).
TAX_CATEGORIES = {
    "S": "Standard rate",
    "Z": "Zero rated",
    "E": "Exempt from VAT",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Outside the scope of VAT",
}
# Categories that state no exemption reason (EN 16931 BR-S-10, BR-Z-10); all others need one.
WITHOUT_EXEMPTION = ("S", "Z")


def default_category(rate_percent: Decimal, name: str, legal_note: str) -> tuple[str, str, str]:
    """(category, VATEX code, reason) of a rule that names none, as migration 0028 read the
    rules it found: above 0 % standard rated; at 0 % reverse charge where its words say so,
    otherwise outside the scope of VAT, its legal note being the reason."""
    if rate_percent > 0:
        return "S", "", ""
    reason = legal_note or name
    if "reverse" in f"{name} {legal_note}".lower():
        return "AE", "VATEX-EU-AE", reason
    return "O", "VATEX-EU-O", reason


def category_errors(
    rate_percent: Decimal, category_code: str, exemption_reason_code: str, exemption_reason: str
) -> dict[str, list[str]]:
    """What is wrong with a rule's VAT category and exemption reason (EN 16931's rules)."""
    errors: dict[str, list[str]] = {}
    if category_code not in TAX_CATEGORIES:
        errors["category_code"] = [
            Text(N_("Choose one of %(codes)s."), codes=", ".join(TAX_CATEGORIES))
        ]
        return errors
    if category_code == "S" and not rate_percent > 0:
        errors["category_code"] = [N_("Standard rate (S) has a rate above 0%.")]
    elif category_code != "S" and rate_percent != 0:
        errors["category_code"] = [
            Text(N_("Category %(code)s has a 0%% rate; S has a rate."), code=category_code)
        ]
    code = exemption_reason_code
    if code and not (
        code.startswith("VATEX-")
        and len(code) <= 32
        and all(c.isalnum() or c == "-" for c in code)
        and code.isascii()
    ):
        errors["exemption_reason_code"] = [N_("A VATEX code, such as VATEX-EU-AE.")]
    if category_code in WITHOUT_EXEMPTION:
        if code or exemption_reason.strip():
            errors["exemption_reason"] = [
                Text(
                    N_("Category %(code)s states no exemption reason: leave both empty."),
                    code=category_code,
                )
            ]
    elif not (code or exemption_reason.strip()):
        errors["exemption_reason"] = [
            Text(
                N_("Category %(code)s needs an exemption reason: a VATEX code or the words."),
                code=category_code,
            )
        ]
    return errors


class NoTaxRuleError(InvalidRequestError):
    pass


class OverlappingTaxRulesError(InvalidRequestError):
    pass


@dataclass(frozen=True, slots=True)
class TaxRule:
    """A rate for an issuer's supplies to customers in a country, over a range of supply dates.

    `effective_from` and `effective_to` are both included; None leaves that end open.
    """

    issuer: str
    customer_country: str
    rate_percent: Decimal
    name: str
    legal_note: str
    effective_from: date | None = None
    effective_to: date | None = None
    # UNCL5305; empty takes default_category's reading of the rate and words.
    category_code: str = ""
    exemption_reason_code: str = ""
    exemption_reason: str = ""
    # The legal note in other invoice languages (SPEC 14): (language, note) pairs.
    local_notes: tuple[tuple[str, str], ...] = ()

    def note_in(self, language: str) -> str:
        """The legal note in `language`; empty when the rule has none in it."""
        return dict(self.local_notes).get(language, "")

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate_percent", to_decimal(self.rate_percent))
        if not (self.rate_percent.is_finite() and 0 <= self.rate_percent <= 100):
            raise ValueError("a tax rate is between 0% and 100%")
        if not self.category_code:
            code, vatex, reason = default_category(self.rate_percent, self.name, self.legal_note)
            object.__setattr__(self, "category_code", code)
            object.__setattr__(self, "exemption_reason_code", vatex)
            object.__setattr__(self, "exemption_reason", reason)
        wrong = category_errors(
            self.rate_percent,
            self.category_code,
            self.exemption_reason_code,
            self.exemption_reason,
        )
        if wrong:
            raise ValueError("; ".join(m for messages in wrong.values() for m in messages))
        country = self.customer_country
        if country != ELSEWHERE and not (
            len(country) == 2 and country.isalpha() and country.isupper()
        ):
            raise ValueError(
                f"{country!r} is neither a country code (ISO 3166-1) nor {ELSEWHERE!r}"
            )
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("a tax rule ends on or after the day it takes effect")

    def applies_on(self, supply_date: date) -> bool:
        return (self.effective_from is None or self.effective_from <= supply_date) and (
            self.effective_to is None or supply_date <= self.effective_to
        )

    def overlaps(self, other: TaxRule) -> bool:
        if (self.issuer, self.customer_country) != (other.issuer, other.customer_country):
            return False
        starts_before_other_ends = (
            self.effective_from is None
            or other.effective_to is None
            or self.effective_from <= other.effective_to
        )
        ends_after_other_starts = (
            self.effective_to is None
            or other.effective_from is None
            or other.effective_from <= self.effective_to
        )
        return starts_before_other_ends and ends_after_other_starts


# Demo defaults (SPEC 4), to be confirmed by each finance team.
DEMO_TAX_RULES = (
    TaxRule(
        "AZT",
        "AZ",
        Decimal(18),
        "VAT 18%",
        "Azerbaijan VAT at 18%",
        local_notes=(("az", "Azərbaycan Respublikasında ƏDV 18% dərəcə ilə"),),
    ),
    TaxRule(
        "AZT",
        ELSEWHERE,
        Decimal(0),
        "VAT 0%",
        "Export of services — VAT 0%",
        local_notes=(("az", "Xidmətlərin ixracı — ƏDV 0%"), ("ru", "Экспорт услуг — НДС 0%")),
    ),
    TaxRule(
        "KTC",
        "KZ",
        Decimal(12),
        "VAT 12%",
        "Kazakhstan VAT at 12%",
        effective_to=date(2025, 12, 31),
        local_notes=(
            ("kk", "Қазақстан Республикасының ҚҚС 12% мөлшерлемесі бойынша"),
            ("ru", "НДС Республики Казахстан по ставке 12%"),
        ),
    ),
    TaxRule(
        "KTC",
        "KZ",
        Decimal(16),
        "VAT 16%",
        "Kazakhstan VAT at 16%",
        effective_from=date(2026, 1, 1),
        local_notes=(
            ("kk", "Қазақстан Республикасының ҚҚС 16% мөлшерлемесі бойынша"),
            ("ru", "НДС Республики Казахстан по ставке 16%"),
        ),
    ),
    TaxRule(
        "KTC",
        ELSEWHERE,
        Decimal(0),
        "VAT 0%",
        "Place of supply outside Kazakhstan — not subject to Kazakhstan VAT",
        local_notes=(
            ("kk", "Өткізу орны Қазақстаннан тыс — Қазақстанның ҚҚС-на жатпайды"),
            ("ru", "Место реализации за пределами Казахстана — не облагается НДС Казахстана"),
        ),
    ),
)


def check_rules(rules: Iterable[TaxRule]) -> None:
    """Refuse two rules for the same issuer and country whose dates overlap: one must win."""
    seen: list[TaxRule] = []
    for rule in rules:
        for other in seen:
            if rule.overlaps(other):
                raise OverlappingTaxRulesError(
                    N_(
                        "two tax rules of %(issuer)s for %(country)s overlap: "
                        "[%(first_start)s – %(first_end)s] and [%(second_start)s – %(second_end)s]"
                    ),
                    issuer=rule.issuer,
                    country=rule.customer_country,
                    first_start=_start(other),
                    first_end=_end(other),
                    second_start=_start(rule),
                    second_end=_end(rule),
                )
        seen.append(rule)


def tax_rule_for(
    rules: Iterable[TaxRule], issuer: str, customer_country: str, supply_date: date
) -> TaxRule:
    """The rule for the customer's own country if there is one that day, else the elsewhere one."""
    candidates = [r for r in rules if r.issuer == issuer and r.applies_on(supply_date)]
    for country in (customer_country, ELSEWHERE):
        matching = [r for r in candidates if r.customer_country == country]
        if len(matching) > 1:
            raise OverlappingTaxRulesError(
                N_("%(count)s tax rules of %(issuer)s for %(country)s apply on %(day)s"),
                count=len(matching),
                issuer=issuer,
                country=country,
                day=str(supply_date),
            )
        if matching:
            return matching[0]
    raise NoTaxRuleError(
        N_(
            "no tax rule of %(issuer)s applies to a customer in %(country)s for a supply on %(day)s"
        ),
        {"issuer": issuer, "customer_country": customer_country, "supply_date": str(supply_date)},
        issuer=issuer,
        country=customer_country,
        day=supply_date.isoformat(),
    )


@dataclass(frozen=True, slots=True)
class TaxLine:
    """The tax of one rate on an invoice: the base (sum of its lines), the tax, the notes."""

    rate_percent: Decimal
    base: Money
    tax: Money
    names: tuple[str, ...] = field(default=())
    legal_notes: tuple[str, ...] = field(default=())
    category_code: str = "S"
    exemption_reason_code: str = ""
    exemption_reason: str = ""
    # The rules' notes in other languages, (language, note), once each.
    local_notes: tuple[tuple[str, str], ...] = field(default=())

    def notes_in(self, language: str) -> tuple[str, ...]:
        """The legal notes in `language` (none for English: those are `legal_notes`)."""
        return tuple(note for code, note in self.local_notes if code == language)


class MixedTaxCategoriesError(InvalidRequestError):
    pass


def invoice_tax(lines: Sequence[tuple[Money, TaxRule]]) -> list[TaxLine]:
    """Tax once per rate on the sum of the invoice's lines of that rate, rounded half-up.

    Each line is (its rounded amount, the rule for its supply date). Highest rate first.
    """
    by_rate: dict[Decimal, list[tuple[Money, TaxRule]]] = {}
    for amount, rule in lines:
        by_rate.setdefault(rule.rate_percent, []).append((amount, rule))
    taxes = []
    for rate in sorted(by_rate, reverse=True):
        group = by_rate[rate]
        base = total((amount for amount, _ in group), group[0][0].currency)
        # One tax per rate (its base and rounding): e-invoices state one category per rate.
        categories = {
            (r.category_code, r.exemption_reason_code, r.exemption_reason) for _, r in group
        }
        if len(categories) > 1:
            raise MixedTaxCategoriesError(
                N_(
                    "the lines at %(rate)s%% fall under tax rules of different VAT categories or "
                    "exemption reasons: give the rules one category per rate, or issue them apart"
                ),
                rate=rate,
            )
        code, vatex, reason = categories.pop()
        taxes.append(
            TaxLine(
                rate,
                base,
                base.percent(rate).rounded(),
                tuple(dict.fromkeys(rule.name for _, rule in group)),
                tuple(dict.fromkeys(rule.legal_note for _, rule in group)),
                code,
                vatex,
                reason,
                tuple(dict.fromkeys(pair for _, rule in group for pair in rule.local_notes)),
            )
        )
    return taxes


def reversed_tax(
    rate_percent: Decimal,
    *,
    base: Money,
    tax: Money,
    base_before: Money,
    tax_before: Money,
    credited: Money,
) -> Money:
    """The tax a credit note takes back of one rate of its invoice (positive): the rate on the
    credited base, rounded half-up, never more than is left of that rate's tax, and all of what
    is left once the rate's whole base is credited (so the notes of an invoice add up to its
    tax exactly). `base`, `tax`: the invoice's; `*_before`: what earlier credit notes took."""
    left = tax - tax_before
    if base_before + credited >= base:
        return left
    return min(credited.percent(rate_percent).rounded(), left)


def _start(rule: TaxRule) -> str:
    return rule.effective_from.isoformat() if rule.effective_from else Text(N_("any date"))


def _end(rule: TaxRule) -> str:
    return rule.effective_to.isoformat() if rule.effective_to else Text(N_("no end"))
