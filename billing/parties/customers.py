"""Wholesale customers: who may edit them, and what a valid one looks like."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pycountry
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.audit import record
from billing.errors import N_, InvalidRequestError, NotFoundError, PermissionDeniedError, Text
from billing.money import BILLING_CURRENCIES
from billing.parties.identifiers import compact, vat_id_error
from billing.parties.models import (
    INVOICE_LANGUAGES,
    Customer,
    Party,
    default_invoice_language,
)


@dataclass(frozen=True)
class Seller:
    """Who acts in sales: a party's staff (party set) or an administrator (may act for any)."""

    label: str
    party_id: int | None  # None: an administrator

    @property
    def is_admin(self) -> bool:
        return self.party_id is None

    def may_sell_for(self, party_id: int) -> bool:
        return self.party_id is None or self.party_id == party_id


CUSTOMER_FIELDS = (
    "legal_name",
    "country",
    "tax_id",
    "billing_address",
    "billing_currency",
    "payment_terms_days",
    "owner_party",
    "contact_name",
    "contact_email",
    "contact_phone",
    "street",
    "city",
    "postal_code",
    "vat_id",
    "invoice_language",
)
# The split address fields' lengths (SPEC 14), as the columns hold them.
ADDRESS_LIMITS = {"street": 200, "city": 100, "postal_code": 20}


def is_country(code: str) -> bool:
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


def validate_customer(values: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not str(values.get("legal_name", "")).strip():
        errors["legal_name"] = [N_("required")]
    country = str(values.get("country", ""))
    if not is_country(country):
        errors["country"] = [
            Text(N_("%(country)s is not an ISO 3166-1 alpha-2 country code"), country=repr(country))
        ]
    currency = str(values.get("billing_currency", ""))
    if currency not in BILLING_CURRENCIES:
        errors["billing_currency"] = [
            Text(N_("must be one of %(choices)s"), choices=", ".join(BILLING_CURRENCIES))
        ]
    terms = values.get("payment_terms_days")
    if not isinstance(terms, int) or not 0 <= terms <= 365:
        errors["payment_terms_days"] = [N_("a whole number of days from 0 to 365")]
    errors.update(address_errors(values))
    if values.get("invoice_language", "en") not in INVOICE_LANGUAGES:
        errors["invoice_language"] = [
            Text(N_("must be one of %(choices)s"), choices=", ".join(INVOICE_LANGUAGES))
        ]
    wrong = vat_id_error(str(values.get("vat_id", "")), country)
    if wrong:
        errors["vat_id"] = [wrong]
    return errors


def address_errors(values: dict[str, Any]) -> dict[str, list[str]]:
    """The split address fields: each within its column's length."""
    return {
        key: [Text(N_("at most %(count)s characters"), count=limit)]
        for key, limit in ADDRESS_LIMITS.items()
        if len(str(values.get(key, ""))) > limit
    }


def normalized_identifiers(values: dict[str, Any]) -> dict[str, Any]:
    """The values with the VAT id compacted ("de 811 907 980" → "DE811907980") and the address
    fields stripped, before they are checked and stored."""
    values = {**values}
    if "vat_id" in values:
        values["vat_id"] = compact(str(values["vat_id"] or ""))
    for key in ADDRESS_LIMITS:
        if key in values:
            values[key] = str(values[key] or "").strip()
    return values


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = session.execute(
        select(Customer)
        .where(Customer.id == customer_id)
        .options(selectinload(Customer.owner_party))
    ).scalar_one_or_none()
    if customer is None:
        raise NotFoundError(N_("no customer %(id)s"), id=customer_id)
    return customer


def _party(session: Session, code: str) -> Party:
    party = session.execute(select(Party).where(Party.code == code)).scalar_one_or_none()
    if party is None:
        raise InvalidRequestError(
            N_("unknown party %(code)s"), {"owner_party": [N_("unknown party")]}, code=repr(code)
        )
    return party


def _snapshot(c: Customer) -> dict[str, Any]:
    return {
        "legal_name": c.legal_name,
        "country": c.country,
        "tax_id": c.tax_id,
        "billing_address": c.billing_address,
        "billing_currency": c.billing_currency,
        "payment_terms_days": c.payment_terms_days,
        "owner_party_id": c.owner_party_id,
        "contact_name": c.contact_name,
        "contact_email": c.contact_email,
        "contact_phone": c.contact_phone,
        "street": c.street,
        "city": c.city,
        "postal_code": c.postal_code,
        "vat_id": c.vat_id,
        "invoice_language": c.invoice_language,
    }


def create_customer(
    session: Session, values: dict[str, Any], *, seller: Seller, now: datetime
) -> Customer:
    values = normalized_identifiers(values)
    values.setdefault("billing_currency", "USD")
    values.setdefault("payment_terms_days", 30)
    if not values.get("invoice_language"):
        values["invoice_language"] = default_invoice_language(str(values.get("country", "")))
    errors = validate_customer(values)
    if errors:
        raise InvalidRequestError(N_("the customer is not valid"), errors)
    party = _party(session, str(values.pop("owner_party", "")))
    if not seller.may_sell_for(party.id):
        raise PermissionDeniedError(
            N_("you sell for another party and cannot create a %(party)s customer"),
            party=party.code,
        )
    customer = Customer(
        **{k: v for k, v in values.items() if k in CUSTOMER_FIELDS},
        owner_party_id=party.id,
        created_at=now,
    )
    session.add(customer)
    session.flush()
    record(
        session,
        actor=seller.label,
        action="customer.create",
        entity_type="customer",
        entity_id=customer.id,
        now=now,
        after=_snapshot(customer),
    )
    return customer


def update_customer(
    session: Session, customer_id: int, values: dict[str, Any], *, seller: Seller, now: datetime
) -> Customer:
    customer = get_customer(session, customer_id)
    if not seller.may_sell_for(customer.owner_party_id):
        raise PermissionDeniedError(
            N_("%(customer)s belongs to %(party)s: read-only for you"),
            customer=customer.legal_name,
            party=customer.owner_party.code,
        )
    values = normalized_identifiers(values)
    merged = {**_snapshot(customer), **values}
    errors = validate_customer(merged)
    if errors:
        raise InvalidRequestError(N_("the customer is not valid"), errors)
    before = _snapshot(customer)
    if "owner_party" in values:
        party = _party(session, str(values["owner_party"]))
        if not seller.may_sell_for(party.id):
            raise PermissionDeniedError(N_("you cannot hand a customer to the other party"))
        customer.owner_party_id = party.id
    for key, value in values.items():
        if key in CUSTOMER_FIELDS and key != "owner_party":
            setattr(customer, key, value)
    session.flush()
    record(
        session,
        actor=seller.label,
        action="customer.update",
        entity_type="customer",
        entity_id=customer.id,
        now=now,
        before=before,
        after=_snapshot(customer),
    )
    return customer


def list_customers(session: Session) -> list[Customer]:
    return list(
        session.execute(
            select(Customer)
            .options(selectinload(Customer.owner_party))
            .order_by(Customer.legal_name)
        ).scalars()
    )
