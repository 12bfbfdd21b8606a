"""Read side of access: staff users, API keys and the idempotency records of API requests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.access.models import ApiKey, IdempotencyRecord, User


def list_users(session: Session) -> list[User]:
    """Every staff user with their party, by email."""
    stmt = select(User).options(selectinload(User.party)).order_by(User.email)
    return list(session.execute(stmt).scalars())


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every API key with its customer, newest first."""
    stmt = select(ApiKey).options(selectinload(ApiKey.customer)).order_by(ApiKey.id.desc())
    return list(session.execute(stmt).scalars())


def find_idempotency_record(
    session: Session, customer_id: int, key: str
) -> IdempotencyRecord | None:
    return session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.customer_id == customer_id, IdempotencyRecord.key == key
        )
    ).scalar_one_or_none()
