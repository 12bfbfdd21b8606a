"""Stored settlement statements (SPEC 5): one per month and basis, its figures per issuer, the
invoices it withheld, and each party's approval.

A draft may be rebuilt; an approved statement only moves on to settled; a settled one never
changes. The services say so first; the mapper events below refuse it at the ORM too, as
invoicing's do for issued invoices.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, UTCDateTime
from billing.errors import N_, ConflictError
from billing.invoicing.models import Invoice
from billing.parties.models import Party

AMOUNT = Numeric(16, 2)


class StatementState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SETTLED = "settled"


class Basis(StrEnum):
    INVOICED = "invoiced"
    COLLECTED = "collected"


class SettlementStatement(Base):
    """A month's settlement in USD: what each issuer holds for the other, and the net."""

    __tablename__ = "settlement_statements"
    __table_args__ = (
        UniqueConstraint("period_start", "basis"),
        CheckConstraint("basis IN ('invoiced', 'collected')", name="basis_valid"),
        CheckConstraint("state IN ('draft', 'approved', 'settled')", name="state_valid"),
        CheckConstraint("net_amount >= 0", name="net_not_negative"),
        CheckConstraint("(payer_party_id IS NULL) = (net_amount = 0)", name="payer_only_when_owed"),
        CheckConstraint(
            "(state = 'settled') = (settled_at IS NOT NULL AND payment_reference IS NOT NULL)",
            name="settled_has_reference",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    state: Mapped[str] = mapped_column(String(10), default=StatementState.DRAFT.value)
    payer_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    payee_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    net_amount: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal(0))
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    csv: Mapped[str] = mapped_column(Text, deferred=True)
    csv_sha256: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    built_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_by: Mapped[str | None] = mapped_column(String(200))
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    # Built while its month was still open in either party's calendar: it cannot be approved.
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # SHA-256 of what the figures were built from (documents_fingerprint): stale when it differs.
    documents_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # The agreement's settlement terms: the net is due `settlement_terms_days` after month end,
    # to the receiving party's account as it stood when the statement was built.
    settlement_terms_days: Mapped[int | None] = mapped_column(Integer)
    due_date: Mapped[date | None] = mapped_column(Date)
    pay_to: Mapped[str | None] = mapped_column(Text)

    payer: Mapped[Party | None] = relationship(foreign_keys=[payer_party_id])
    payee: Mapped[Party | None] = relationship(foreign_keys=[payee_party_id])
    figures: Mapped[list[StatementFigure]] = relationship(
        back_populates="statement", cascade="all, delete-orphan", order_by="StatementFigure.id"
    )
    withheld: Mapped[list[StatementWithheld]] = relationship(
        back_populates="statement", cascade="all, delete-orphan", order_by="StatementWithheld.id"
    )
    approvals: Mapped[list[StatementApproval]] = relationship(
        back_populates="statement", cascade="all, delete-orphan", order_by="StatementApproval.id"
    )

    @property
    def month(self) -> str:
        return f"{self.period_start:%Y-%m}"


class StatementFigure(Base):
    """One issuer's part of a statement: what it billed and what of it is the other party's."""

    __tablename__ = "statement_figures"
    __table_args__ = (UniqueConstraint("statement_id", "issuer_party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("settlement_statements.id", ondelete="CASCADE"), index=True
    )
    issuer_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    other_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    billed: Mapped[Decimal] = mapped_column(AMOUNT)
    issuer_share: Mapped[Decimal] = mapped_column(AMOUNT)
    other_share: Mapped[Decimal] = mapped_column(AMOUNT)
    line_count: Mapped[int] = mapped_column(Integer)

    statement: Mapped[SettlementStatement] = relationship(back_populates="figures")
    issuer: Mapped[Party] = relationship(foreign_keys=[issuer_party_id])
    other_party: Mapped[Party] = relationship(foreign_keys=[other_party_id])


class StatementWithheld(Base):
    """An invoice left out of a statement because it was disputed when the statement was built."""

    __tablename__ = "statement_withheld"
    __table_args__ = (UniqueConstraint("statement_id", "invoice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("settlement_statements.id", ondelete="CASCADE"), index=True
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    billed: Mapped[Decimal] = mapped_column(AMOUNT)
    reason: Mapped[str] = mapped_column(Text, default="")

    statement: Mapped[SettlementStatement] = relationship(back_populates="withheld")
    invoice: Mapped[Invoice] = relationship()


class StatementApproval(Base):
    """A party's approval of a statement, by a finance user of that party (or an admin)."""

    __tablename__ = "statement_approvals"
    __table_args__ = (UniqueConstraint("statement_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("settlement_statements.id", ondelete="CASCADE"), index=True
    )
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    approved_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())

    statement: Mapped[SettlementStatement] = relationship(back_populates="approvals")
    party: Mapped[Party] = relationship()


class FrozenStatementError(ConflictError):
    """An approved statement only moves on to settled; a settled one never changes."""


# What may still change on an approved statement: its settlement.
_SETTLING = frozenset({"state", "settled_at", "settled_by", "payment_reference"})


def _state_before(statement: SettlementStatement) -> str:
    history = inspect(statement).attrs.state.history
    return str(history.deleted[0] if history.deleted else statement.state)


@event.listens_for(SettlementStatement, "before_update")
def _refuse_changing_a_closed_statement(
    _mapper: Any, _connection: Any, statement: SettlementStatement
) -> None:
    was = _state_before(statement)
    if was == StatementState.DRAFT.value:
        return
    state = inspect(statement)
    changed = {
        attr.key
        for attr in state.mapper.column_attrs
        if state.attrs[attr.key].history.has_changes()
    }
    if was == StatementState.SETTLED.value and changed:
        raise FrozenStatementError(
            N_("the %(month)s statement is settled: it never changes"), month=statement.month
        )
    if changed - _SETTLING:
        raise FrozenStatementError(
            N_("the %(month)s statement is approved: %(columns)s cannot change"),
            month=statement.month,
            columns=", ".join(sorted(changed - _SETTLING)),
        )


@event.listens_for(SettlementStatement, "before_delete")
def _refuse_deleting_a_closed_statement(
    _mapper: Any, _connection: Any, statement: SettlementStatement
) -> None:
    if _state_before(statement) != StatementState.DRAFT.value:
        raise FrozenStatementError(
            N_("the %(month)s statement is %(state)s"), month=statement.month, state=statement.state
        )


@event.listens_for(StatementFigure, "before_insert")
@event.listens_for(StatementFigure, "before_update")
@event.listens_for(StatementFigure, "before_delete")
@event.listens_for(StatementWithheld, "before_insert")
@event.listens_for(StatementWithheld, "before_update")
@event.listens_for(StatementWithheld, "before_delete")
@event.listens_for(StatementApproval, "before_insert")
@event.listens_for(StatementApproval, "before_update")
@event.listens_for(StatementApproval, "before_delete")
def _refuse_changing_a_closed_statements_rows(_mapper: Any, connection: Any, row: Any) -> None:
    parent = row.__dict__.get("statement")
    if parent is not None:
        was: str | None = _state_before(parent)
    else:
        was = connection.execute(
            select(SettlementStatement.state).where(SettlementStatement.id == row.statement_id)
        ).scalar_one_or_none()
    if was is not None and was != StatementState.DRAFT.value:
        raise FrozenStatementError(
            N_("the statement is %(state)s: its figures never change"), state=was
        )
