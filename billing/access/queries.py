"""Read side of access: staff users, API keys and the idempotency records of API requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, true
from sqlalchemy.orm import Session, selectinload

from billing.access.models import ApiKey, IdempotencyRecord, User
from billing.db import order_by_choice, text_match
from billing.parties.models import Customer

# The columns of an API key check, in this order, ahead of any rows read alongside it.
KEY_COLUMNS = (
    ApiKey.id,
    ApiKey.key_hash,
    ApiKey.prefix,
    ApiKey.revoked_at,
    ApiKey.last_used_at,
    Customer.id,
    Customer.legal_name,
    Customer.owner_party_id,
)


USER_SORTS: dict[str, tuple[Any, ...]] = {
    "email": (User.email, User.id),
    "name": (User.name, User.id),
    "role": (User.role, User.email, User.id),
    "last_login": (User.last_login_at, User.id),
}
USER_DEFAULT_SORT = "email"
API_KEY_SORTS: dict[str, tuple[Any, ...]] = {
    "created": (ApiKey.id,),
    "customer": (Customer.legal_name, ApiKey.id),
    "label": (ApiKey.name, ApiKey.id),
    "last_used": (ApiKey.last_used_at, ApiKey.id),
}
API_KEY_DEFAULT_SORT = "-created"


def user_listing(*, q: str = "", sort: str = "") -> Select[User]:
    """Staff users with their party, by email (or one of USER_SORTS); those whose email or name
    contains `q` when given."""
    stmt = select(User).options(selectinload(User.party))
    if q:
        stmt = stmt.where(text_match(q, User.email, User.name))
    return order_by_choice(stmt, sort, USER_SORTS, USER_DEFAULT_SORT)


def list_users(session: Session) -> list[User]:
    """Every staff user with their party, by email."""
    return list(session.execute(user_listing()).scalars())


def api_key_listing(*, q: str = "", sort: str = "") -> Select[ApiKey]:
    """API keys with their customer, newest first (or one of API_KEY_SORTS); those whose label,
    prefix or customer's name contains `q` when given."""
    stmt = (
        select(ApiKey)
        .join(Customer, Customer.id == ApiKey.customer_id)
        .options(selectinload(ApiKey.customer))
    )
    if q:
        stmt = stmt.where(text_match(q, ApiKey.name, ApiKey.prefix, Customer.legal_name))
    return order_by_choice(stmt, sort, API_KEY_SORTS, API_KEY_DEFAULT_SORT)


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every API key with its customer, newest first."""
    return list(session.execute(api_key_listing()).scalars())


def find_idempotency_record(
    session: Session, customer_id: int, key: str
) -> IdempotencyRecord | None:
    return session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.customer_id == customer_id, IdempotencyRecord.key == key
        )
    ).scalar_one_or_none()


@lru_cache(maxsize=32)
def _key_by_hash(
    alongside: Select[*tuple[Any, ...]] | None,
) -> Select[*tuple[Any, ...]]:
    """Built once per `alongside`: every API request runs one, and building a statement costs
    more than running it."""
    stmt: Select[*tuple[Any, ...]] = (
        select(*KEY_COLUMNS)
        .join(Customer, Customer.id == ApiKey.customer_id)
        .where(ApiKey.key_hash == bindparam("digest"))
    )
    if alongside is None:
        return stmt
    rows = alongside.subquery("alongside")
    # LEFT JOIN ... ON true: the key's row once per row of `alongside`, or once with NULLs
    # when it has none; no row at all when there is no such key.
    return stmt.add_columns(*rows.c).outerjoin(rows, true())


def api_key_rows(
    session: Session,
    digest: str,
    alongside: Select[*tuple[Any, ...]] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The API key with this SHA-256 digest and its customer (the KEY_COLUMNS), whether live or
    revoked; and in the same statement, so in one round trip, the rows of `alongside` (a SELECT
    of another package's, built once, whose bound parameters come in `params`): each row is the
    key's columns followed by one row of `alongside`. No rows when no key has this digest.

    Plain columns, not entities: it runs on every API request."""
    return session.execute(_key_by_hash(alongside), {**(params or {}), "digest": digest}).all()
