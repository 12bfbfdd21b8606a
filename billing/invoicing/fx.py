"""Exchange rates (SPEC 4): a rate value, conversion of Money, and the central banks' files.

Rates are stored per one unit of the base currency. Both central banks quote some currencies per
10, 100 or 1000 units: the parsers divide, so nothing downstream ever sees a nominal. The files
come from outside, so they are parsed with defusedxml (no DTDs, no entities) and refused whole,
with a message that says why, when anything in them is off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from billing.errors import N_, InvalidRequestError, Text
from billing.money import ROUNDING, CurrencyMismatchError, Money, minor_unit
from billing.validation import MAX_NUMBER_TEXT

CBAR = "CBAR"  # Central Bank of the Republic of Azerbaijan: AZN per unit
NBK = "NBK"  # National Bank of the Republic of Kazakhstan: KZT per unit

_CODE = re.compile(r"[A-Z]{3}")
_METAL_NOMINAL = re.compile(r"\d+\s*t\.u\.")  # troy ounces: bank metals, not currencies


class FxFileError(InvalidRequestError):
    pass


@dataclass(frozen=True, slots=True)
class FxRate:
    """`rate` units of `quote` buy one unit of `base` on `on`, as `source` published it."""

    base: str
    quote: str
    rate: Decimal
    on: date
    source: str

    def __post_init__(self) -> None:
        minor_unit(self.base)
        minor_unit(self.quote)
        if self.base == self.quote:
            raise ValueError("a rate is between two different currencies")
        if not (self.rate.is_finite() and self.rate > 0):
            raise ValueError("a rate is a positive number")


# Exchange rates are rounded in one mode, the one of amounts (money.ROUNDING): a rate derived
# (inverse, cross) or read with more places than are kept, and every amount converted at one.
RATE_ROUNDING = ROUNDING


def round_rate(rate: Decimal, places: int) -> Decimal:
    """`rate` kept to `places` decimals, rounded by RATE_ROUNDING."""
    return rate.quantize(Decimal(1).scaleb(-places), rounding=RATE_ROUNDING)


def convert(money: Money, rate: FxRate) -> Money:
    """`money` in the rate's other currency, rounded half-up to that currency's minor unit."""
    if money.currency == rate.base:
        return Money(money.amount * rate.rate, rate.quote).rounded()
    if money.currency == rate.quote:
        return Money(money.amount / rate.rate, rate.base).rounded()
    raise CurrencyMismatchError(
        f"a {rate.base}/{rate.quote} rate does not convert {money.currency}"
    )


@dataclass(frozen=True, slots=True)
class FxFile:
    """What a central bank's file holds: its date, the rates, and what was left out and why."""

    source: str
    on: date
    rates: tuple[FxRate, ...]
    skipped: tuple[str, ...]


def parse_cbar(data: bytes) -> FxFile:
    """The CBAR daily file: ValCurs(Date) → ValType → Valute(Code) with Nominal and Value (AZN)."""
    root = _xml(data, Text(N_("CBAR daily file")))
    if root.tag != "ValCurs":
        raise FxFileError(
            N_("not a CBAR daily file: the root is <%(tag)s>, not <ValCurs>"), tag=root.tag
        )
    on = _day(root.get("Date"), Text(N_("the ValCurs Date")))
    rates: list[FxRate] = []
    skipped: list[str] = []
    for valute in root.iterfind("ValType/Valute"):
        code = valute.get("Code") or ""
        nominal_text = _text(valute, "Nominal", code)
        if _METAL_NOMINAL.fullmatch(nominal_text):
            skipped.append(f"{code}: a bank metal quoted per troy ounce, not a currency")
            continue
        rate = _per_unit(code, _text(valute, "Value", code), nominal_text, "AZN", on, CBAR)
        if rate is None:
            skipped.append(f"{code}: not an ISO 4217 currency")
        else:
            rates.append(rate)
    return _checked(FxFile(CBAR, on, tuple(rates), tuple(skipped)))


def parse_nbk(data: bytes) -> FxFile:
    """The NBK rates feed: rates → date, item(title=code, description=KZT per quant, quant)."""
    root = _xml(data, Text(N_("NBK rates file")))
    if root.tag != "rates":
        raise FxFileError(
            N_("not an NBK rates file: the root is <%(tag)s>, not <rates>"), tag=root.tag
        )
    on = _day(root.findtext("date"), Text(N_("the <date>")))
    rates: list[FxRate] = []
    skipped: list[str] = []
    for item in root.iterfind("item"):
        code = (item.findtext("title") or "").strip()
        value = _text(item, "description", code)
        rate = _per_unit(code, value, _text(item, "quant", code), "KZT", on, NBK)
        if rate is None:
            skipped.append(f"{code}: not an ISO 4217 currency")
        else:
            rates.append(rate)
    return _checked(FxFile(NBK, on, tuple(rates), tuple(skipped)))


def _xml(data: bytes, what: str) -> Element:
    try:
        root: Element = SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise FxFileError(
            N_("refused %(what)s: it declares a DTD or entities (%(error)s)"),
            what=what,
            error=str(error),
        ) from None
    except ParseError as error:
        raise FxFileError(
            N_("not a well-formed %(what)s: %(error)s"), what=what, error=str(error)
        ) from None
    return root


def _day(text: str | None, where: str) -> date:
    try:
        return datetime.strptime((text or "").strip(), "%d.%m.%Y").date()
    except ValueError:
        raise FxFileError(
            N_("%(where)s is not a date as DD.MM.YYYY: %(text)s"), where=where, text=repr(text)
        ) from None


def _text(element: Element, tag: str, code: str) -> str:
    text = element.findtext(tag)
    if text is None or not text.strip():
        if code:
            raise FxFileError(N_("the rate of %(code)s has no <%(tag)s>"), code=code, tag=tag)
        raise FxFileError(N_("the rate of a currency has no <%(tag)s>"), tag=tag)
    return text.strip()


def _per_unit(
    code: str, value: str, nominal: str, quote: str, on: date, source: str
) -> FxRate | None:
    if not _CODE.fullmatch(code):
        raise FxFileError(
            N_("%(code)s is not a currency code of three capital letters"), code=_shown(code)
        )
    # Lengths first: Python will not convert a 5,000-digit integer, and no bank's rate is longer.
    if len(value) > MAX_NUMBER_TEXT or not value.isascii():
        raise FxFileError(
            N_("the rate of %(code)s is not a number of sensible size: %(value)s"),
            code=code,
            value=_shown(value),
        )
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise FxFileError(
            N_("the rate of %(code)s is not a number: %(value)s"), code=code, value=_shown(value)
        ) from None
    if (
        not (nominal.isascii() and nominal.isdigit())
        or len(nominal) > MAX_NUMBER_TEXT
        or int(nominal) <= 0
    ):
        raise FxFileError(
            N_("the rate of %(code)s is quoted per %(nominal)s units, not a sensible whole number"),
            code=code,
            nominal=_shown(nominal),
        )
    if not (amount.is_finite() and amount > 0):
        raise FxFileError(
            N_("the rate of %(code)s is not a positive number: %(value)s"),
            code=code,
            value=_shown(value),
        )
    if abs(amount.adjusted()) > MAX_NUMBER_TEXT:  # 1e9999999 fits in 9 characters
        raise FxFileError(
            N_("the rate of %(code)s is not a number of sensible size: %(value)s"),
            code=code,
            value=_shown(value),
        )
    if code == quote:
        raise FxFileError(N_("the file quotes %(code)s against itself"), code=code)
    try:
        minor_unit(code)
    except ValueError:
        return None
    return FxRate(code, quote, amount / int(nominal), on, source)


def _shown(text: str) -> str:
    """A value from the file as a message quotes it: whole when short, its start when not."""
    if len(text) <= MAX_NUMBER_TEXT:
        return repr(text)
    return f"{text[:12]!r}… ({len(text):,} characters)"


def _checked(file: FxFile) -> FxFile:
    if not file.rates:
        raise FxFileError(
            N_("the %(source)s file of %(day)s holds no rates"),
            source=file.source,
            day=file.on.isoformat(),
        )
    codes = [r.base for r in file.rates]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise FxFileError(
            N_("the %(source)s file quotes %(codes)s more than once"),
            source=file.source,
            codes=", ".join(repeated),
        )
    return file
