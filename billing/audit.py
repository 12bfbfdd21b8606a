"""The append-only audit log: who changed what, when, before and after.

It sits at the bottom of the layers: every package that changes state writes here, and it needs
nothing but the database layer.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index, Select, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.db import Base, UTCDateTime, order_by_choice, text_match


class AuditEntry(Base):
    """Append-only: the database refuses UPDATE and DELETE on this table (see the migration)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal | datetime | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
    )
    session.add(entry)
    return entry


AUDIT_SORTS: dict[str, tuple[Any, ...]] = {
    "at": (AuditEntry.id,),
    "actor": (AuditEntry.actor, AuditEntry.id),
    "action": (AuditEntry.action, AuditEntry.id),
    "entity": (AuditEntry.entity_type, AuditEntry.entity_id, AuditEntry.id),
}
AUDIT_DEFAULT_SORT = "-at"


def audit_listing(
    *, action: str = "", entity_type: str = "", q: str = "", sort: str = ""
) -> Select[AuditEntry]:
    """The log, newest first (or by one of AUDIT_SORTS): actions starting with `action`, of one
    `entity_type` (if given), whose actor, action or entity id contains `q` (if given)."""
    stmt = select(AuditEntry)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if q:
        stmt = stmt.where(text_match(q, AuditEntry.actor, AuditEntry.action, AuditEntry.entity_id))
    return order_by_choice(stmt, sort, AUDIT_SORTS, AUDIT_DEFAULT_SORT)
