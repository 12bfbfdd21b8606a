"""Read side of parties: the selling parties and the customers' names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.parties.models import Customer, Party


def list_parties(session: Session) -> list[Party]:
    """The parties in their listing order."""
    return list(session.execute(select(Party).order_by(Party.listing_order)).scalars())


def customer_names(session: Session) -> dict[int, str]:
    """Every customer's legal name by id, in the order of the ids (the order colours follow)."""
    stmt = select(Customer.id, Customer.legal_name).order_by(Customer.id)
    return {customer_id: name for customer_id, name in session.execute(stmt)}
