"""SPEC 4's one issuing path: every edge issues and credits through billing.payments.issuing (the
credit balance follows in the same unit of work, no callback to remember), a draft with no
agreement version in effect stays a draft with the reason while the rest of the run is issued,
and LOCK_ORDER (billing/db.py) holds when issuing, a refund, applying credit, a credit note and a
billing run hit one customer at once."""

from __future__ import annotations

import ast
import threading
import traceback
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from billing.clock import FrozenClock
from billing.db import LOCK_ORDER, Database, lock_customer_then_documents
from billing.errors import DomainError
from billing.invoicing.models import Invoice, InvoiceLine
from billing.invoicing.queries import get_invoice, open_drafts
from billing.invoicing.runs import parse_period, run_billing
from billing.money import Money
from billing.parties.customers import Seller
from billing.parties.models import Party
from billing.payments.issuing import credit_invoice, issue_drafts_of_run, issue_invoice
from billing.payments.queries import ledger_balance
from billing.payments.services import apply_credit_balance, record_bank_payment, record_refund
from tests import factories

ADMIN = Seller("admin", None)
BILLING = Path(__file__).resolve().parents[2] / "billing"
EDGES = ("web", "api", "cli.py", "jobs.py", "jobs")
ISSUING = {"issue_invoice", "issue_invoices", "issue_drafts_of_run", "credit_invoice"}


def fake_render(documents):  # type: ignore[no-untyped-def]
    return [f"%PDF-1.7 {d.number}".encode() for d in documents]


def _edge_modules() -> list[Path]:
    found: list[Path] = []
    for name in EDGES:
        path = BILLING / name
        if path.is_dir():
            found.extend(sorted(path.rglob("*.py")))
        elif path.exists():
            found.append(path)
    return found


def test_edges_issue_and_credit_only_through_the_payments_entry_point() -> None:
    """The page, the API, the CLI and jobs never call invoicing's document-only issuing (which
    leaves the credit balance alone), and no after-issue callback is left to pass."""
    wrong = []
    for path in _edge_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "billing.invoicing.issuing":
                wrong += [f"{path.name}: {a.name}" for a in node.names if a.name in ISSUING]
    assert wrong == []
    everywhere = [p for p in BILLING.rglob("*.py") if "after_issue" in p.read_text("utf-8")]
    assert everywhere == []
    assert "customer rows, in id order" in LOCK_ORDER


def _draft(s, customer_id: int, issuer_id: int, start: date) -> int:  # type: ignore[no-untyped-def]
    invoice = Invoice(
        kind="invoice",
        status="draft",
        issuer_party_id=issuer_id,
        customer_id=customer_id,
        currency="USD",
        period_start=start,
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
    )
    invoice.lines.append(
        InvoiceLine(
            position=1,
            circuit_id="",
            period_start=start,
            period_end=start.replace(day=28),
            description="Charge",
            quantity=Decimal(1),
            price_amount=Decimal("100.00"),
            price_currency="USD",
        )
    )
    s.add(invoice)
    s.flush()
    return invoice.id


def test_a_draft_with_no_agreement_version_in_effect_stays_a_draft_and_the_rest_is_issued(
    db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as s:
        issuer = s.execute(select(Party.id).where(Party.code == "AZT")).scalar_one()
        early = factories.customer(s, now=clock.now())
        fine = factories.customer(s, now=clock.now())
        # The demo agreement takes effect on 1 January 2026: a December 2025 line has none.
        stuck = _draft(s, early.id, issuer, date(2025, 12, 1))
        ready = _draft(s, fine.id, issuer, date(2026, 11, 1))
    with db.transaction() as s:
        issued, left = issue_drafts_of_run(
            s, [stuck, ready], actor=ADMIN, now=clock.now(), render=fake_render
        )
    assert issued == 1
    (reason,) = left
    assert "no cooperation agreement is in effect on 2025-12-01" in reason
    with db.transaction() as s:
        assert get_invoice(s, stuck).status == "draft"
        assert get_invoice(s, ready).status == "issued"


# -- one customer, five acts at once ---------------------------------------------------------


def _customer_world(db: Database, clock: FrozenClock) -> dict[str, int]:
    """A customer with an issued October invoice paid with USD 1,000.00 to spare (credit
    balance) and an open November draft; December is still to bill."""
    clock.set(datetime(2026, 10, 1, 9, tzinfo=UTC))
    with db.transaction() as s:
        service = factories.active_service(
            s, now=clock.now(), mrc=Decimal("3000"), ready_for_service=date(2026, 10, 1)
        )
        customer_id, issuer_id = service.customer_id, service.contract.party_id
    clock.set(datetime(2026, 10, 2, 9, tzinfo=UTC))
    (october,) = _run(db, clock, "2026-10", issue=True)
    with db.transaction() as s:
        due = get_invoice(s, october).amount_due
        paid = record_bank_payment(
            s,
            customer_id=customer_id,
            issuer_id=issuer_id,
            amount=Money(due + Decimal("1000.00"), "USD"),
            value_date=date(2026, 10, 20),
            reference="RACE",
            applications=None,
            actor=ADMIN,
            now=clock.now(),
        )
    clock.set(datetime(2026, 11, 25, 9, tzinfo=UTC))
    (november,) = _run(db, clock, "2026-11", issue=False)
    return {
        "customer": customer_id,
        "issuer": issuer_id,
        "october": october,
        "november": november,
        "payment": paid.payment.id,
    }


def _run(db: Database, clock: FrozenClock, month: str, *, issue: bool) -> tuple[int, ...]:
    return run_billing(
        db.transaction,
        period=parse_period(month),
        issuer_code="AZT",
        actor=ADMIN,
        clock=clock.now,
        issue=issue,
        issue_drafts=lambda s, ids: issue_drafts_of_run(
            s, ids, actor=ADMIN, now=clock.now(), render=fake_render
        ),
    ).invoice_ids


@pytest.mark.parametrize("round_", range(3))
def test_issue_refund_apply_credit_credit_note_and_a_run_at_once_keep_the_lock_order(
    db: Database, clock: FrozenClock, round_: int
) -> None:
    world = _customer_world(db, clock)
    now = clock.now()

    def issue() -> None:
        with db.transaction() as s:
            issue_invoice(s, world["november"], actor=ADMIN, now=now, render=fake_render)

    def refund() -> None:
        with db.transaction() as s:
            record_refund(
                s,
                payment_id=world["payment"],
                amount=Money(Decimal("400.00"), "USD"),
                reason="race",
                actor=ADMIN,
                now=now,
            )

    def apply_credit() -> None:
        with db.transaction() as s:
            apply_credit_balance(
                s,
                customer_id=world["customer"],
                issuer_id=world["issuer"],
                currency="USD",
                actor=ADMIN,
                now=now,
            )

    def credit_note() -> None:
        with db.transaction() as s:
            credit_invoice(
                s,
                world["october"],
                amounts=None,
                reason="race",
                actor=ADMIN,
                now=now,
                render=fake_render,
            )

    def billing_run() -> None:
        _run(db, clock, "2026-12", issue=True)

    acts = [issue, refund, apply_credit, credit_note, billing_run]
    # Each order of start once per round, so that different acts win the customer's row first.
    acts = acts[round_:] + acts[:round_]
    barrier = threading.Barrier(len(acts))
    errors: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def worker(act) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            act()
        except DomainError as exc:  # a clean refusal (4xx) is allowed
            with lock:
                refused.append(f"{act.__name__}: {exc}")
        except Exception:  # a deadlock, a serialisation failure or anything else is not
            with lock:
                errors.append(f"{act.__name__}: {traceback.format_exc()}")

    threads = [threading.Thread(target=worker, args=(act,)) for act in acts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "an act never finished"
    assert errors == []
    with db.transaction() as s:
        ledger = ledger_balance(s, world["customer"], world["issuer"], "USD")
        assert ledger.problems == [], ledger
        invoices = s.execute(
            select(Invoice).where(
                Invoice.customer_id == world["customer"], Invoice.kind == "invoice"
            )
        ).scalars()
        for invoice in invoices:
            assert Decimal(0) <= invoice.paid_total <= invoice.total - invoice.credited_total
        october = get_invoice(s, world["october"])
        assert october.status == "credited" or october.credited_total == 0


def test_a_run_holding_the_customer_and_issuing_its_draft_at_once_never_deadlock(
    db: Database, clock: FrozenClock
) -> None:
    """The probe's deadlock, replayed step by step: a run's batch locks the customer, issuing
    starts on the customer's draft, then the batch asks for the customer's drafts. With the
    draft locked first, issuing would hold it and then wait for a share lock on the customer
    (written twice, the invoice row is checked against its customer again) while the batch
    waits for the draft. Customer first on both paths: issuing waits at the customer row and
    the batch goes on."""
    world = _customer_world(db, clock)
    now = clock.now()
    errors: list[str] = []

    def issue() -> None:
        try:
            with db.transaction() as s:
                issue_invoice(s, world["november"], actor=ADMIN, now=now, render=fake_render)
        except Exception:
            errors.append(traceback.format_exc())

    batch = db.session()
    try:
        if db.dialect == "postgresql":
            batch.execute(text("SET LOCAL lock_timeout = '10s'"))
        else:
            batch.execute(text("SELECT 1"))  # SQLite: the batch's write transaction has begun
        lock_customer_then_documents(batch, [world["customer"]])  # load_batch's first lock
        issuing = threading.Thread(target=issue)
        issuing.start()
        issuing.join(timeout=1.5)  # issuing is under way, waiting on a lock the batch holds
        drafts = open_drafts(batch, [world["customer"]])  # load_batch's next lock
        assert [d.id for d in drafts] == [world["november"]]
        batch.commit()
    finally:
        batch.close()
    issuing.join(timeout=60)
    assert not issuing.is_alive()
    assert errors == []
    with db.transaction() as s:
        assert get_invoice(s, world["november"]).status in ("issued", "partially_paid", "paid")
        assert ledger_balance(s, world["customer"], world["issuer"], "USD").problems == []
