"""Drafts seen and issued together (issue 17): what each would come to if issued now, the totals
per currency, and a bulk issue of selected drafts (its jobs are billing.jobs.issuing's)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.audit import record
from billing.errors import N_, InvalidRequestError, NotFoundError, Text
from billing.invoicing.issuing import IssueError, Pricing, issue_date_for, price_invoice
from billing.invoicing.models import BulkIssue, Invoice
from billing.money import Money, total
from billing.parties.customers import Seller

# Drafts one bulk issue takes at most (a page of the list is 50).
MAX_SELECTED = 200


@dataclass(frozen=True, slots=True)
class DraftEstimate:
    """A draft as it would be issued now: priced, or why it cannot be yet."""

    invoice_id: int
    pricing: Pricing | None
    problem: str = ""


def estimate_drafts(
    session: Session, invoices: Iterable[Invoice], now: datetime
) -> dict[int, DraftEstimate]:
    """Each draft among `invoices` priced on its issuer's today (issued documents are left out)."""
    estimates = {}
    for invoice in invoices:
        if not invoice.is_draft:
            continue
        try:
            pricing = price_invoice(session, invoice, issue_date_for(invoice.issuer, now))
        except IssueError as exc:
            estimates[invoice.id] = DraftEstimate(invoice.id, None, exc.message)
            continue
        estimates[invoice.id] = DraftEstimate(invoice.id, pricing)
    return estimates


def totals_by_currency(estimates: Iterable[DraftEstimate]) -> list[Money]:
    """The estimated totals of the priced drafts, one per currency, in currency order."""
    by_currency: dict[str, list[Money]] = {}
    for estimate in estimates:
        if estimate.pricing is not None:
            money = estimate.pricing.total
            by_currency.setdefault(money.currency, []).append(money)
    return [total(amounts, currency) for currency, amounts in sorted(by_currency.items())]


def selected_drafts(session: Session, invoice_ids: Sequence[int], actor: Seller) -> list[Invoice]:
    """The selected drafts, in id order, each one the actor may issue; an InvalidRequestError
    naming what is wrong with the selection otherwise."""
    ids = sorted(set(invoice_ids))
    if not ids:
        raise InvalidRequestError(
            N_("no draft was selected"), {"invoice_id": [N_("Select the drafts to issue.")]}
        )
    if len(ids) > MAX_SELECTED:
        raise InvalidRequestError(
            N_("at most %(count)s drafts are issued at once"),
            {"invoice_id": [Text(N_("Select at most %(count)s drafts."), count=MAX_SELECTED)]},
            count=MAX_SELECTED,
        )
    invoices = list(
        session.execute(
            select(Invoice)
            .where(Invoice.id.in_(ids))
            .order_by(Invoice.id)
            .options(selectinload(Invoice.issuer), selectinload(Invoice.customer))
        ).scalars()
    )
    if len(invoices) != len(ids):
        missing = sorted(set(ids) - {i.id for i in invoices})
        raise NotFoundError(N_("invoice %(id)s not found"), id=missing[0])
    errors = [
        Text(N_("%(number)s is issued already"), number=i.number)
        if not i.is_draft
        else Text(
            N_("%(customer)s's draft is %(party)s's: only its finance staff issue it"),
            customer=i.customer.legal_name,
            party=i.issuer.code,
        )
        for i in invoices
        if not i.is_draft or not actor.may_sell_for(i.issuer_party_id)
    ]
    if errors:
        raise InvalidRequestError(
            N_("the selection cannot be issued: %(reason)s"),
            {"invoice_id": errors},
            reason=errors[0],
        )
    return invoices


def request_bulk_issue(
    session: Session, invoice_ids: Sequence[int], *, actor: Seller, now: datetime
) -> BulkIssue:
    """Record a bulk issue of the selected drafts (checked as `selected_drafts` checks them) and
    audit it; the caller defers its first job in the same unit of work."""
    drafts = selected_drafts(session, invoice_ids, actor)
    bulk = BulkIssue(
        requested_at=now,
        requested_by=actor.label,
        actor_party_id=actor.party_id,
        state="queued",
        invoice_ids=[d.id for d in drafts],
        done_through_id=0,
        done=0,
        issued=0,
        left="",
    )
    session.add(bulk)
    session.flush()
    record(
        session,
        actor=actor.label,
        action="invoice.bulk_issue",
        entity_type="bulk_issue",
        entity_id=bulk.id,
        now=now,
        after={"drafts": len(drafts), "invoice_ids": bulk.invoice_ids},
    )
    return bulk


def get_bulk_issue(session: Session, bulk_id: int) -> BulkIssue:
    bulk = session.get(BulkIssue, bulk_id)
    if bulk is None:
        raise NotFoundError(N_("bulk issue %(id)s not found"), id=bulk_id)
    return bulk
