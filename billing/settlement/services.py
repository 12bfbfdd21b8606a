"""Settlement statements (SPEC 5): build a month's, approve it per party, mark it settled.

Services take a session and never commit. Each change is audited.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.agreement.queries import parties_in_order, version_on
from billing.agreement.split import SplitExplanation
from billing.audit import record
from billing.calendar import Period, billing_period, local_date
from billing.csvfile import csv_writer
from billing.errors import N_, ConflictError, InvalidRequestError, PermissionDeniedError
from billing.events import record_event
from billing.invoicing.runs import parse_period
from billing.invoicing.splits import EXPLANATION_COLUMNS, explain_lines, explanation_cells
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
from billing.settlement.queries import (
    IssuedLine,
    customer_name,
    documents_fingerprint,
    get_statement,
    is_stale,
    issued_lines,
    split_statement_csv,
    statement_for,
)
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
    *EXPLANATION_COLUMNS,
)

STALE = "Stale — rebuild before approval"


def parse_basis(text: str) -> str:
    value = (text or "").strip()
    if value not in {b.value for b in Basis}:
        raise InvalidRequestError(
            N_("%(value)s is not a settlement basis: choose invoiced or collected"),
            {"basis": [N_("Choose invoiced or collected.")]},
            value=repr(value[:20]),
        )
    return value


def statement_period(text: str | Period, today: date) -> Period:
    """The month to settle: one that has begun by `today` (the latest of the parties' dates)."""
    period = parse_period(text) if isinstance(text, str) else text
    if period.start > today:
        raise InvalidRequestError(
            N_("%(month)s has not begun: nothing is issued in it yet"),
            {"period": [N_("Choose this month or an earlier one.")]},
            month=f"{period.start:%Y-%m}",
        )
    return period


def open_in(month: Period, parties: Sequence[Party], now: datetime) -> list[Party]:
    """The parties in whose calendar `month` has not ended yet at `now` (their local date)."""
    return [p for p in parties if local_date(now, p.time_zone) <= month.end]


def pay_to_text(party: Party) -> str:
    """The account a party is paid to: its legal name and the bank details on its invoices."""
    return "\n".join(t for t in (party.legal_name, party.bank_details.strip()) if t)


@dataclass(frozen=True, slots=True)
class Head:
    """What a statement states above its lines: its status, who pays whom, how much, by when,
    to which account."""

    status: str  # provisional | final
    month: str
    basis: str
    payer: str
    payee: str
    net_amount: Decimal
    settlement_terms_days: int
    due_date: date
    pay_to: str

    def rows(self) -> list[tuple[str, object]]:
        return [
            ("status", self.status),
            ("month", self.month),
            ("basis", self.basis),
            ("currency", "USD"),
            ("payer", self.payer),
            ("payee", self.payee),
            ("net_amount", self.net_amount),
            ("settlement_terms_days", self.settlement_terms_days),
            ("due_date", self.due_date.isoformat()),
            ("pay_to", self.pay_to),
        ]


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
    head: Head,
    lines: Sequence[IssuedLine],
    values: Sequence[LineValue],
    parties: Sequence[Party],
    explained: dict[int, SplitExplanation],
) -> str:
    """The head (status first, who pays whom, by when, to which account), an empty row, then
    every line with its split steps and USD figures, so the other party can recompute each."""
    codes = {p.id: p.code for p in parties}
    ids = [p.id for p in parties]
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerows(head.rows())
    writer.writerow(())
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
                customer_name(invoice),
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
                *explanation_cells(explained.get(line.id), codes).values(),
            )
        )
    return out.getvalue()


def csv_rows(text: str) -> list[dict[str, str]]:
    """A statement's stored CSV as its line rows (the statement page shows them)."""
    return split_statement_csv(text)[1]


def _summary(statement: SettlementStatement) -> dict[str, object]:
    return {
        "period": statement.month,
        "basis": statement.basis,
        "state": statement.state,
        "provisional": statement.provisional,
        "net_amount": statement.net_amount,
        "payer_party_id": statement.payer_party_id,
        "payee_party_id": statement.payee_party_id,
        "due_date": statement.due_date.isoformat() if statement.due_date else None,
        "line_count": statement.line_count,
        "csv_sha256": statement.csv_sha256,
    }


def build_statement(
    session: Session, period: str | Period, basis: str, *, actor: Seller, now: datetime
) -> SettlementStatement:
    """Build (or rebuild, while a draft) the statement of `period` on `basis`.

    A month still open in either party's calendar gives a provisional statement."""
    parties = parties_in_order(session)
    if len(parties) != 2:
        raise InvalidRequestError(N_("a settlement is between exactly two parties"))
    latest_today = max(local_date(now, p.time_zone) for p in parties)
    month = statement_period(period, latest_today)
    basis = parse_basis(basis)
    existing = statement_for(session, month.start, basis)
    if existing is not None:
        existing = get_statement(session, existing.id, lock=True)
    if existing is not None and existing.state != StatementState.DRAFT.value:
        raise ConflictError(
            N_("the %(month)s statement (%(basis)s) is %(state)s: it cannot be rebuilt"),
            month=f"{month.start:%Y-%m}",
            basis=basis,
            state=existing.state,
        )
    terms_days = version_on(session, month.end).settlement_terms_days
    lines = issued_lines(session, month.start, month.end)
    values = [_line_value(item, basis) for item in lines]
    result = settle([p.id for p in parties], values)
    by_id = {p.id: p for p in parties}
    payee = by_id.get(result.net.payee) if result.net.payee is not None else None
    payer = by_id.get(result.net.payer) if result.net.payer is not None else None
    head = Head(
        status="provisional" if open_in(month, parties, now) else "final",
        month=f"{month.start:%Y-%m}",
        basis=basis,
        payer=payer.code if payer else "",
        payee=payee.code if payee else "",
        net_amount=result.net.amount.amount,
        settlement_terms_days=terms_days,
        due_date=month.end + timedelta(days=terms_days),
        pay_to=pay_to_text(payee) if payee else "",
    )
    explained = explain_lines(
        session, [(item.line, item.invoice.issuer_party_id) for item in lines]
    )
    text = statement_csv(head, lines, values, parties, explained)
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
    statement.provisional = head.status == "provisional"
    statement.settlement_terms_days = head.settlement_terms_days
    statement.due_date = head.due_date
    statement.pay_to = head.pay_to or None
    statement.documents_fingerprint = documents_fingerprint(session, month.start, month.end, basis)
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


class StatementNotReadyError(ConflictError):
    """A statement that cannot be approved yet: its month is open, or it is stale."""


def _acting_party(parties: Sequence[Party], actor: Seller, party_code: str | None) -> Party:
    """The party `actor` acts for: their own, always (an administrator too)."""
    own = next((p for p in parties if p.id == actor.party_id), None)
    if own is None:
        raise PermissionDeniedError(
            N_("a statement is approved and settled by a user of a party, for that party")
        )
    if party_code and party_code != own.code:
        raise PermissionDeniedError(
            N_("you act for %(party)s: each party approves a statement for itself only"),
            party=own.code,
        )
    return own


def check_approvable(session: Session, statement: SettlementStatement, now: datetime) -> None:
    """Refuse approving a statement whose month is open in either calendar, that was built
    while it was (provisional), or that is stale."""
    parties = parties_in_order(session)
    month = billing_period(statement.period_start)
    still_open = open_in(month, parties, now)
    if still_open:
        who = ", ".join(f"{p.code} ({p.time_zone})" for p in still_open)
        raise StatementNotReadyError(
            N_(
                "the %(month)s statement is provisional: %(month)s has not ended "
                "in the calendar of %(who)s; it can be approved once the month has ended for both "
                "parties"
            ),
            month=statement.month,
            who=who,
        )
    if statement.provisional:
        raise StatementNotReadyError(
            N_(
                "the %(month)s statement is provisional: it was built while "
                "%(month)s was still open; rebuild it before approval"
            ),
            month=statement.month,
        )
    if is_stale(session, statement):
        raise StatementNotReadyError(
            N_(
                "the %(month)s statement is stale: documents of %(month)s were "
                "issued, credited or disputed after it was built; rebuild it before approval"
            ),
            month=statement.month,
        )


def approve_statement(
    session: Session,
    statement_id: int,
    *,
    actor: Seller,
    now: datetime,
    party_code: str | None = None,
) -> SettlementStatement:
    """A party's approval, by a finance user or an administrator of that party, for that party
    only (`actor.party_id`; `party_code`, when given, must name it). Both parties' approvals
    make the statement approved. A provisional or stale statement is refused."""
    statement = get_statement(session, statement_id, lock=True)
    parties = parties_in_order(session)
    party = _acting_party(parties, actor, party_code)
    if statement.state != StatementState.DRAFT.value:
        raise ConflictError(
            N_("the %(month)s statement is already %(state)s"),
            month=statement.month,
            state=statement.state,
        )
    if any(a.party_id == party.id for a in statement.approvals):
        raise ConflictError(
            N_("%(party)s has already approved the %(month)s statement"),
            party=party.code,
            month=statement.month,
        )
    check_approvable(session, statement, now)
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
    # The other party's finance hear of it (SPEC 13): one event per party's approval.
    record_event(
        session,
        "settlement.approved",
        subject_type="statement",
        subject_id=statement.id,
        customer_id=None,
        party_id=party.id,
        key=f"settlement.approved:statement:{statement.id}:{party.code}",
        now=now,
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
    """The paying party records that it paid the net, with the payment's reference, once both
    parties have approved (when the parties are even, either party closes it)."""
    reference = (payment_reference or "").strip()
    if not reference or len(reference) > 200:
        raise InvalidRequestError(
            N_("a settlement needs the payment's reference (up to 200 characters)"),
            {"payment_reference": [N_("Enter the payment's reference, up to 200 characters.")]},
        )
    statement = get_statement(session, statement_id, lock=True)
    if statement.state != StatementState.APPROVED.value:
        raise ConflictError(
            N_(
                "the %(month)s statement is %(state)s: only a statement both parties approved is settled"
            ),
            month=statement.month,
            state=statement.state,
        )
    party = _acting_party(parties_in_order(session), actor, None)
    if statement.payer_party_id is not None and statement.payer_party_id != party.id:
        if not statement.payer:
            raise PermissionDeniedError(
                N_(
                    "the paying party pays the %(month)s net: only the paying party marks it settled"
                ),
                month=statement.month,
            )
        raise PermissionDeniedError(
            N_("%(payer)s pays the %(month)s net: only %(payer)s marks it settled"),
            payer=statement.payer.code,
            month=statement.month,
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
