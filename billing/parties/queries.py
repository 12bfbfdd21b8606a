"""Read side of parties: the selling parties and the customers' names."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from billing.db import order_by_choice, text_match
from billing.parties.models import Customer, Party

CUSTOMER_SORTS: dict[str, tuple[Any, ...]] = {
    "name": (Customer.legal_name, Customer.id),
    "country": (Customer.country, Customer.legal_name, Customer.id),
    "currency": (Customer.billing_currency, Customer.legal_name, Customer.id),
    "terms": (Customer.payment_terms_days, Customer.legal_name, Customer.id),
}
CUSTOMER_DEFAULT_SORT = "name"


def list_parties(session: Session) -> list[Party]:
    """The parties in their listing order."""
    return list(session.execute(select(Party).order_by(Party.listing_order)).scalars())


def customer_names(session: Session) -> dict[int, str]:
    """Every customer's legal name by id, in the order of the ids (the order colours follow)."""
    stmt = select(Customer.id, Customer.legal_name).order_by(Customer.id)
    return {customer_id: name for customer_id, name in session.execute(stmt)}


def customer_listing(*, q: str = "", sort: str = "") -> Select[Customer]:
    """Customers with their owner party, by name (or one of CUSTOMER_SORTS); those whose legal
    name, tax id, country, contact name or contact email contains `q` when given."""
    stmt = select(Customer).options(selectinload(Customer.owner_party))
    if q:
        stmt = stmt.where(
            text_match(
                q,
                Customer.legal_name,
                Customer.tax_id,
                Customer.country,
                Customer.contact_name,
                Customer.contact_email,
            )
        )
    return order_by_choice(stmt, sort, CUSTOMER_SORTS, CUSTOMER_DEFAULT_SORT)
