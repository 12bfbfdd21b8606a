"""Drafts, issuing and credit notes (SPEC 4).

A draft may be edited line by line or have lines deleted (a deleted charge is billed again by the
next run, from the service as it then stands). Issuing freezes it: the number is taken from the
issuer's gapless series inside the issuing transaction, the lines are converted at the issue
date's rate, tax is computed once per rate, and the PDF is rendered and stored with its SHA-256.
An issued invoice is never changed again; a credit note, with its own series and PDF, corrects it.

Only the issuer's own finance staff (or an administrator) act on its invoices: the checks are
here, so every edge gets them. Services never commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import column, select, table, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.base import ExecutableOption

from billing.agreement.queries import NoAgreementError, version_on
from billing.audit import record
from billing.calendar import Period, billing_period, due_date, local_date
from billing.db import lock_documents
from billing.errors import (
    N_,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    Text,
)
from billing.events import record_event
from billing.invoicing.charges import ONE
from billing.invoicing.document import (
    DRAFT_NUMBER,
    BillingContactNote,
    DocumentKind,
    DocumentLine,
    DocumentTax,
    FxNote,
    InvoiceDocument,
    PartyDetails,
)
from billing.invoicing.fx import FxRate, convert
from billing.invoicing.models import (
    FrozenInvoiceError,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
    TaxRuleRecord,
)
from billing.invoicing.queries import (
    credit_notes_of,
    get_invoice,
    rate_between,
    tax_rule_records,
    tax_rule_value,
)
from billing.invoicing.splits import store_mirror, store_splits
from billing.invoicing.tax import invoice_tax, reversed_tax, tax_rule_for
from billing.money import Money, total
from billing.parties.customers import Seller
from billing.parties.models import Customer, Party
from billing.sales.models import Contract, Service
from billing.sequences import next_value

if TYPE_CHECKING:
    from billing.invoicing.einvoice import EInvoice

# What an amount column holds (16 digits, 2 of them decimals).
AMOUNT_LIMIT = Decimal(10) ** 14

Renderer = Callable[[Sequence[InvoiceDocument]], list[bytes]]


class IssueError(InvalidRequestError):
    pass


def _may_act(actor: Seller, invoice: Invoice) -> None:
    if not actor.may_sell_for(invoice.issuer_party_id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff act on %(issuer)s's invoices"),
            issuer=invoice.issuer.code,
        )


def _draft(invoice: Invoice) -> None:
    if not invoice.is_draft:
        raise FrozenInvoiceError(
            N_("%(number)s is issued: it cannot change; correct it with a credit note"),
            number=invoice.number,
        )


# -- drafts ------------------------------------------------------------------------------------


def edit_draft_line(
    session: Session,
    line_id: int,
    *,
    description: str,
    amount: Decimal,
    note: str,
    actor: Seller,
    now: datetime,
) -> InvoiceLine:
    """Change a draft line's wording or amount (in the currency of the service's prices)."""
    line = _line(session, line_id)
    invoice = get_invoice(session, line.invoice_id, for_update=True)
    _may_act(actor, invoice)
    _draft(invoice)
    errors: dict[str, list[str]] = {}
    if not description.strip():
        errors["description"] = [N_("A line says what it charges.")]
    if not note.strip():
        errors["note"] = [N_("Say why the line changes.")]
    money = Money(amount, line.price_currency)
    if not amount.is_finite() or abs(amount) >= AMOUNT_LIMIT:
        errors["amount"] = [
            Text(N_("An amount is a number below %(limit)s either way."), limit=f"{AMOUNT_LIMIT:,}")
        ]
    elif money.rounded().amount != amount:
        errors["amount"] = [_minor_unit(line.price_currency)]
    if errors:
        raise InvalidRequestError(N_("the line was not changed"), errors)
    before = {"description": line.description, "amount": str(line.price_amount)}
    line.description = description.strip()
    line.price_amount = money.rounded().amount
    line.edited_note = note.strip()
    record(
        session,
        actor=actor.label,
        action="invoice_line.edit",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        before=before,
        after={"description": line.description, "amount": str(line.price_amount), "note": note},
    )
    return line


def delete_draft_line(
    session: Session, line_id: int, *, actor: Seller, now: datetime
) -> Invoice | None:
    """Take a line off a draft; the next run bills that charge again. A draft left with no line
    is deleted too (answers None then)."""
    line = _line(session, line_id)
    invoice = get_invoice(session, line.invoice_id, for_update=True)
    _may_act(actor, invoice)
    _draft(invoice)
    record(
        session,
        actor=actor.label,
        action="invoice_line.delete",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        before={
            "circuit_id": line.circuit_id,
            "description": line.description,
            "amount": str(line.price_amount),
            "currency": line.price_currency,
        },
    )
    invoice.lines.remove(line)
    session.flush()
    if not invoice.lines:
        session.delete(invoice)
        session.flush()
        return None
    return invoice


def delete_draft(session: Session, invoice_id: int, *, actor: Seller, now: datetime) -> None:
    """Throw a draft away; the next run bills its charges again."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    _may_act(actor, invoice)
    _draft(invoice)
    record(
        session,
        actor=actor.label,
        action="invoice.delete_draft",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        before={"customer": invoice.customer.legal_name, "lines": len(invoice.lines)},
    )
    session.delete(invoice)
    session.flush()


# What a quantity column holds (12 digits, 3 of them decimals).
QUANTITY_LIMIT = Decimal(10) ** 9
QUANTITY_PLACES = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class OneOffLine:
    """A line finance adds to a draft by hand, in the invoice currency: `quantity` x
    `unit_price`, for one of the customer's services (its spectrum then decides the split, as for
    a billed line) or for none (kept whole by the issuer, like any line with no spectrum)."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    service_id: int | None
    reason: str


def _minor_unit(currency: str) -> Text:
    return Text(N_("%(currency)s amounts have at most their minor unit."), currency=currency)


def _one_off_errors(line: OneOffLine, currency: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not line.description.strip():
        errors["description"] = [N_("A line says what it charges.")]
    if not line.reason.strip():
        errors["reason"] = [N_("Say why the line is added.")]
    quantity, price = line.quantity, line.unit_price
    if not quantity.is_finite() or quantity <= 0 or quantity >= QUANTITY_LIMIT:
        errors["quantity"] = [
            Text(N_("A quantity is above 0 and below %(limit)s."), limit=f"{QUANTITY_LIMIT:,}")
        ]
    elif quantity.quantize(QUANTITY_PLACES) != quantity:
        errors["quantity"] = [N_("A quantity has at most 3 decimals.")]
    if not price.is_finite() or price <= 0 or price >= AMOUNT_LIMIT:
        errors["unit_price"] = [
            Text(N_("A unit price is above 0 and below %(limit)s."), limit=f"{AMOUNT_LIMIT:,}")
        ]
    elif Money(price, currency).rounded().amount != price:
        errors["unit_price"] = [_minor_unit(currency)]
    elif not errors and Money(quantity * price, currency).rounded().amount >= AMOUNT_LIMIT:
        errors["quantity"] = [
            Text(N_("The line comes to %(limit)s or more."), limit=f"{AMOUNT_LIMIT:,}")
        ]
    return errors


def add_draft_line(
    session: Session,
    invoice_id: int,
    line: OneOffLine,
    *,
    actor: Seller,
    now: datetime,
) -> InvoiceLine:
    """Add a one-off line to a draft, audited with its reason. It covers the draft's billing
    month and carries no charge key: the next run neither bills nor removes it."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    _may_act(actor, invoice)
    _draft(invoice)
    if invoice.is_credit_note:  # pragma: no cover - credit notes are never drafts
        raise IssueError(N_("a credit note's lines come from its invoice"))
    errors = _one_off_errors(line, invoice.currency)
    service = None
    if line.service_id is not None:
        service = session.get(Service, line.service_id)
        if (
            service is None
            or service.customer_id != invoice.customer_id
            or service.contract.party_id != invoice.issuer_party_id
        ):
            errors["service_id"] = [
                Text(
                    N_("Choose one of %(customer)s's services sold by %(issuer)s, or none."),
                    customer=invoice.customer.legal_name,
                    issuer=invoice.issuer.code,
                )
            ]
    if errors:
        raise InvalidRequestError(N_("the line was not added"), errors)
    amount = Money(line.quantity * line.unit_price, invoice.currency).rounded()
    period = billing_period(invoice.period_start)
    added = InvoiceLine(
        position=max((existing.position for existing in invoice.lines), default=0) + 1,
        service_id=None if service is None else service.id,
        circuit_id="" if service is None else service.circuit_id,
        period_start=period.start,
        period_end=period.end,
        description=line.description.strip(),
        quantity=line.quantity,
        price_amount=amount.amount,
        price_currency=invoice.currency,
        edited_note=line.reason.strip(),
        unit_code=ONE,
    )
    invoice.lines.append(added)
    session.flush()
    record(
        session,
        actor=actor.label,
        action="invoice_line.add",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        after={
            "position": added.position,
            "circuit_id": added.circuit_id,
            "description": added.description,
            "quantity": str(added.quantity),
            "unit_price": str(line.unit_price),
            "amount": str(added.price_amount),
            "currency": added.price_currency,
            "reason": added.edited_note,
        },
    )
    return added


def is_one_off(line: InvoiceLine) -> bool:
    """A line added by hand to an invoice: no charge key and no credited line."""
    return line.charge_kind is None and line.credited_line_id is None


def _line(session: Session, line_id: int) -> InvoiceLine:
    line = session.get(InvoiceLine, line_id)
    if line is None:
        raise NotFoundError(N_("invoice line %(id)s not found"), id=line_id)
    return line


# -- what a draft would come to -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PricedLine:
    line: InvoiceLine
    amount: Money
    rule: TaxRuleRecord


@dataclass(frozen=True, slots=True)
class Pricing:
    """A draft priced on a day: its lines in the invoice currency, tax, totals and the rates."""

    on: date
    lines: tuple[PricedLine, ...]
    taxes: tuple[DocumentTax, ...]
    subtotal: Money
    tax_total: Money
    total: Money
    fx: FxRate | None
    tax_local: Money | None
    tax_local_fx: FxRate | None


def price_invoice(session: Session, invoice: Invoice, on: date) -> Pricing:
    """The draft as it would be issued on `on`: converted at that day's rate, taxed per the rules
    for each line's supply date (the first day it covers). Raises IssueError, naming what is
    missing, when a rate, a tax rule or an agreement version in effect is."""
    if not invoice.lines:
        raise IssueError(N_("an invoice with no lines cannot be issued"))
    issuer, customer = invoice.issuer, invoice.customer
    foreign = sorted({line.price_currency for line in invoice.lines} - {invoice.currency})
    if len(foreign) > 1:
        raise IssueError(
            N_("the lines are priced in %(currencies)s: one invoice converts one currency"),
            currencies=", ".join(foreign),
        )
    fx = None
    if foreign:
        fx = rate_between(session, foreign[0], invoice.currency, on, via=issuer.local_currency)
        if fx is None:
            pair = {"base": foreign[0], "quote": invoice.currency, "day": on.isoformat()}
            raise IssueError(
                N_(
                    "no %(base)s/%(quote)s exchange rate on or before %(day)s: "
                    "enter or import one on the exchange-rates page"
                ),
                {"fx": [Text(N_("Missing rate %(base)s/%(quote)s for %(day)s."), **pair)]},
                **pair,
            )
    records = tax_rule_records(session, issuer.id)
    values = {r.id: tax_rule_value(r) for r in records}
    by_value = {id(values[r.id]): r for r in records}
    priced: list[PricedLine] = []
    for line in invoice.lines:
        source = Money(line.price_amount, line.price_currency)
        amount = (
            source.rounded()
            if fx is None or source.currency == invoice.currency
            else (convert(source, fx))
        )
        try:
            rule = tax_rule_for(values.values(), issuer.code, customer.country, line.period_start)
        except InvalidRequestError as exc:
            raise IssueError(exc.message, exc.errors) from None
        priced.append(PricedLine(line, amount, by_value[id(rule)]))
    # SPEC 5: every line is split at issue under the agreement version in effect on the day it
    # starts; the version that covers the earliest of them covers the others too.
    try:
        version_on(session, min(line.period_start for line in invoice.lines))
    except NoAgreementError as exc:
        raise IssueError(exc.message, {"agreement": [exc.message]}) from None
    try:
        taxes = invoice_tax([(p.amount, values[p.rule.id]) for p in priced])
    except InvalidRequestError as exc:
        raise IssueError(exc.message, exc.errors) from None
    language = customer.invoice_language
    document_taxes = tuple(
        DocumentTax(
            t.rate_percent,
            t.base,
            t.tax,
            t.legal_notes,
            t.category_code,
            t.exemption_reason_code,
            t.exemption_reason,
            t.notes_in(language),
        )
        for t in taxes
    )
    subtotal = total((p.amount for p in priced), invoice.currency)
    tax_total = total((t.tax for t in taxes), invoice.currency)
    tax_local, local_fx = None, None
    if invoice.currency != issuer.local_currency:
        if tax_total.amount == 0:
            tax_local = Money.zero(issuer.local_currency)
        else:
            local_fx = rate_between(
                session, invoice.currency, issuer.local_currency, on, via=issuer.local_currency
            )
            if local_fx is None:
                pair = {"base": invoice.currency, "quote": issuer.local_currency}
                raise IssueError(
                    N_(
                        "no %(base)s/%(quote)s exchange rate on or before %(day)s "
                        "to show the VAT in %(quote)s"
                    ),
                    {"fx": [Text(N_("Missing rate %(base)s/%(quote)s."), **pair)]},
                    day=on.isoformat(),
                    **pair,
                )
            tax_local = convert(tax_total, local_fx)
    return Pricing(
        on,
        tuple(priced),
        document_taxes,
        subtotal,
        tax_total,
        subtotal + tax_total,
        fx,
        tax_local,
        local_fx,
    )


def expected_due_date(invoice: Invoice, now: datetime) -> date:
    """When a draft issued now would be due: the issuer's today plus the customer's terms."""
    return due_date(issue_date_for(invoice.issuer, now), invoice.customer.payment_terms_days)


def draft_preview(session: Session, invoice_id: int, *, now: datetime) -> InvoiceDocument:
    """The draft as its PDF would read if issued now, marked DRAFT and with no number. It is
    priced and written exactly as issuing writes it, inside a savepoint that is then rolled
    back: the draft, its lines and the number series stay as they were (IssueError when it
    cannot be priced yet)."""
    invoice = get_invoice(session, invoice_id)
    _draft(invoice)
    pricing = price_invoice(session, invoice, issue_date_for(invoice.issuer, now))
    savepoint = session.begin_nested()
    try:
        document = document_of(_frozen(session, invoice, pricing), number=DRAFT_NUMBER)
    finally:
        savepoint.rollback()
    return replace(document, draft=True)


# -- issuing ----------------------------------------------------------------------------------


def issue_date_for(issuer: Party, now: datetime) -> date:
    """An invoice is dated the issuer's local day (SPEC 3's business calendar)."""
    return local_date(now, issuer.time_zone)


@dataclass(frozen=True, slots=True)
class Issuing:
    """Who issues and how its PDFs are rendered: what every finalising call is given."""

    actor: Seller
    now: datetime
    # None leaves the PDF for later (a render job, SPEC 12): the document takes its number and
    # is issued, but it is shown to customers only once its stored PDF exists.
    render: Renderer | None


def issue_invoice(
    session: Session, invoice_id: int, *, actor: Seller, now: datetime, render: Renderer
) -> Invoice:
    """Issue one draft: number, due date, tax, rate, PDF; frozen from then on.

    Edges issue through `billing.payments.issuing`, which also applies the credit balance."""
    return issue_invoices(session, [invoice_id], actor=actor, now=now, render=render)[0]


def issue_invoices(
    session: Session,
    invoice_ids: Sequence[int],
    *,
    actor: Seller,
    now: datetime,
    render: Renderer,
) -> list[Invoice]:
    """Issue several drafts in one unit of work, numbered in the order given; their PDFs are
    rendered together (`render` may use several processes). Any failure issues none of them and
    takes no number."""
    lock_documents(session, invoice_ids)
    drafts = [
        _priced_draft(session, invoice_id, actor=actor, now=now) for invoice_id in invoice_ids
    ]
    return finalise(
        session, [_frozen(session, i, p) for i, p in drafts], Issuing(actor, now, render)
    )


def issue_drafts_of_run(
    session: Session,
    invoice_ids: Sequence[int],
    *,
    actor: Seller,
    now: datetime,
    render: Renderer | None = None,
) -> tuple[list[Invoice], list[str]]:
    """Issue a run's drafts: those that cannot be issued yet (no exchange rate, no tax rule, no
    agreement version in effect) stay drafts, each with the reason; the rest are issued. With
    `render=None` (a run's chunks) their PDFs are left to a render job."""
    lock_documents(session, invoice_ids)
    ready: list[Invoice] = []
    left: list[str] = []
    for invoice_id in invoice_ids:
        invoice = get_invoice(session, invoice_id, for_update=True)
        if not invoice.is_draft:
            continue
        _may_act(actor, invoice)
        try:
            pricing = price_invoice(session, invoice, issue_date_for(invoice.issuer, now))
        except IssueError as exc:
            left.append(f"draft for {invoice.customer.legal_name} not issued: {exc.message}")
            continue
        ready.append(_frozen(session, invoice, pricing))
    return finalise(session, ready, Issuing(actor, now, render)), left


def _priced_draft(
    session: Session, invoice_id: int, *, actor: Seller, now: datetime
) -> tuple[Invoice, Pricing]:
    """The draft, locked, checked and priced on the issuer's day (IssueError if it cannot be)."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    _may_act(actor, invoice)
    _draft(invoice)
    return invoice, price_invoice(session, invoice, issue_date_for(invoice.issuer, now))


def finalise(session: Session, documents: Sequence[Invoice], issuing: Issuing) -> list[Invoice]:
    """The one path that finalises invoices and credit notes (SPEC 4): each document, its content
    written and dated but not yet numbered, takes the next number of its issuer's series for its
    kind and year, gets its revenue split (a credit note mirrors its invoice's), is rendered to
    PDF (all together) and stored with its SHA-256 (or, with `issuing.render` None, left for a
    render job: "PDF being prepared"), marked issued and audited; a credit note is then
    counted on the invoice it credits. The caller holds the locks (LOCK_ORDER in billing/db.py)."""
    prepared: list[tuple[Invoice, InvoiceDocument]] = []
    for document in documents:
        kind = DocumentKind(document.kind)
        if document.issue_date is None:  # pragma: no cover - written by the caller
            raise IssueError(N_("a document is dated before it is finalised"))
        number = _take_number(session, document.issuer, kind, document.issue_date)
        # SPEC 5's revenue split of every line is computed and stored here, while the document
        # is still being written: once issued, its lines never change.
        if kind is DocumentKind.INVOICE:
            store_splits(session, document)
        else:
            credited = {line.id: line for line in _credited(document).lines}
            for line in document.lines:
                if line.credited_line_id is not None:
                    store_mirror(line, credited[line.credited_line_id], document.currency)
        prepared.append((document, document_of(document, number=number)))
    pdfs: list[bytes | None] = (
        [None] * len(prepared)
        if issuing.render is None
        else list(issuing.render([rendered for _, rendered in prepared]))
    )
    finalised = []
    for (document, rendered), pdf in zip(prepared, pdfs, strict=True):
        document.number = rendered.number
        document.status = InvoiceStatus.ISSUED.value
        document.issued_at = issuing.now
        document.issued_by = issuing.actor.label
        session.add(document)
        if pdf is not None:
            _store_pdf(document, pdf)
            session.flush()
            _record_issued(session, document, issuing.now)
        if document.is_credit_note:
            _count_credit(session, document, issuing)
        else:
            record(
                session,
                actor=issuing.actor.label,
                action="invoice.issue",
                entity_type="invoice",
                entity_id=document.id,
                now=issuing.now,
                after={
                    "number": document.number,
                    "total": str(document.total),
                    "currency": document.currency,
                    "pdf_sha256": document.pdf_sha256,
                },
            )
        finalised.append(document)
    session.flush()
    return finalised


def _credited(note: Invoice) -> Invoice:
    if note.credited_invoice is None:  # pragma: no cover - a CHECK constraint
        raise IssueError(N_("a credit note names the invoice it credits"))
    return note.credited_invoice


def _count_credit(session: Session, note: Invoice, issuing: Issuing) -> None:
    """The credited invoice owes what the note takes off; with nothing paid and nothing left
    due it is `credited` (what was paid beyond the new balance is the payments package's)."""
    invoice = _credited(note)
    invoice.credited_total = (invoice.credited_money - note.total_money).amount
    if invoice.amount_due <= 0 and invoice.paid_total == 0:
        invoice.status = InvoiceStatus.CREDITED.value
    session.flush()
    record(
        session,
        actor=issuing.actor.label,
        action="invoice.credit",
        entity_type="invoice",
        entity_id=invoice.id,
        now=issuing.now,
        after={
            "credit_note": note.number,
            "total": str(note.total),
            "currency": note.currency,
            "reason": note.reason,
        },
    )


def _take_number(session: Session, issuer: Party, kind: DocumentKind, on: date) -> str:
    # Per issuer, document type and year; the UPDATE holds the counter's row until commit, so
    # concurrent issues queue and a rolled-back one gives its number back.
    series = f"{issuer.document_prefix}-{kind.series}-{on.year}"
    return f"{series}-{next_value(session, series):06d}"


def _details(party: Party | Customer) -> PartyDetails:
    if isinstance(party, Party):
        return PartyDetails(
            party.legal_name,
            party.address,
            party.country,
            party.tax_id,
            party.bank_details,
            street=party.street,
            city=party.city,
            postal_code=party.postal_code,
            vat_id=party.vat_id,
            iban=party.iban,
            bic=party.bic,
        )
    return PartyDetails(
        party.legal_name,
        party.billing_address,
        party.country,
        party.tax_id,
        street=party.street,
        city=party.city,
        postal_code=party.postal_code,
        vat_id=party.vat_id,
    )


# The snapshot's keys; a document issued before a key existed reads it as empty.
_DETAIL_KEYS = (
    "name",
    "address",
    "country",
    "tax_id",
    "bank_details",
    "street",
    "city",
    "postal_code",
    "vat_id",
    "iban",
    "bic",
)


def _details_json(details: PartyDetails) -> str:
    return json.dumps(
        {key: getattr(details, key) for key in _DETAIL_KEYS},
        ensure_ascii=False,
        sort_keys=True,
    )


def stored_details(text: str) -> PartyDetails:
    values = json.loads(text)
    return PartyDetails(**{key: str(values.get(key, "")) for key in _DETAIL_KEYS})


def _purchase_orders(session: Session, invoice: Invoice) -> tuple[str, ...]:
    service_ids = [line.service_id for line in invoice.lines if line.service_id is not None]
    if not service_ids:
        return ()
    orders = session.execute(
        select(Contract.purchase_order)
        .join(Service, Service.contract_id == Contract.id)
        .where(Service.id.in_(service_ids), Contract.purchase_order.is_not(None))
        .distinct()
    ).scalars()
    return tuple(sorted(po for po in orders if po))


def _contract_numbers(session: Session, invoice: Invoice) -> tuple[str, ...]:
    """The contracts the invoice's lines bill, each once, in number order."""
    service_ids = [line.service_id for line in invoice.lines if line.service_id is not None]
    if not service_ids:
        return ()
    numbers = session.execute(
        select(Contract.number)
        .join(Service, Service.contract_id == Contract.id)
        .where(Service.id.in_(service_ids))
        .distinct()
    ).scalars()
    return tuple(sorted(numbers))


# The customer's billing contacts are the mail package's (SPEC 13), which sits above invoicing in
# the layers: issuing reads the few columns it freezes from the table itself, not the model.
_billing_contacts = table(
    "billing_contacts",
    column("id"),
    column("customer_id"),
    column("name"),
    column("email"),
    column("invoices"),
)


def billing_contact_of(session: Session, customer_id: int) -> BillingContactNote | None:
    """The first of the customer's contacts receiving invoices (in the order the contacts are
    listed: by name), or None."""
    row = session.execute(
        select(_billing_contacts.c.name, _billing_contacts.c.email)
        .where(
            _billing_contacts.c.customer_id == customer_id,
            _billing_contacts.c.invoices.is_(True),
        )
        .order_by(_billing_contacts.c.name, _billing_contacts.c.id)
        .limit(1)
    ).first()
    return None if row is None else BillingContactNote(row.name, row.email)


def _fx_note(rate: FxRate | None) -> FxNote | None:
    if rate is None:
        return None
    return FxNote(rate.base, rate.quote, rate.rate, rate.on, rate.source)


def _frozen(session: Session, invoice: Invoice, pricing: Pricing) -> Invoice:
    """The draft written as priced and dated: amounts, taxes, rates, both parties' details (the
    one path then numbers and issues it)."""
    issuer, customer = invoice.issuer, invoice.customer
    for priced in pricing.lines:
        priced.line.amount = priced.amount.amount
        priced.line.tax_rate_percent = priced.rule.rate_percent
        priced.line.tax_rule_id = priced.rule.id
    invoice.taxes = [
        InvoiceTax(
            rate_percent=t.rate_percent,
            base=t.base.amount,
            tax=t.tax.amount,
            legal_notes="\n".join(t.legal_notes),
            category_code=t.category_code,
            exemption_reason_code=t.exemption_reason_code,
            exemption_reason=t.exemption_reason,
            local_legal_notes="\n".join(t.local_legal_notes),
        )
        for t in pricing.taxes
    ]
    # Frozen with the rest: a later change of the customer's language leaves it alone.
    invoice.language = customer.invoice_language
    invoice.issue_date = pricing.on
    invoice.due_date = due_date(pricing.on, customer.payment_terms_days)
    invoice.subtotal = pricing.subtotal.amount
    invoice.tax_total = pricing.tax_total.amount
    invoice.total = pricing.total.amount
    if pricing.fx is not None:
        invoice.fx_base = pricing.fx.base
        invoice.fx_rate = pricing.fx.rate
        invoice.fx_rate_date = pricing.fx.on
        invoice.fx_source = pricing.fx.source
    if pricing.tax_local is not None:
        invoice.tax_local = pricing.tax_local.amount
        invoice.tax_local_currency = pricing.tax_local.currency
    if pricing.tax_local_fx is not None:
        invoice.tax_local_rate = pricing.tax_local_fx.rate
        invoice.tax_local_rate_date = pricing.tax_local_fx.on
        invoice.tax_local_source = pricing.tax_local_fx.source
    invoice.purchase_orders = "\n".join(_purchase_orders(session, invoice))
    invoice.payment_terms_days = customer.payment_terms_days
    invoice.contract_numbers = "\n".join(_contract_numbers(session, invoice)) or None
    contact = billing_contact_of(session, customer.id)
    invoice.billing_contact_name = None if contact is None else contact.name
    invoice.billing_contact_email = None if contact is None else contact.email
    invoice.account_currency = customer.billing_currency
    invoice.issuer_details = _details_json(_details(issuer))
    invoice.customer_details = _details_json(_details(customer))
    # The lines are written while the invoice is still a draft: once issued, they never change.
    session.flush()
    return invoice


def document_of(invoice: Invoice, *, number: str | None = None) -> InvoiceDocument:
    """The issued (or being issued) invoice or credit note as its PDF shows it."""
    currency = invoice.currency
    kind = DocumentKind(invoice.kind)
    lines = tuple(
        DocumentLine(
            circuit_id=line.circuit_id,
            description=line.description,
            period=Period(line.period_start, line.period_end),
            quantity=line.quantity,
            unit_price=Money(line.amount or Decimal(0), currency) * (1 / line.quantity)
            if line.quantity != 1
            else Money(line.amount or Decimal(0), currency),
            amount=Money(line.amount or Decimal(0), currency),
            tax_rate_percent=line.tax_rate_percent or Decimal(0),
        )
        for line in invoice.lines
    )
    taxes = tuple(
        DocumentTax(
            t.rate_percent,
            Money(t.base, currency),
            Money(t.tax, currency),
            tuple(n for n in t.legal_notes.split("\n") if n),
            t.category_code,
            t.exemption_reason_code,
            t.exemption_reason,
            tuple(n for n in t.local_legal_notes.split("\n") if n),
        )
        for t in sorted(invoice.taxes, key=lambda t: -t.rate_percent)
    )
    fx = None
    if invoice.fx_rate is not None and invoice.fx_base and invoice.fx_rate_date:
        fx = FxNote(
            invoice.fx_base,
            currency,
            invoice.fx_rate,
            invoice.fx_rate_date,
            invoice.fx_source or "",
        )
    local_fx = None
    if invoice.tax_local_rate is not None and invoice.tax_local_rate_date:
        local_fx = FxNote(
            currency,
            invoice.tax_local_currency or "",
            invoice.tax_local_rate,
            invoice.tax_local_rate_date,
            invoice.tax_local_source or "",
        )
    periods = [line.period_start for line in invoice.lines]
    invoice_total = Money(invoice.total, currency)
    if invoice.issue_date is None:
        raise IssueError(N_("a document without an issue date has no PDF"))
    return InvoiceDocument(
        kind=kind,
        number=number or invoice.number or "",
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        issuer=stored_details(invoice.issuer_details),
        customer=stored_details(invoice.customer_details),
        currency=currency,
        lines=lines,
        taxes=taxes,
        subtotal=Money(invoice.subtotal, currency),
        tax_total=Money(invoice.tax_total, currency),
        total=invoice_total,
        amount_due=invoice_total if kind is DocumentKind.INVOICE else Money.zero(currency),
        period=Period(min(periods), max(line.period_end for line in invoice.lines))
        if periods
        else None,
        purchase_orders=tuple(p for p in invoice.purchase_orders.split("\n") if p),
        fx=fx,
        tax_local=None
        if invoice.tax_local is None or invoice.tax_local_currency is None
        else Money(invoice.tax_local, invoice.tax_local_currency),
        tax_local_fx=local_fx,
        credited_invoice_number=None
        if invoice.credited_invoice is None
        else invoice.credited_invoice.number,
        reason=invoice.reason or None,
        payment_terms_days=invoice.payment_terms_days,
        contract_numbers=tuple(n for n in (invoice.contract_numbers or "").split("\n") if n),
        billing_contact=None
        if invoice.billing_contact_email is None
        else BillingContactNote(invoice.billing_contact_name or "", invoice.billing_contact_email),
        account_currency=invoice.account_currency,
        language=invoice.language,
        # What its Factur-X PDF embeds (SPEC 14); a draft's preview is no invoice and has none.
        e_invoice=None if number == DRAFT_NUMBER else _einvoice_data(invoice, number=number),
    )


def _einvoice_data(invoice: Invoice, *, number: str | None) -> EInvoice:
    # einvoice.py reads the frozen snapshot through this module's stored_details.
    from billing.invoicing.einvoice import einvoice_data

    return einvoice_data(invoice, number=number)


def _store_pdf(invoice: Invoice, pdf: bytes) -> None:
    invoice.pdf = pdf
    invoice.pdf_sha256 = pdf_sha256(pdf)


def _record_issued(session: Session, document: Invoice, now: datetime) -> None:
    """`invoice.issued` / `credit_note.issued` (SPEC 13): recorded once the document's PDF is
    stored, since the email attaches it and the customer's webhook points at it."""
    record_event(
        session,
        f"{document.kind}.issued",
        subject_type="invoice",
        subject_id=document.id,
        customer_id=document.customer_id,
        party_id=document.issuer_party_id,
        now=now,
    )


def pdf_sha256(pdf: bytes) -> str:
    """The SHA-256 stored with a PDF (SPEC 4), in hex."""
    return hashlib.sha256(pdf).hexdigest()


# -- PDFs rendered after issue (SPEC 12) ---------------------------------------------------------


def documents_to_render(
    session: Session, invoice_ids: Sequence[int]
) -> list[tuple[int, InvoiceDocument]]:
    """The documents among `invoice_ids` that are issued and still wait for their PDF, each as
    `document_of` gives it (what finalise renders: the same bytes). Reads, locks nothing."""
    if not invoice_ids:
        return []
    invoices = session.execute(
        select(Invoice)
        .where(
            Invoice.id.in_(list(invoice_ids)),
            Invoice.status != InvoiceStatus.DRAFT.value,
            Invoice.pdf_sha256.is_(None),
        )
        .order_by(Invoice.id)
        .options(*_document_options())
    ).scalars()
    return [(invoice.id, document_of(invoice)) for invoice in invoices]


def _document_options() -> tuple[ExecutableOption, ...]:
    return (
        selectinload(Invoice.lines),
        selectinload(Invoice.taxes),
        selectinload(Invoice.issuer),
        selectinload(Invoice.customer),
        selectinload(Invoice.credited_invoice),
    )


def store_rendered_pdf(
    session: Session, invoice_id: int, pdf: bytes, *, actor: str, now: datetime
) -> bool:
    """Store the PDF rendered for an issued document that has none yet, with its SHA-256, and
    audit it; from then on its customer sees it. Answers False, changing nothing, if it has one
    already (another render stored it first: the same bytes)."""
    digest = pdf_sha256(pdf)
    stored: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Invoice)
        .where(
            Invoice.id == invoice_id,
            Invoice.status != InvoiceStatus.DRAFT.value,
            Invoice.pdf_sha256.is_(None),
        )
        .values(pdf=pdf, pdf_sha256=digest)
        .execution_options(synchronize_session=False)
    )
    if not stored.rowcount:
        return False
    _record_issued(session, session.get_one(Invoice, invoice_id), now)
    record(
        session,
        actor=actor,
        action="invoice.pdf_stored",
        entity_type="invoice",
        entity_id=invoice_id,
        now=now,
        after={"pdf_sha256": digest, "bytes": len(pdf)},
    )
    return True


# -- credit notes -----------------------------------------------------------------------------


def credited_so_far(session: Session, invoice: Invoice) -> dict[int, Decimal]:
    """How much of each of the invoice's lines earlier credit notes reversed (positive)."""
    done: dict[int, Decimal] = {}
    for note in credit_notes_of(session, invoice.id):
        for line in note.lines:
            if line.credited_line_id is not None:
                done[line.credited_line_id] = done.get(line.credited_line_id, Decimal(0)) - (
                    line.amount or Decimal(0)
                )
    return done


@dataclass(frozen=True, slots=True)
class CreditableLine:
    """An invoice line as a credit plan sees it: what it is and what is left to credit of it."""

    line_id: int
    position: int
    left: Money


@dataclass(frozen=True, slots=True)
class CreditPlan:
    """What a credit note takes back: the amount of each credited line (positive), in the order
    of the invoice's lines, and why."""

    amounts: tuple[tuple[int, Money], ...]
    reason: str


def plan_credit(
    lines: Sequence[CreditableLine],
    amounts: Mapping[int, Decimal] | None,
    reason: str,
    *,
    invoice_number: str,
    currency: str,
) -> CreditPlan:
    """The whole of what is left uncredited (`amounts` None), or the given amount of each named
    line; an IssueError naming every line that cannot be credited as asked. Pure."""
    if not reason.strip():
        raise IssueError(
            N_("a credit note says why"), {"reason": [N_("Give the reason for the credit.")]}
        )
    by_id = {line.line_id: line for line in lines}
    wanted: dict[int, Decimal] = (
        {line.line_id: line.left.amount for line in lines if line.left.amount > 0}
        if amounts is None
        else dict(amounts)
    )
    errors: dict[str, list[str]] = {}
    for line_id, amount in wanted.items():
        line = by_id.get(line_id)
        if line is None:
            errors[f"line {line_id}"] = [
                Text(N_("%(number)s has no such line."), number=invoice_number)
            ]
            continue
        if not amount.is_finite() or amount <= 0:
            errors[f"line {line.position}"] = [N_("A credit is a positive amount.")]
        elif amount > line.left.amount:
            errors[f"line {line.position}"] = [
                Text(
                    N_("The credit is larger than what is left of the line: %(left)s."),
                    left=str(line.left),
                )
            ]
        elif Money(amount, currency).rounded().amount != amount:
            errors[f"line {line.position}"] = [_minor_unit(currency)]
    if not wanted and not errors:
        errors["lines"] = [N_("Nothing is left to credit on this invoice.")]
    if errors:
        first = next(iter(errors.values()))[0]
        raise IssueError(N_("the credit note was not issued: %(problem)s"), errors, problem=first)
    ordered = sorted(wanted, key=lambda i: by_id[i].position)
    return CreditPlan(tuple((i, Money(wanted[i], currency)) for i in ordered), reason.strip())


def credit_invoice(
    session: Session,
    invoice_id: int,
    *,
    amounts: Mapping[int, Decimal] | None,
    reason: str,
    actor: Seller,
    now: datetime,
    render: Renderer,
) -> Invoice:
    """Issue a credit note against an issued invoice: the whole of what is left uncredited
    (`amounts` None), or the given amount of each named line. Tax is reversed per rate, on the
    credited lines' sum; the last credit of a rate takes back exactly the tax left.

    Edges credit through `billing.payments.issuing`, which also turns what was paid beyond the
    new balance into credit balance."""
    lock_documents(session, [invoice_id])
    invoice = get_invoice(session, invoice_id, for_update=True)
    _may_act(actor, invoice)
    if invoice.is_credit_note or invoice.is_draft:
        raise IssueError(N_("only an issued invoice can be credited"))
    done = credited_so_far(session, invoice)
    creditable = [
        CreditableLine(
            line.id,
            line.position,
            line.amount_money - Money(done.get(line.id, Decimal(0)), invoice.currency),
        )
        for line in invoice.lines
    ]
    plan = plan_credit(
        creditable,
        amounts,
        reason,
        invoice_number=invoice.number or "",
        currency=invoice.currency,
    )
    note = _credit_note(session, invoice, plan, on=issue_date_for(invoice.issuer, now), now=now)
    return finalise(session, [note], Issuing(actor, now, render))[0]


def _credit_note(
    session: Session, invoice: Invoice, plan: CreditPlan, *, on: date, now: datetime
) -> Invoice:
    """The credit note the plan makes, written but not yet numbered (not yet in the session:
    it is added once it is issued)."""
    currency = invoice.currency
    note = Invoice(
        kind=DocumentKind.CREDIT_NOTE.value,
        issuer_party_id=invoice.issuer_party_id,
        customer_id=invoice.customer_id,
        currency=currency,
        period_start=invoice.period_start,
        issue_date=on,
        credited_invoice_id=invoice.id,
        reason=plan.reason,
        fx_base=invoice.fx_base,
        fx_rate=invoice.fx_rate,
        fx_rate_date=invoice.fx_rate_date,
        fx_source=invoice.fx_source,
        purchase_orders=invoice.purchase_orders,
        payment_terms_days=invoice.payment_terms_days,
        contract_numbers=invoice.contract_numbers,
        billing_contact_name=invoice.billing_contact_name,
        billing_contact_email=invoice.billing_contact_email,
        account_currency=invoice.account_currency,
        issuer_details=invoice.issuer_details,
        customer_details=invoice.customer_details,
        # It prints in the language of the invoice it credits.
        language=invoice.language,
        created_at=now,
    )
    note.credited_invoice = invoice
    note.issuer = invoice.issuer
    note.customer = invoice.customer
    lines_by_id = {line.id: line for line in invoice.lines}
    for position, (line_id, amount) in enumerate(plan.amounts, start=1):
        original = lines_by_id[line_id]
        note.lines.append(
            InvoiceLine(
                position=position,
                service_id=original.service_id,
                circuit_id=original.circuit_id,
                period_start=original.period_start,
                period_end=original.period_end,
                description=f"Credit: {original.description}",
                quantity=Decimal(1),
                price_amount=-_in_price_currency(original, amount.amount),
                price_currency=original.price_currency,
                amount=-amount.amount,
                tax_rate_percent=original.tax_rate_percent,
                tax_rule_id=original.tax_rule_id,
                credited_line_id=original.id,
                # A credit is one amount, whatever part of a month or a year it takes back.
                unit_code=ONE,
            )
        )
    note.taxes = _reversed_taxes(session, invoice, note)
    subtotal = total((line.amount_money for line in note.lines), currency)
    tax_total = total((Money(t.tax, currency) for t in note.taxes), currency)
    note.subtotal = subtotal.amount
    note.tax_total = tax_total.amount
    note.total = (subtotal + tax_total).amount
    if invoice.tax_local_currency is not None and invoice.tax_local is not None:
        note.tax_local_currency = invoice.tax_local_currency
        note.tax_local_rate = invoice.tax_local_rate
        note.tax_local_rate_date = invoice.tax_local_rate_date
        note.tax_local_source = invoice.tax_local_source
        note.tax_local = (
            Decimal(0)
            if invoice.tax_local_rate is None
            else Money(tax_total.amount * invoice.tax_local_rate, invoice.tax_local_currency)
            .rounded()
            .amount
        )
    return note


def _in_price_currency(line: InvoiceLine, credited: Decimal) -> Decimal:
    """The credited part of a line in the currency of the service's prices, pro rata."""
    if line.amount is None or line.amount == line.price_amount or line.amount == 0:
        return credited
    return Money(line.price_amount * credited / line.amount, line.price_currency).rounded().amount


def _reversed_taxes(session: Session, invoice: Invoice, note: Invoice) -> list[InvoiceTax]:
    """The tax a credit note takes back, per rate of its invoice (the rule is tax.py's)."""
    currency = invoice.currency
    earlier = [n for n in credit_notes_of(session, invoice.id) if n.id != note.id]
    taxes = []
    for original in invoice.taxes:
        rate = original.rate_percent
        credited = -total(
            (line.amount_money for line in note.lines if line.tax_rate_percent == rate), currency
        )
        if credited.amount == 0:
            continue
        before = [t for n in earlier for t in n.taxes if t.rate_percent == rate]
        tax = reversed_tax(
            rate,
            base=Money(original.base, currency),
            tax=Money(original.tax, currency),
            base_before=-total((Money(t.base, currency) for t in before), currency),
            tax_before=-total((Money(t.tax, currency) for t in before), currency),
            credited=credited,
        )
        taxes.append(
            InvoiceTax(
                rate_percent=rate,
                base=-credited.amount,
                tax=-tax.amount,
                names=original.names,
                legal_notes=original.legal_notes,
                category_code=original.category_code,
                exemption_reason_code=original.exemption_reason_code,
                exemption_reason=original.exemption_reason,
                local_legal_notes=original.local_legal_notes,
            )
        )
    return taxes
