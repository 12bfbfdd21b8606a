"""The credit plan and the tax it reverses are pure rules on Money (issuing.plan_credit,
tax.reversed_tax): values in, values out, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.invoicing.issuing import CreditableLine, IssueError, plan_credit
from billing.invoicing.tax import reversed_tax
from billing.money import Money


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


LINES = [CreditableLine(11, 1, usd("1000.00")), CreditableLine(12, 2, usd("0.00"))]


def test_a_whole_credit_takes_what_is_left_of_each_line_in_line_order() -> None:
    lines = [CreditableLine(12, 2, usd("500.00")), CreditableLine(11, 1, usd("1000.00"))]
    plan = plan_credit(lines, None, "  cancelled ", invoice_number="AZT-1", currency="USD")
    assert plan.amounts == ((11, usd("1000.00")), (12, usd("500.00")))
    assert plan.reason == "cancelled"


def test_a_line_credit_is_refused_beyond_what_is_left_below_a_cent_or_without_a_reason() -> None:
    with pytest.raises(IssueError, match="larger than what is left of the line: USD 1,000.00"):
        plan_credit(LINES, {11: Decimal("1000.01")}, "r", invoice_number="AZT-1", currency="USD")
    with pytest.raises(IssueError, match="at most their minor unit"):
        plan_credit(LINES, {11: Decimal("1.005")}, "r", invoice_number="AZT-1", currency="USD")
    with pytest.raises(IssueError, match="AZT-1 has no such line"):
        plan_credit(LINES, {99: Decimal("1")}, "r", invoice_number="AZT-1", currency="USD")
    with pytest.raises(IssueError, match="says why"):
        plan_credit(LINES, None, " ", invoice_number="AZT-1", currency="USD")
    with pytest.raises(IssueError, match="Nothing is left"):
        plan_credit(LINES[1:], None, "r", invoice_number="AZT-1", currency="USD")


def test_reversed_tax_rounds_on_the_credited_sum_and_the_last_credit_takes_what_is_left() -> None:
    # An invoice of USD 0.03 at 18%: tax 0.01 (0.0054 rounded). Credited a cent at a time, each
    # cent's tax rounds to 0.00, and the credit of the last cent takes back the whole 0.01.
    def reverse(base_before: str, tax_before: str) -> Money:
        return reversed_tax(
            Decimal(18),
            base=usd("0.03"),
            tax=usd("0.01"),
            base_before=usd(base_before),
            tax_before=usd(tax_before),
            credited=usd("0.01"),
        )

    assert reverse("0.00", "0.00") == usd("0.00")
    assert reverse("0.01", "0.00") == usd("0.00")
    assert reverse("0.02", "0.00") == usd("0.01")
    # Never more than is left of the rate's tax.
    assert reversed_tax(
        Decimal(18),
        base=usd("100.00"),
        tax=usd("18.00"),
        base_before=usd("0.00"),
        tax_before=usd("17.99"),
        credited=usd("50.00"),
    ) == usd("0.01")
