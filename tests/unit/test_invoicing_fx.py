from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing.invoicing.fx import CBAR, NBK, FxFileError, FxRate, convert, parse_cbar, parse_nbk
from billing.money import CurrencyMismatchError, Money

FIXTURES = Path(__file__).parent.parent / "fixtures" / "fx"


def rates_of(rates: tuple[FxRate, ...]) -> dict[str, Decimal]:
    return {r.base: r.rate for r in rates}


def test_the_cbar_file_gives_azn_per_one_unit_and_leaves_out_bank_metals() -> None:
    parsed = parse_cbar((FIXTURES / "cbar-2026-11-24.xml").read_bytes())
    assert (parsed.source, parsed.on) == (CBAR, date(2026, 11, 24))
    rates = rates_of(parsed.rates)
    assert rates["USD"] == Decimal("1.7")
    assert rates["KZT"] == Decimal("0.003299")  # quoted per 100
    assert rates["JPY"] == Decimal("0.011034")  # quoted per 100
    assert "XAU" not in rates and "XAG" not in rates
    assert [s.split(":")[0] for s in parsed.skipped] == ["XAU", "XAG"]
    assert {r.quote for r in parsed.rates} == {"AZN"}


def test_the_nbk_file_gives_kzt_per_one_unit_dividing_by_quant() -> None:
    parsed = parse_nbk((FIXTURES / "nbk-2026-11-24.xml").read_bytes())
    assert (parsed.source, parsed.on) == (NBK, date(2026, 11, 24))
    rates = rates_of(parsed.rates)
    assert rates["USD"] == Decimal("515.27")
    assert rates["UZS"] == Decimal("0.0409")  # per 100
    assert rates["IRR"] == Decimal("0.01224")  # per 1000
    assert {r.quote for r in parsed.rates} == {"KZT"}


def test_a_cbar_quote_per_1000_is_divided_too() -> None:
    data = _cbar('<Valute Code="IDR"><Nominal>1000</Nominal><Value>0.1060</Value></Valute>')
    assert rates_of(parse_cbar(data).rates) == {"IDR": Decimal("0.000106")}


def test_converting_uses_the_rate_and_rounds_to_the_target_currency() -> None:
    usd_kzt = FxRate("USD", "KZT", Decimal("515.27"), date(2026, 11, 24), NBK)
    assert convert(Money(Decimal("5600.00"), "USD"), usd_kzt) == Money(Decimal("2885512.00"), "KZT")
    assert convert(Money(Decimal("1000.00"), "KZT"), usd_kzt) == Money(Decimal("1.94"), "USD")
    kzt_azn = FxRate("KZT", "AZN", Decimal("0.003299"), date(2026, 11, 24), CBAR)
    assert convert(Money(Decimal("1500.00"), "KZT"), kzt_azn) == Money(Decimal("4.95"), "AZN")
    with pytest.raises(CurrencyMismatchError):
        convert(Money(Decimal(1), "EUR"), usd_kzt)


def test_a_rate_is_positive_and_between_two_currencies() -> None:
    with pytest.raises(ValueError):
        FxRate("USD", "USD", Decimal(1), date(2026, 11, 24), NBK)
    with pytest.raises(ValueError):
        FxRate("USD", "KZT", Decimal(0), date(2026, 11, 24), NBK)
    with pytest.raises(ValueError):
        FxRate("USD", "ZZZ", Decimal(1), date(2026, 11, 24), NBK)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<ValCurs Date='24.11.2026'><ValType>", "not a well-formed"),
        (b"<rates/>", "not a CBAR daily file"),
        (b"<ValCurs Date='2026-11-24'/>", "not a date"),
        (b"<ValCurs Date='24.11.2026'/>", "holds no rates"),
        (
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><ValCurs Date="24.11.2026"/>',
            "declares a DTD",
        ),
    ],
)
def test_a_malformed_cbar_file_is_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(FxFileError, match=message):
        parse_cbar(data)


@pytest.mark.parametrize(
    ("valute", "message"),
    [
        ('<Valute Code="USD"><Nominal>1</Nominal></Valute>', "USD has no <Value>"),
        ('<Valute Code="USD"><Nominal>1</Nominal><Value>abc</Value></Valute>', "not a number"),
        ('<Valute Code="USD"><Nominal>1</Nominal><Value>-1.7</Value></Valute>', "not a positive"),
        ('<Valute Code="USD"><Nominal>0</Nominal><Value>1.7</Value></Valute>', "per '0' units"),
        ('<Valute Code="USD"><Nominal>1 oz</Nominal><Value>1.7</Value></Valute>', "per '1 oz'"),
        ('<Valute Code="usd"><Nominal>1</Nominal><Value>1.7</Value></Valute>', "three capital"),
        (
            f'<Valute Code="USD"><Nominal>{"9" * 5000}</Nominal><Value>1.7</Value></Valute>',
            r"per '999999999999'… \(5,000 characters\) units",
        ),
        (
            f'<Valute Code="USD"><Nominal>1</Nominal><Value>{"9" * 5000}</Value></Valute>',
            "not a number of sensible size",
        ),
        ('<Valute Code="USD"><Nominal>1</Nominal><Value>1e9999999</Value></Valute>', "sensible"),
        ('<Valute Code="USD"><Nominal>1</Nominal><Value>1e-999999</Value></Valute>', "sensible"),
        ('<Valute Code="USD"><Nominal>1</Nominal><Value>１.７</Value></Valute>', "sensible"),
        ('<Valute Code="USD"><Nominal>１</Nominal><Value>1.7</Value></Valute>', "per '１'"),
        ('<Valute Code="USD"><Nominal>1</Nominal><Value>NaN</Value></Valute>', "not a positive"),
        (
            '<Valute Code="USD"><Nominal>1</Nominal><Value>1.7</Value></Valute>' * 2,
            "quotes USD more than once",
        ),
    ],
)
def test_a_cbar_file_with_a_bad_rate_is_refused_whole(valute: str, message: str) -> None:
    with pytest.raises(FxFileError, match=message):
        parse_cbar(_cbar(valute))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not xml at all", "not a well-formed NBK"),
        (b"<ValCurs/>", "not an NBK rates file"),
        (b"<rates><item><title>USD</title></item></rates>", "not a date"),
        (
            b"<rates><date>24.11.2026</date><item><title>USD</title>"
            b"<description>515.27</description><quant>1/100</quant></item></rates>",
            "per '1/100' units",
        ),
        (
            b"<rates><date>24.11.2026</date><item><title>KZT</title>"
            b"<description>1</description><quant>1</quant></item></rates>",
            "against itself",
        ),
    ],
)
def test_a_malformed_nbk_file_is_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(FxFileError, match=message):
        parse_nbk(data)


def test_a_currency_unknown_to_iso_4217_is_left_out_and_said_so() -> None:
    data = _cbar(
        '<Valute Code="USD"><Nominal>1</Nominal><Value>1.7</Value></Valute>'
        '<Valute Code="SDR"><Nominal>1</Nominal><Value>2.3</Value></Valute>'
    )
    parsed = parse_cbar(data)
    assert rates_of(parsed.rates) == {"USD": Decimal("1.7")}
    assert parsed.skipped == ("SDR: not an ISO 4217 currency",)


def _cbar(valutes: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ValCurs Date="24.11.2026">'
        f'<ValType Type="Xarici valyutalar">{valutes}</ValType></ValCurs>'
    ).encode()
