"""Loading what settlement and revenue recognition read: issued lines, statements."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.calendar import billing_period
from billing.errors import N_, InvalidRequestError, NotFoundError, Text
from billing.invoicing.issuing import stored_details
from billing.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from billing.invoicing.queries import rate_between
from billing.money import Money
from billing.settlement.models import SettlementStatement
from billing.settlement.rules import USD, usd_rate_of


class SettlementError(InvalidRequestError):
    pass


@dataclass(frozen=True, slots=True)
class IssuedLine:
    line: InvoiceLine
    invoice: Invoice
    usd_rate: Decimal

    @property
    def amount(self) -> Money:
        return Money(self.line.amount or Decimal(0), self.invoice.currency)

    def parts(self) -> dict[int, Money]:
        """Each party's stored part; a line issued with no split stays the issuer's."""
        currency = self.invoice.currency
        line = self.line
        if line.first_party_id is None or line.second_party_id is None:
            return {self.invoice.issuer_party_id: self.amount}
        return {
            line.first_party_id: Money(line.first_party_amount or Decimal(0), currency),
            line.second_party_id: Money(line.second_party_amount or Decimal(0), currency),
        }


def customer_name(invoice: Invoice) -> str:
    """The customer's name as the document states it (frozen at issue), not today's."""
    if invoice.customer_details:
        return stored_details(invoice.customer_details).name
    return invoice.customer.legal_name


def issued_lines(session: Session, first: date, last: date) -> list[IssuedLine]:
    """Every line of the invoices and credit notes issued from `first` to `last`, in issue order,
    with the USD rate each converts at."""
    rows = session.execute(
        select(InvoiceLine, Invoice)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.status != InvoiceStatus.DRAFT.value,
            Invoice.issue_date >= first,
            Invoice.issue_date <= last,
            InvoiceLine.amount.is_not(None),
        )
        .options(selectinload(Invoice.customer), selectinload(Invoice.issuer))
        .order_by(Invoice.issue_date, Invoice.number, InvoiceLine.position)
    ).all()
    rates: dict[int, Decimal] = {}
    lines = []
    for line, invoice in rows:
        if invoice.id not in rates:
            rates[invoice.id] = invoice_usd_rate(session, invoice)
        lines.append(IssuedLine(line, invoice, rates[invoice.id]))
    return lines


def invoice_usd_rate(session: Session, invoice: Invoice) -> Decimal:
    """The rate stored on the invoice, or (its prices being in its own currency) the day's."""
    stored = usd_rate_of(invoice.currency, invoice.fx_base, invoice.fx_rate)
    if stored is not None:
        return stored
    day = invoice.issue_date or date.min
    found = rate_between(session, USD, invoice.currency, day, via=invoice.issuer.local_currency)
    if found is None:
        raise SettlementError(
            N_(
                "%(number)s is in %(currency)s and stores no USD rate, and there is no "
                "USD/%(currency)s rate on or before %(day)s: enter one first"
            ),
            {
                "fx": [
                    Text(
                        N_("Missing rate USD/%(currency)s for %(day)s."),
                        currency=invoice.currency,
                        day=day.isoformat(),
                    )
                ]
            },
            number=invoice.number,
            currency=invoice.currency,
            day=day.isoformat(),
        )
    return found.rate


def _month_documents(session: Session, first: date, last: date) -> list[Invoice]:
    return list(
        session.execute(
            select(Invoice)
            .where(
                Invoice.status != InvoiceStatus.DRAFT.value,
                Invoice.issue_date >= first,
                Invoice.issue_date <= last,
            )
            .order_by(Invoice.id)
        ).scalars()
    )


def _cents(value: Decimal | None) -> str:
    return format((value or Decimal(0)).quantize(Decimal("0.01")), "f")


def documents_fingerprint(session: Session, first: date, last: date, basis: str) -> str:
    """SHA-256 of what a statement of `first`..`last` is built from: every invoice and credit
    note issued in the month, what of it is credited (a credit note dated later counts in its
    own month, but the month's document was credited all the same), whether it is disputed, and
    (basis collected) what is paid of it. A draft whose stored fingerprint differs is stale: a
    document was issued or credited, or a dispute opened or closed, after it was built."""
    digest = hashlib.sha256(basis.encode())
    for invoice in _month_documents(session, first, last):
        # Amounts as cents, however the backend or a pending object holds them (0 vs 0.00).
        paid = _cents(invoice.paid_total) if basis == "collected" else ""
        disputed = "disputed" if invoice.disputed_at is not None else ""
        credited = _cents(invoice.credited_total)
        digest.update(f"|{invoice.id},{invoice.number},{credited},{disputed},{paid}".encode())
    return digest.hexdigest()


def documents_not_in(session: Session, statement: SettlementStatement) -> list[Invoice]:
    """Documents issued in the statement's month that it does not count (issued after it was
    built), in issue order."""
    included = set(statement_numbers(statement.csv))
    last = billing_period(statement.period_start).end
    return [
        invoice
        for invoice in _month_documents(session, statement.period_start, last)
        if invoice.number not in included
    ]


def is_stale(session: Session, statement: SettlementStatement) -> bool:
    """A draft built from other documents than the month now has (see documents_fingerprint)."""
    if statement.state != "draft":
        return False
    last = billing_period(statement.period_start).end
    current = documents_fingerprint(session, statement.period_start, last, statement.basis)
    return statement.documents_fingerprint != current


def list_statements(session: Session) -> list[SettlementStatement]:
    return list(
        session.execute(
            select(SettlementStatement)
            .options(selectinload(SettlementStatement.approvals))
            .order_by(SettlementStatement.period_start.desc(), SettlementStatement.basis)
        ).scalars()
    )


def get_statement(
    session: Session, statement_id: int, *, lock: bool = False
) -> SettlementStatement:
    """The statement; with `lock`, its row locked for the rest of the unit of work (PostgreSQL:
    FOR UPDATE; SQLite serialises writing units of work) and its approvals read afresh, so two
    approvals or a rebuild and an approval never act on the same state at once."""
    statement = session.get(
        SettlementStatement, statement_id, with_for_update=lock or None, populate_existing=lock
    )
    if statement is None:
        raise NotFoundError(N_("no settlement statement %(id)s"), id=statement_id)
    if lock:
        session.expire(statement, ["approvals", "figures", "withheld"])
    return statement


def statement_for(session: Session, period_start: date, basis: str) -> SettlementStatement | None:
    return session.execute(
        select(SettlementStatement).where(
            SettlementStatement.period_start == period_start, SettlementStatement.basis == basis
        )
    ).scalar_one_or_none()


# The statement CSV: a head of `name,value` rows (status first), an empty row, then the lines.
def split_statement_csv(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A stored statement CSV as its head (name -> value) and its line rows."""
    rows = list(csv.reader(io.StringIO(text)))
    if [] not in rows:  # built before the head existed: lines only
        head_rows: list[list[str]] = []
        table = rows
    else:
        blank = rows.index([])
        head_rows, table = rows[:blank], rows[blank + 1 :]
    head = {row[0]: (row[1] if len(row) > 1 else "") for row in head_rows if row}
    if not table:
        return head, []
    header, *body = table
    return head, [dict(zip(header, row, strict=False)) for row in body]


def statement_numbers(text: str) -> Iterator[str]:
    """The document numbers a stored statement CSV lists."""
    for row in split_statement_csv(text)[1]:
        yield row.get("invoice", "")
