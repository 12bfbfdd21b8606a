"""The history of one invoice, payment, settlement statement, contract or service, and the
audit log's pages, as sentences with names (SPEC 10): the entries that point at the object (and
for an invoice its credit notes and the payments applied to it; for a contract its quote and its
services), and the names their ids stand for, loaded in one query per kind."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from billing.access.models import ApiKey, User
from billing.audit import AuditEntry
from billing.calendar import zone
from billing.invoicing.models import BillingRun, Invoice
from billing.money import Money, format_money
from billing.parties.models import Customer, Party
from billing.payments.models import Payment, PaymentApplication
from billing.reports.words import Entry, Names, describe
from billing.sales.models import Contract, Quote, Service
from billing.settlement.models import SettlementStatement

HISTORY_LIMIT = 200  # the newest entries a page shows of one object's history
_EMAIL = re.compile(r"[^\s()]+@[^\s()]+")


@dataclass(frozen=True, slots=True)
class HistoryLine:
    id: int
    at: datetime  # UTC
    local: str  # the viewer's party's time: "2026-11-25 13:00"
    time_zone: str
    sentence: str
    action: str


def entry_of(row: AuditEntry) -> Entry:
    return Entry(row.actor, row.action, row.entity_type, row.entity_id, row.before, row.after)


def _ids(values: Iterable[object]) -> list[int]:
    found = set()
    for value in values:
        text = str(value)
        if text.isascii() and text.isdigit() and len(text) < 10:
            found.add(int(text))
    return sorted(found)


def _money(amount: Decimal, currency: str) -> str:
    return format_money(Money(amount, currency), with_code=True)


def names_for(session: Session, rows: Sequence[AuditEntry]) -> Names:
    """The names the entries' actors and ids stand for: one query per kind of thing named."""
    by_type: dict[str, set[str]] = defaultdict(set)
    customer_ids: set[object] = set()
    emails: set[str] = set()
    for row in rows:
        by_type[row.entity_type].add(row.entity_id)
        emails.update(_EMAIL.findall(row.actor))
        for values in (row.before or {}, row.after or {}):
            if "customer_id" in values:
                customer_ids.add(values["customer_id"])
            if row.action == "payment.apply" and "payment" in values:
                by_type["payment"].add(str(values["payment"]))
    entities: dict[tuple[str, str], str] = {}
    people: dict[str, str] = {}
    parties = {p.id: p.code for p in session.execute(select(Party)).scalars()}
    if emails:
        for user in session.execute(select(User).where(User.email.in_(sorted(emails)))).scalars():
            where = (
                f"portal, {user.customer.legal_name}"
                if user.customer is not None
                else f"{parties.get(user.party_id or 0, '')} {user.role}".strip()
            )
            people[user.email] = f"{user.name} ({where})" if user.customer is None else user.name
    if ids := _ids(by_type.get("invoice", ())):
        rows_ = session.execute(
            select(Invoice.id, Invoice.number, Invoice.kind, Customer.legal_name)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Invoice.id.in_(ids))
        )
        for invoice_id, number, kind, customer in rows_:
            word = "credit note" if kind == "credit_note" else "invoice"
            entities[("invoice", str(invoice_id))] = (
                f"{word} {number}" if number else f"the draft invoice of {customer}"
            )
    if ids := _ids(by_type.get("payment", ())):
        for payment_id, amount, currency, customer in session.execute(
            select(Payment.id, Payment.amount, Payment.currency, Customer.legal_name)
            .join(Customer, Customer.id == Payment.customer_id)
            .where(Payment.id.in_(ids))
        ):
            entities[("payment", str(payment_id))] = (
                f"the payment of {_money(amount, currency)} from {customer}"
            )
    if ids := _ids([*by_type.get("customer", ()), *customer_ids]):
        customers = {
            row_id: name
            for row_id, name in session.execute(
                select(Customer.id, Customer.legal_name).where(Customer.id.in_(ids))
            )
        }
    else:
        customers = {}
    for customer_id, name in customers.items():
        entities[("customer", str(customer_id))] = f"customer {name}"
    for kind, model, word in (("contract", Contract, "contract"), ("quote", Quote, "quote")):
        if ids := _ids(by_type.get(kind, ())):
            for row_id, number in session.execute(
                select(model.id, model.number).where(model.id.in_(ids))
            ):
                entities[(kind, str(row_id))] = f"{word} {number}"
    if ids := _ids(by_type.get("user", ())):
        for user_id, name, email in session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(ids))
        ):
            entities[("user", str(user_id))] = f"the user {name} ({email})"
    if ids := _ids(by_type.get("settlement_statement", ())):
        for statement_id, start, basis in session.execute(
            select(
                SettlementStatement.id, SettlementStatement.period_start, SettlementStatement.basis
            ).where(SettlementStatement.id.in_(ids))
        ):
            entities[("settlement_statement", str(statement_id))] = (
                f"the settlement statement of {start:%B %Y} ({basis})"
            )
    if ids := _ids(by_type.get("billing_run", ())):
        for run_id, start, issuer in session.execute(
            select(BillingRun.id, BillingRun.period_start, BillingRun.issuer_party_id).where(
                BillingRun.id.in_(ids)
            )
        ):
            who = parties.get(issuer, "every issuer") if issuer else "every issuer"
            entities[("billing_run", str(run_id))] = f"the billing run of {start:%B %Y} for {who}"
    if ids := _ids(by_type.get("api_key", ())):
        for key_id, name, customer in session.execute(
            select(ApiKey.id, ApiKey.name, Customer.legal_name)
            .join(Customer, Customer.id == ApiKey.customer_id)
            .where(ApiKey.id.in_(ids))
        ):
            entities[("api_key", str(key_id))] = f"the API key “{name}” of {customer}"
    for circuit in by_type.get("service", ()):
        entities[("service", circuit)] = f"service {circuit}"
    return Names(people=people, entities=entities, customers=customers, parties=parties)


def history_lines(
    session: Session, rows: Sequence[AuditEntry], time_zone: str
) -> list[HistoryLine]:
    """The entries as sentences, their times in `time_zone` (the viewer's party's)."""
    names = names_for(session, rows)
    where = zone(time_zone)
    return [
        HistoryLine(
            id=row.id,
            at=row.at,
            local=f"{row.at.astimezone(where):%Y-%m-%d %H:%M}",
            time_zone=time_zone,
            sentence=describe(entry_of(row), names),
            action=row.action,
        )
        for row in rows
    ]


def _entries(session: Session, *clauses: Any) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(or_(*clauses))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return list(session.execute(stmt).scalars())


def _about(entity_type: str, ids: Iterable[object]) -> Any:
    return and_(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_([str(i) for i in ids])
    )


def invoice_history(session: Session, invoice_id: int, time_zone: str) -> list[HistoryLine]:
    """The invoice's entries (its lines, issue, disputes, reminders, payments applied), its
    credit notes' and those of the payments applied to it, newest first."""
    notes = session.execute(
        select(Invoice.id).where(Invoice.credited_invoice_id == invoice_id)
    ).scalars()
    payments = session.execute(
        select(PaymentApplication.payment_id).where(PaymentApplication.invoice_id == invoice_id)
    ).scalars()
    rows = _entries(
        session, _about("invoice", [invoice_id, *notes]), _about("payment", set(payments))
    )
    return history_lines(session, rows, time_zone)


def payment_history(session: Session, payment_id: int, time_zone: str) -> list[HistoryLine]:
    """The payment's entries and what it was applied to, newest first."""
    invoices = set(
        session.execute(
            select(PaymentApplication.invoice_id).where(PaymentApplication.payment_id == payment_id)
        ).scalars()
    )
    rows = [
        row
        for row in _entries(
            session,
            _about("payment", [payment_id]),
            and_(_about("invoice", invoices), AuditEntry.action == "payment.apply"),
        )
        if row.entity_type == "payment" or str((row.after or {}).get("payment")) == str(payment_id)
    ]
    return history_lines(session, rows, time_zone)


def statement_history(session: Session, statement_id: int, time_zone: str) -> list[HistoryLine]:
    rows = _entries(session, _about("settlement_statement", [statement_id]))
    return history_lines(session, rows, time_zone)


def contract_history(session: Session, contract_id: int, time_zone: str) -> list[HistoryLine]:
    """The contract's entries, the quote it came from and its services', newest first."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        return []
    circuits = session.execute(
        select(Service.circuit_id).where(Service.contract_id == contract_id)
    ).scalars()
    rows = _entries(
        session,
        _about("contract", [contract_id]),
        _about("quote", [contract.quote_id]),
        _about("service", list(circuits)),
    )
    return history_lines(session, rows, time_zone)


def service_history(session: Session, circuit_id: str, time_zone: str) -> list[HistoryLine]:
    """The service's entries and the acceptance of the quote that ordered it, newest first."""
    quotes = session.execute(
        select(Contract.quote_id)
        .join(Service, Service.contract_id == Contract.id)
        .where(Service.circuit_id == circuit_id)
    ).scalars()
    rows = _entries(
        session,
        _about("service", [circuit_id]),
        and_(_about("quote", list(quotes)), AuditEntry.action == "quote.accept"),
    )
    return history_lines(session, rows, time_zone)
