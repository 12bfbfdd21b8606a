"""SPEC 5's revenue split: the worked examples as written, and exactness for any line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.agreement.split import (
    PathSegment,
    Terms,
    exact_parts,
    explain_split,
    mirror_split,
    split_line,
)
from billing.calendar import Period
from billing.invoicing.charges import prorated_mrc
from billing.money import Money, minor_unit

AZT, KTC = 1, 2
S1 = PathSegment(10, "S1", Decimal("345"))
S2 = PathSegment(20, "S2", Decimal("330"))
LEASE_KINDS = frozenset({"mrc", "mrc_credit", "iru_fee", "early_termination"})


def demo_terms(commission: Decimal = Decimal(5)) -> Terms:
    return Terms(
        parties=(AZT, KTC),
        commission_percent=commission,
        commission_kinds=LEASE_KINDS,
        whole_kinds=frozenset({"nrc"}),
        shares={
            S1.segment_id: {AZT: Decimal(50), KTC: Decimal(50)},
            S2.segment_id: {AZT: Decimal(50), KTC: Decimal(50)},
        },
    )


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_mrc_of_12000_from_the_17th_of_november_is_5600() -> None:
    line = prorated_mrc(usd("12000.00"), Period(date(2026, 11, 17), date(2026, 11, 30)))
    assert line == usd("5600.00")


def test_azt_sells_10000_unprotected_commission_5_percent_s1_50_50() -> None:
    split = split_line(usd("10000.00"), "mrc", AZT, [S1], demo_terms())
    assert split.parts == {AZT: usd("5250.00"), KTC: usd("4750.00")}
    assert split.weights == {"S1": Decimal(1)}


def test_om_of_one_cent_on_s1_goes_to_azt_listed_first() -> None:
    split = split_line(usd("0.01"), "om", AZT, [S1], demo_terms())
    assert split.parts == {AZT: usd("0.01"), KTC: usd("0.00")}
    # Sold by KTC, the tie still goes to AZT: ties follow the agreement's order, not the seller.
    assert split_line(usd("0.01"), "om", KTC, [S1], demo_terms()).parts[AZT] == usd("0.01")


def test_protected_line_is_apportioned_345_to_330_by_km() -> None:
    split = split_line(usd("6750.00"), "om", AZT, [S1, S2], demo_terms())
    assert split.weights == {"S1": Decimal(345) / 675, "S2": Decimal(330) / 675}
    # Owners differ per segment, so the km weighting shows in the parts: S1 AZT-only, S2 KTC-only.
    terms = Terms(
        (AZT, KTC),
        Decimal(0),
        LEASE_KINDS,
        frozenset({"nrc"}),
        {S1.segment_id: {AZT: Decimal(100)}, S2.segment_id: {KTC: Decimal(100)}},
    )
    split = split_line(usd("6750.00"), "mrc", KTC, [S1, S2], terms)
    assert split.parts == {AZT: usd("3450.00"), KTC: usd("3300.00")}


def test_nrc_is_kept_whole_by_the_seller() -> None:
    split = split_line(usd("500.00"), "nrc", KTC, [S1, S2], demo_terms())
    assert split.parts == {AZT: usd("0.00"), KTC: usd("500.00")}


def test_a_credit_line_splits_negative_and_its_mirror_adds_up() -> None:
    split = split_line(usd("-10000.00"), "mrc_credit", AZT, [S1], demo_terms())
    assert split.parts == {AZT: usd("-5250.00"), KTC: usd("-4750.00")}
    original = split_line(usd("100.01"), "mrc", AZT, [S1, S2], demo_terms()).parts
    mirror = mirror_split(usd("-33.33"), original)
    assert sum((p.amount for p in mirror.values()), Decimal(0)) == Decimal("-33.33")
    assert all(p.amount <= 0 for p in mirror.values())


def test_a_zero_line_splits_into_zeros() -> None:
    split = split_line(usd("0.00"), "mrc", AZT, [S1], demo_terms())
    assert split.parts == {AZT: usd("0"), KTC: usd("0")}


CURRENCIES = st.sampled_from(["JPY", "USD", "KWD"])
PERCENT = st.decimals(min_value=0, max_value=100, places=4)
KM = st.decimals(min_value=Decimal("0.001"), max_value=20000, places=3)


@st.composite
def lines(draw):  # type: ignore[no-untyped-def]
    currency = draw(CURRENCIES)
    digits = minor_unit(currency)
    units = draw(
        st.one_of(
            st.sampled_from([1, -1, 0, 10**15, -(10**15)]),
            st.integers(min_value=-(10**15), max_value=10**15),
        )
    )
    amount = Money(Decimal(units).scaleb(-digits), currency)
    path = [PathSegment(i, f"S{i}", draw(KM)) for i in range(1, draw(st.integers(1, 3)) + 1)]
    shares = {}
    for segment in path:
        first = draw(PERCENT)
        shares[segment.segment_id] = {AZT: first, KTC: Decimal(100) - first}
    terms = Terms((AZT, KTC), draw(PERCENT), LEASE_KINDS, frozenset({"nrc"}), shares)
    kind = draw(st.sampled_from(["mrc", "mrc_credit", "iru_fee", "om", "nrc", "early_termination"]))
    seller = draw(st.sampled_from([AZT, KTC]))
    return amount, kind, seller, path, terms


@settings(max_examples=400, deadline=None)
@given(lines())
def test_parts_add_up_exactly_and_each_is_within_one_minor_unit(line) -> None:  # type: ignore[no-untyped-def]
    amount, kind, seller, path, terms = line
    split = split_line(amount, kind, seller, path, terms)
    exact, _ = exact_parts(amount, kind, seller, path, terms)
    unit = Decimal(1).scaleb(-minor_unit(amount.currency))
    assert sum((p.amount for p in split.parts.values()), Decimal(0)) == amount.amount
    for party, part in split.parts.items():
        assert part.currency == amount.currency
        assert part.amount == part.rounded().amount
        assert abs(part.amount - exact[party]) < unit


def test_the_steps_of_a_protected_split_add_up_to_the_stored_parts() -> None:
    """What the statement CSV and the invoice page show, so the other party can recompute."""
    amount = usd("10000.00")
    steps = explain_split(amount, "mrc", AZT, [S1, S2], demo_terms())
    assert steps.commission == Decimal("500.00") and not steps.kept_whole
    assert [(s.code, s.length_km, s.weight) for s in steps.segments] == [
        ("S1", Decimal(345), Decimal(345) / 675),
        ("S2", Decimal(330), Decimal(330) / 675),
    ]
    s1, s2 = steps.segments
    assert s1.amount + s2.amount == Decimal("9500.00")
    assert s1.parties[AZT] == s1.parties[KTC] == s1.amount / 2
    exact = {
        AZT: steps.commission + s1.parties[AZT] + s2.parties[AZT],
        KTC: s1.parties[KTC] + s2.parties[KTC],
    }
    split = split_line(amount, "mrc", AZT, [S1, S2], demo_terms())
    assert exact == split.exact
    assert explain_split(usd("500.00"), "nrc", KTC, [S1], demo_terms()).kept_whole
