"""Settlement statements (SPEC 5): build a month's, approve it per party, mark it settled.

Services take a session and never commit. Each change is audited.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.agreement.queries import parties_in_order
from billing.audit import record
from billing.calendar import Period
from billing.errors import ConflictError, InvalidRequestError, PermissionDeniedError
from billing.invoicing.runs import parse_period
from billing.money import Money
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.settlement.models import (
    Basis,
    SettlementStatement,
    StatementApproval,
    StatementFigure,
    StatementState,
    StatementWithheld,
)
from billing.settlement.queries import IssuedLine, get_statement, issued_lines, statement_for
from billing.settlement.rules import (
    LineValue,
    Settlement,
    line_in_usd,
    other_party,
    paid_fraction,
    settle,
)
from billing.text import decimal_text

CSV_COLUMNS = (
    "invoice",
    "kind",
    "issue_date",
    "issuer",
    "customer",
    "line",
    "description",
    "charge_kind",
    "period_start",
    "period_end",
    "currency",
    "amount",
    "first_party",
    "first_party_amount",
    "second_party",
    "second_party_amount",
    "agreement_version",
    "usd_rate",
    "counted_fraction",
    "amount_usd",
    "issuer_share_usd",
    "other_party_share_usd",
    "withheld",
)


def parse_basis(text: str) -> str:
    value = (text or "").strip()
    if value not in {b.value for b in Basis}:
        raise InvalidRequestError(
            f"{value[:20]!r} is not a settlement basis: choose invoiced or collected",
            {"basis": ["Choose invoiced or collected."]},
        )
    return value


def statement_period(text: str | Period, today: date) -> Period:
    period = parse_period(text) if isinstance(text, str) else text
    if period.start > today:
        raise InvalidRequestError(
            f"{period.start:%Y-%m} has not begun: nothing is issued in it yet",
            {"period": ["Choose this month or an earlier one."]},
        )
    return period


def _line_value(item: IssuedLine, basis: str) -> LineValue:
    invoice = item.invoice
    if basis == Basis.COLLECTED.value:
        fraction = (
            Decimal(0)
            if invoice.is_credit_note
            else paid_fraction(invoice.total, invoice.paid_total)
        )
    else:
        fraction = Decimal(1)
    return LineValue(
        invoice_id=invoice.id,
        issuer_id=invoice.issuer_party_id,
        amount=item.amount,
        parts=item.parts(),
        usd_rate=item.usd_rate,
        paid_fraction=fraction,
        disputed=invoice.disputed_at is not None,
    )


def statement_csv(
    lines: Sequence[IssuedLine], values: Sequence[LineValue], parties: Sequence[Party]
) -> str:
    """Every line with its split and USD figures, so the other party can recompute each one."""
    codes = {p.id: p.code for p in parties}
    ids = [p.id for p in parties]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item, value in zip(lines, values, strict=True):
        line, invoice = item.line, item.invoice
        usd = line_in_usd(value, other_party(ids, invoice.issuer_party_id))
        parts = item.parts()
        first, second = ids
        writer.writerow(
            (
                invoice.number,
                invoice.kind,
                invoice.issue_date.isoformat() if invoice.issue_date else "",
                codes[invoice.issuer_party_id],
                invoice.customer.legal_name,
                line.position,
                line.description,
                line.charge_kind or "",
                line.period_start.isoformat(),
                line.period_end.isoformat(),
                invoice.currency,
                str(item.amount.rounded().amount),
                codes[first],
                str(parts.get(first, Money.zero(invoice.currency)).rounded().amount),
                codes[second],
                str(parts.get(second, Money.zero(invoice.currency)).rounded().amount),
                line.split_version.name if line.split_version else "",
                decimal_text(value.usd_rate),
                decimal_text(value.paid_fraction),
                str(usd.billed.amount),
                str(usd.issuer_share.amount),
                str(usd.other_share.amount),
                "disputed" if value.disputed else "",
            )
        )
    return out.getvalue()


def csv_rows(text: str) -> list[dict[str, str]]:
    """A statement's stored CSV as rows (the statement page shows them)."""
    return list(csv.DictReader(io.StringIO(text)))


def _summary(statement: SettlementStatement) -> dict[str, object]:
    return {
        "period": statement.month,
        "basis": statement.basis,
        "state": statement.state,
        "net_amount": statement.net_amount,
        "payer_party_id": statement.payer_party_id,
        "payee_party_id": statement.payee_party_id,
        "line_count": statement.line_count,
        "csv_sha256": statement.csv_sha256,
    }


def build_statement(
    session: Session, period: str | Period, basis: str, *, actor: Seller, now: datetime
) -> SettlementStatement:
    """Build (or rebuild, while a draft) the statement of `period` on `basis`."""
    month = statement_period(period, now.date())
    basis = parse_basis(basis)
    existing = statement_for(session, month.start, basis)
    if existing is not None and existing.state != StatementState.DRAFT.value:
        raise ConflictError(
            f"the {month.start:%Y-%m} statement ({basis}) is {existing.state}: it cannot be rebuilt"
        )
    parties = parties_in_order(session)
    if len(parties) != 2:
        raise InvalidRequestError("a settlement is between exactly two parties")
    lines = issued_lines(session, month.start, month.end)
    values = [_line_value(item, basis) for item in lines]
    result = settle([p.id for p in parties], values)
    text = statement_csv(lines, values, parties)
    before = None
    if existing is None:
        statement = SettlementStatement(period_start=month.start, basis=basis)
        session.add(statement)
    else:
        statement = existing
        before = _summary(statement)
        statement.figures.clear()
        statement.withheld.clear()
        statement.approvals.clear()
        session.flush()
    _fill(statement, result, text, lines, actor=actor, now=now)
    session.flush()
    record(
        session,
        actor=actor.label,
        action="settlement.rebuilt" if before else "settlement.built",
        entity_type="settlement_statement",
        entity_id=statement.id,
        now=now,
        before=before,
        after=_summary(statement),
    )
    return statement


def _fill(
    statement: SettlementStatement,
    result: Settlement,
    text: str,
    lines: Sequence[IssuedLine],
    *,
    actor: Seller,
    now: datetime,
) -> None:
    statement.currency = "USD"
    statement.state = StatementState.DRAFT.value
    statement.payer_party_id = result.net.payer
    statement.payee_party_id = result.net.payee
    statement.net_amount = result.net.amount.amount
    statement.line_count = sum(f.lines for f in result.figures.values())
    statement.csv = text
    statement.csv_sha256 = hashlib.sha256(text.encode()).hexdigest()
    statement.built_at = now
    statement.built_by = actor.label
    statement.approved_at = None
    statement.figures = [
        StatementFigure(
            issuer_party_id=f.issuer_id,
            other_party_id=f.other_id,
            billed=f.billed.amount,
            issuer_share=f.issuer_share.amount,
            other_share=f.other_share.amount,
            line_count=f.lines,
        )
        for f in result.figures.values()
    ]
    reasons = {item.invoice.id: item.invoice.dispute_reason or "" for item in lines}
    statement.withheld = [
        StatementWithheld(invoice_id=invoice_id, billed=amount.amount, reason=reasons[invoice_id])
        for invoice_id, amount in result.withheld.items()
    ]


def approve_statement(
    session: Session,
    statement_id: int,
    *,
    actor: Seller,
    now: datetime,
    party_code: str | None = None,
) -> SettlementStatement:
    """A party's approval: finance approves for its own party only; an admin names the party.
    Both parties' approvals make the statement approved."""
    statement = get_statement(session, statement_id)
    parties = parties_in_order(session)
    by_code = {p.code: p for p in parties}
    if actor.party_id is None:
        if not party_code or party_code not in by_code:
            raise InvalidRequestError(
                "an administrator names the party they approve for",
                {"party": [f"Choose one of {', '.join(by_code)}."]},
            )
        party = by_code[party_code]
    else:
        own = next((p for p in parties if p.id == actor.party_id), None)
        if own is None or (party_code and party_code != own.code):
            raise PermissionDeniedError("finance approves a statement for its own party only")
        party = own
    if statement.state != StatementState.DRAFT.value:
        raise ConflictError(f"the {statement.month} statement is already {statement.state}")
    if any(a.party_id == party.id for a in statement.approvals):
        raise ConflictError(f"{party.code} has already approved the {statement.month} statement")
    statement.approvals.append(
        StatementApproval(party_id=party.id, approved_by=actor.label, approved_at=now)
    )
    before = _summary(statement)
    if {a.party_id for a in statement.approvals} >= {p.id for p in parties}:
        statement.state = StatementState.APPROVED.value
        statement.approved_at = now
    session.flush()
    record(
        session,
        actor=actor.label,
        action="settlement.approved",
        entity_type="settlement_statement",
        entity_id=statement.id,
        now=now,
        before=before,
        after={**_summary(statement), "approved_for": party.code},
    )
    return statement


def mark_settled(
    session: Session,
    statement_id: int,
    payment_reference: str,
    *,
    actor: Seller,
    now: datetime,
) -> SettlementStatement:
    """Record that the net was paid, with the payment's reference (approved statements only)."""
    reference = (payment_reference or "").strip()
    if not reference or len(reference) > 200:
        raise InvalidRequestError(
            "a settlement needs the payment's reference (up to 200 characters)",
            {"payment_reference": ["Enter the payment's reference, up to 200 characters."]},
        )
    statement = get_statement(session, statement_id)
    if statement.state != StatementState.APPROVED.value:
        raise ConflictError(
            f"the {statement.month} statement is {statement.state}: "
            "only an approved statement is settled"
        )
    before = _summary(statement)
    statement.state = StatementState.SETTLED.value
    statement.settled_at = now
    statement.settled_by = actor.label
    statement.payment_reference = reference
    session.flush()
    record(
        session,
        actor=actor.label,
        action="settlement.settled",
        entity_type="settlement_statement",
        entity_id=statement.id,
        now=now,
        before=before,
        after={**_summary(statement), "payment_reference": reference},
    )
    return statement


def party_names(session: Session) -> dict[int, str]:
    return {p.id: p.code for p in session.execute(select(Party)).scalars()}
