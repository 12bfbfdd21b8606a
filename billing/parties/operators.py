"""The operators' own details e-invoices carry (SPEC 14): the address in fields, the VAT id, and
the account customers pay into (IBAN, BIC). Kept by an administrator; audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from billing.audit import record
from billing.errors import N_, InvalidRequestError, NotFoundError
from billing.parties.customers import address_errors
from billing.parties.identifiers import bic_error, compact, iban_error, vat_id_error
from billing.parties.models import Party

PARTY_DETAIL_FIELDS = ("street", "city", "postal_code", "vat_id", "iban", "bic")


def _details(party: Party) -> dict[str, str]:
    return {name: str(getattr(party, name)) for name in PARTY_DETAIL_FIELDS}


def party_detail_errors(values: dict[str, str], country: str) -> dict[str, list[str]]:
    errors = address_errors(values)
    for name, wrong in (
        ("vat_id", vat_id_error(values.get("vat_id", ""), country)),
        ("iban", iban_error(values.get("iban", ""))),
        ("bic", bic_error(values.get("bic", ""))),
    ):
        if wrong:
            errors[name] = [wrong]
    return errors


def update_party_details(
    session: Session, party_id: int, values: dict[str, Any], *, actor: str, now: datetime
) -> Party:
    """Set the operator's e-invoice details; identifiers are compacted ("AZ77 AIIB ..." is
    stored "AZ77AIIB...") and checked (the IBAN's mod-97 check digits). Issued invoices keep
    the details they froze at issue."""
    party = session.get(Party, party_id)
    if party is None:
        raise NotFoundError(N_("no party %(id)s"), id=party_id)
    cleaned = {
        name: (
            compact(str(values.get(name) or ""))
            if name in ("vat_id", "iban", "bic")
            else str(values.get(name) or "").strip()
        )
        for name in PARTY_DETAIL_FIELDS
    }
    errors = party_detail_errors(cleaned, party.country)
    if errors:
        raise InvalidRequestError(N_("%(party)s's details are not valid"), errors, party=party.code)
    before = _details(party)
    if before == cleaned:
        return party
    for name, value in cleaned.items():
        setattr(party, name, value)
    session.flush()
    record(
        session,
        actor=actor,
        action="party.update",
        entity_type="party",
        entity_id=party.id,
        now=now,
        before=before,
        after=cleaned,
    )
    return party
