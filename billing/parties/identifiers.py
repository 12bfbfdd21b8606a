"""Identifiers e-invoices carry (SPEC 14): VAT ids with their country prefix, IBANs and BICs.

Pure checks on values; the services and forms say what is wrong in the field's own words.
"""

from __future__ import annotations

import re

from billing.errors import N_, Text

_VAT_ID = re.compile(r"[A-Z]{2}[A-Z0-9]{2,30}")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


def compact(value: str) -> str:
    """Upper case without the spaces, dots and dashes people type: "de 811 907 980" → "DE811907980"."""
    return re.sub(r"[\s.\-]", "", value).upper()


def vat_id_error(value: str, country: str) -> str | None:
    """None for a VAT id of the form EN 16931 asks (2-letter country prefix + 2–30 letters and
    digits), or for none at all; else what is wrong. Greece's prefix is EL, not GR."""
    if not value:
        return None
    if not _VAT_ID.fullmatch(value):
        return N_(
            "A VAT id is the 2-letter country code and 2 to 30 letters or digits: AZ1700767721."
        )
    prefix = value[:2]
    if country and prefix != country and not (country == "GR" and prefix == "EL"):
        return Text(
            N_("A VAT id of a company in %(country)s starts with %(country)s."), country=country
        )
    return None


def iban_error(value: str) -> str | None:
    """None for an IBAN whose ISO 13616 check digits hold (mod 97 = 1), or for none."""
    if not value:
        return None
    if not _IBAN.fullmatch(value) or len(value) > 34:
        return N_("An IBAN is 2 letters, 2 check digits and up to 30 letters or digits.")
    rearranged = value[4:] + value[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    if int(digits) % 97 != 1:
        return N_("The IBAN's check digits do not match: check it for a typing error.")
    return None


def bic_error(value: str) -> str | None:
    """None for a BIC (ISO 9362: 8 or 11 characters), or for none."""
    if not value:
        return None
    if not _BIC.fullmatch(value):
        return N_("A BIC (SWIFT code) is 8 or 11 letters and digits: AIIBAZ2X.")
    return None
