from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.invoicing.tax import (
    DEMO_TAX_RULES,
    ELSEWHERE,
    NoTaxRuleError,
    OverlappingTaxRulesError,
    TaxRule,
    check_rules,
    invoice_tax,
    tax_rule_for,
)
from billing.money import Money


def money(amount: str, currency: str = "KZT") -> Money:
    return Money(Decimal(amount), currency)


def test_a_kz_customer_of_ktc_pays_16_percent_from_2026_and_12_before() -> None:
    rule_2026 = tax_rule_for(DEMO_TAX_RULES, "KTC", "KZ", date(2026, 1, 1))
    rule_2025 = tax_rule_for(DEMO_TAX_RULES, "KTC", "KZ", date(2025, 12, 31))
    assert rule_2026.rate_percent == Decimal(16)
    assert rule_2025.rate_percent == Decimal(12)


def test_a_foreign_customer_pays_no_vat_and_the_invoice_says_why() -> None:
    ktc = tax_rule_for(DEMO_TAX_RULES, "KTC", "AZ", date(2026, 11, 1))
    azt = tax_rule_for(DEMO_TAX_RULES, "AZT", "KZ", date(2026, 11, 1))
    assert (ktc.rate_percent, ktc.legal_note) == (
        Decimal(0),
        "Place of supply outside Kazakhstan — not subject to Kazakhstan VAT",
    )
    assert (azt.rate_percent, azt.legal_note) == (Decimal(0), "Export of services — VAT 0%")
    assert tax_rule_for(DEMO_TAX_RULES, "AZT", "AZ", date(2026, 11, 1)).rate_percent == 18


def test_no_applicable_rule_is_a_clear_error() -> None:
    with pytest.raises(NoTaxRuleError, match="no tax rule of XYZ .* KZ .* 2026-11-01"):
        tax_rule_for(DEMO_TAX_RULES, "XYZ", "KZ", date(2026, 11, 1))
    only_kz = [r for r in DEMO_TAX_RULES if r.customer_country == "KZ"]
    with pytest.raises(NoTaxRuleError):
        tax_rule_for(only_kz, "KTC", "GE", date(2026, 11, 1))


def test_overlapping_rules_are_refused() -> None:
    extra = TaxRule("KTC", "KZ", Decimal(20), "VAT 20%", "", effective_from=date(2026, 6, 1))
    with pytest.raises(OverlappingTaxRulesError, match="KTC for KZ overlap"):
        check_rules([*DEMO_TAX_RULES, extra])
    with pytest.raises(OverlappingTaxRulesError):
        tax_rule_for([*DEMO_TAX_RULES, extra], "KTC", "KZ", date(2026, 7, 1))
    check_rules(DEMO_TAX_RULES)  # the demo rules meet end to end, and do not overlap


def test_a_rule_names_a_country_or_elsewhere_and_a_rate_up_to_100() -> None:
    with pytest.raises(ValueError):
        TaxRule("AZT", "Azerbaijan", Decimal(18), "VAT", "")
    with pytest.raises(ValueError):
        TaxRule("AZT", ELSEWHERE, Decimal(101), "VAT", "")
    with pytest.raises(ValueError):
        TaxRule("AZT", "AZ", Decimal(18), "VAT", "", date(2026, 2, 1), date(2026, 1, 31))


def test_tax_is_computed_once_on_the_sum_of_the_lines_not_per_line() -> None:
    rule = tax_rule_for(DEMO_TAX_RULES, "KTC", "KZ", date(2026, 11, 1))
    lines = [(money("0.03"), rule)] * 3
    # Per line, 16% of 0.03 is 0.0048 → 0.00, three times 0.00; on the sum, 0.0144 → 0.01.
    (tax,) = invoice_tax(lines)
    assert (tax.base, tax.tax) == (money("0.09"), money("0.01"))
    assert tax.legal_notes == ("Kazakhstan VAT at 16%",)


def test_an_invoice_spanning_two_rates_has_one_tax_line_per_rate() -> None:
    rule_2025 = tax_rule_for(DEMO_TAX_RULES, "KTC", "KZ", date(2025, 12, 1))
    rule_2026 = tax_rule_for(DEMO_TAX_RULES, "KTC", "KZ", date(2026, 1, 1))
    taxes = invoice_tax(
        [
            (money("1000.05"), rule_2025),
            (money("2000.00"), rule_2026),
            (money("500.03"), rule_2026),
        ]
    )
    assert [(t.rate_percent, t.base, t.tax) for t in taxes] == [
        (Decimal(16), money("2500.03"), money("400.00")),  # 400.0048
        (Decimal(12), money("1000.05"), money("120.01")),  # 120.006
    ]


def test_tax_rounds_half_up_to_the_minor_unit() -> None:
    rule = tax_rule_for(DEMO_TAX_RULES, "AZT", "AZ", date(2026, 11, 1))
    (tax,) = invoice_tax([(money("0.25", "AZN"), rule)])
    assert tax.tax == money("0.05", "AZN")  # 0.045 half-up
