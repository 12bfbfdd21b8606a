"""Billing runs (SPEC 4): a month's charges into draft invoices, one per customer, issuer and
currency, billing nothing twice however often the month is run or wherever a run stopped.

A run is split into groups (one customer of one issuer). Each group is billed in a unit of work of
its own, so a run that stops half-way keeps what it billed, and a re-run bills only the rest. The
charge key (service, kind, period start) is unique in the database: even two runs at once cannot
bill one charge twice. The caller owns the units of work: `run_billing` is handed the edge's
`transaction` and never commits by itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, selectinload

from billing.audit import record
from billing.calendar import Period, add_months, billing_period, first_of_month, local_date
from billing.db import lock_customer_then_documents
from billing.errors import N_, InvalidRequestError, PermissionDeniedError, Text
from billing.invoicing.charges import (
    AT_READY_FOR_SERVICE,
    Charge,
    CommercialModel,
    EarlyTermination,
    Instalment,
    InvalidTermsError,
    ServiceTerms,
    SlaVerdict,
    charges_due,
    unit_code,
)
from billing.invoicing.models import BillingRun, Invoice, InvoiceLine
from billing.invoicing.queries import billed_charges, get_billing_run, open_drafts, tax_rules
from billing.invoicing.sla_credits import sla_verdicts, terminated_by_right
from billing.invoicing.tax import NoTaxRuleError, TaxRule, tax_rule_for
from billing.money import Money
from billing.parties.customers import Seller
from billing.parties.models import Customer, Party
from billing.sales.models import Contract, EarlyTerminationCharge, Service
from billing.sla.models import ChronicFailure
from billing.sla.queries import flagged_before

# A run may bill ahead by one month at most (a month billed in advance), never further.
MONTHS_AHEAD = 1

Transaction = Callable[[], AbstractContextManager[Session]]


class BillingRunError(InvalidRequestError):
    pass


def parse_period(text: str) -> Period:
    """A billing month written YYYY-MM (2026-11)."""
    value = text.strip()
    parts = value.split("-")
    if (
        len(parts) != 2
        or len(parts[0]) != 4
        or len(parts[1]) != 2
        or not (parts[0].isascii() and parts[0].isdigit())
        or not (parts[1].isascii() and parts[1].isdigit())
        or not 1 <= int(parts[1]) <= 12
        or int(parts[0]) < 2000
    ):
        raise BillingRunError(
            N_("%(value)s is not a billing month; write it as YYYY-MM, e.g. 2026-11"),
            {"period": [N_("Write the month as YYYY-MM, e.g. 2026-11.")]},
            value=repr(value[:20]),
        )
    return billing_period(date(int(parts[0]), int(parts[1]), 1))


def check_period(period: Period, today: date) -> None:
    """Refuse a month beyond next month: nothing there is due yet."""
    latest = first_of_month(add_months(first_of_month(today), MONTHS_AHEAD))
    if period.start > latest:
        raise BillingRunError(
            N_(
                "%(month)s is too far ahead: the latest month that can be billed on "
                "%(today)s is %(latest)s"
            ),
            {
                "period": [
                    Text(N_("Choose %(latest)s or an earlier month."), latest=f"{latest:%Y-%m}")
                ]
            },
            month=f"{period.start:%Y-%m}",
            today=today.isoformat(),
            latest=f"{latest:%Y-%m}",
        )


@dataclass(frozen=True, slots=True)
class Group:
    """What one unit of work bills: one customer's services sold by one issuer."""

    customer_id: int
    issuer_party_id: int
    service_ids: tuple[int, ...]


@dataclass(slots=True)
class GroupOutcome:
    invoice_id: int | None = None
    services: int = 0
    charges: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did, for the page and the command line."""

    run_id: int
    period: Period
    issuer: str | None
    state: str
    services: int
    charges: int
    invoices: int
    issued: int
    totals: tuple[Money, ...]
    skipped: tuple[str, ...]
    invoice_ids: tuple[int, ...]


def start_run(
    session: Session,
    *,
    period: Period,
    issuer: Party | None,
    actor: Seller,
    now: datetime,
    issue: bool = False,
) -> BillingRun:
    """Record a run of `period` for `issuer` (None: every party the actor may bill for)."""
    if issuer is None and not actor.is_admin:
        raise PermissionDeniedError(N_("a party's finance staff run billing for their own party"))
    if issuer is not None and not actor.may_sell_for(issuer.id):
        raise PermissionDeniedError(N_("you may not run billing for %(party)s"), party=issuer.code)
    parties = [issuer] if issuer is not None else list(session.execute(select(Party)).scalars())
    for party in parties:
        check_period(period, local_date(now, party.time_zone))
    run = BillingRun(
        period_start=period.start,
        issuer_party_id=None if issuer is None else issuer.id,
        state="running",
        issue=issue,
        started_at=now,
        started_by=actor.label,
    )
    session.add(run)
    session.flush()
    record(
        session,
        actor=actor.label,
        action="billing_run.start",
        entity_type="billing_run",
        entity_id=run.id,
        now=now,
        after={"period": f"{period.start:%Y-%m}", "issuer": issuer.code if issuer else "all"},
    )
    return run


def run_groups(session: Session, run: BillingRun) -> list[Group]:
    """The customers (per issuer) with a service that may owe something up to the month's end."""
    return billing_groups(session, billing_period(run.period_start), run.issuer_party_id)


def billing_groups(session: Session, period: Period, issuer_party_id: int | None) -> list[Group]:
    """The customers (per issuer: one, or every one for None) with a service that may owe
    something up to the end of `period`."""
    stmt = (
        select(Service.customer_id, Contract.party_id, Service.id)
        .join(Contract, Contract.id == Service.contract_id)
        .where(
            Service.ready_for_service_date.is_not(None),
            Service.ready_for_service_date <= period.end,
        )
        .order_by(Service.customer_id, Contract.party_id, Service.id)
    )
    if issuer_party_id is not None:
        stmt = stmt.where(Contract.party_id == issuer_party_id)
    grouped: dict[tuple[int, int], list[int]] = defaultdict(list)
    for customer_id, party_id, service_id in session.execute(stmt):
        grouped[(customer_id, party_id)].append(service_id)
    return [Group(c, p, tuple(ids)) for (c, p), ids in grouped.items()]


DraftKey = tuple[int, int, str]  # customer, issuer, currency: one open draft each


@dataclass(slots=True)
class BatchData:
    """What the groups of one batch read, loaded in a few queries for the whole batch: the
    customers (locked), the issuers, the services with their contracts, terminations and what was
    billed of them, the issuers' tax rules and the open drafts with their last line position."""

    customers: dict[int, Customer]
    parties: dict[int, Party]
    services: dict[int, Service]
    terminations: dict[int, EarlyTerminationCharge]
    billed: dict[int, list[Charge]]
    rules: dict[int, list[TaxRule]]
    drafts: dict[DraftKey, Invoice]
    positions: dict[DraftKey, int]
    # The closed months each service earned an SLA credit in, and the services flagged as
    # chronically failing (SPEC 7).
    sla: dict[int, tuple[SlaVerdict, ...]] = field(default_factory=dict)
    chronic: dict[int, ChronicFailure] = field(default_factory=dict)
    # Lines billed by the batch's groups, written together by `write_pending`.
    pending: list[tuple[GroupOutcome, Invoice, list[dict[str, Any]]]] = field(default_factory=list)


def load_batch(
    session: Session,
    groups: Sequence[Group],
    *,
    period: Period,
    now: datetime,
    lock: bool = True,
) -> BatchData:
    """What `groups` read to bill up to the end of `period` at `now`; `lock=False` for an
    estimate, which writes nothing and so waits for no one."""
    customer_ids = sorted({g.customer_id for g in groups})
    service_ids = [sid for g in groups for sid in g.service_ids]
    # Two runs billing one customer at once queue here (LOCK_ORDER, billing/db.py: customers in
    # id order, then their drafts); the loser then reads what the winner billed, since
    # everything below is read after the lock.
    if lock:
        lock_customer_then_documents(session, customer_ids)
    customers = {
        c.id: c
        for c in session.execute(
            select(Customer)
            .where(Customer.id.in_(customer_ids))
            .order_by(Customer.id)
            .execution_options(populate_existing=True)
        ).scalars()
    }
    party_ids = {g.issuer_party_id for g in groups}
    parties = {
        p.id: p for p in session.execute(select(Party).where(Party.id.in_(party_ids))).scalars()
    }
    services = {
        s.id: s
        for s in session.execute(
            select(Service)
            .where(Service.id.in_(service_ids))
            .options(selectinload(Service.contract).selectinload(Contract.instalments))
        ).scalars()
    }
    terminations = {
        e.service_id: e
        for e in session.execute(
            select(EarlyTerminationCharge).where(EarlyTerminationCharge.service_id.in_(service_ids))
        ).scalars()
    }
    drafts = {
        (d.customer_id, d.issuer_party_id, d.currency): d
        for d in open_drafts(session, customer_ids)
    }
    positions: dict[DraftKey, int] = {}
    if drafts:
        key_of = {d.id: key for key, d in drafts.items()}
        positions = {
            key_of[invoice_id]: int(last or 0)
            for invoice_id, last in session.execute(
                select(InvoiceLine.invoice_id, func.max(InvoiceLine.position))
                .where(InvoiceLine.invoice_id.in_([d.id for d in drafts.values()]))
                .group_by(InvoiceLine.invoice_id)
            )
        }
    return BatchData(
        customers=customers,
        parties=parties,
        services=services,
        terminations=terminations,
        billed=billed_charges(session, service_ids),
        rules={pid: tax_rules(session, pid) for pid in sorted(party_ids)},
        drafts=drafts,
        positions=positions,
        # A run (not an estimate, which writes nothing) records chronic failures as it judges.
        sla=sla_verdicts(
            session,
            services.values(),
            until=period.end,
            now=now,
            record_as="billing run" if lock else None,
        ),
        chronic=flagged_before(session, service_ids),
    )


def bill_group(
    session: Session,
    run: BillingRun,
    group: Group,
    *,
    now: datetime,
    loaded: BatchData | None = None,
) -> GroupOutcome:
    """Bill what the group's services owe up to the end of the run's month into the customer's
    draft invoice of that issuer and currency (made if there is none). `loaded` is what the
    batch read for all its groups at once, and its lines are written with the batch's
    (`write_pending`); without it, the group reads and writes its own."""
    if loaded is None:
        loaded = load_batch(session, [group], period=billing_period(run.period_start), now=now)
        outcome = bill_group(session, run, group, now=now, loaded=loaded)
        write_pending(session, loaded)
        return outcome
    outcome = GroupOutcome()
    period = billing_period(run.period_start)
    customer = loaded.customers[group.customer_id]
    issuer = loaded.parties.get(group.issuer_party_id)
    if issuer is None:  # pragma: no cover - a foreign key
        raise BillingRunError(N_("party %(id)s not found"), id=group.issuer_party_id)
    outcome.services = len(group.service_ids)
    due = group_charges(loaded, group, period, outcome.skipped)
    if not due:
        return outcome
    key = (customer.id, issuer.id, customer.billing_currency)
    invoice = loaded.drafts.get(key)
    if invoice is None:
        invoice = Invoice(
            kind="invoice",
            status="draft",
            issuer_party_id=issuer.id,
            customer_id=customer.id,
            currency=customer.billing_currency,
            period_start=period.start,
            billing_run_id=run.id,
            created_at=now,
        )
        session.add(invoice)  # inserted with the batch's other new drafts
        loaded.drafts[key] = invoice
    else:
        invoice.period_start = max(invoice.period_start, period.start)
        invoice.billing_run_id = run.id
    position = loaded.positions.get(key, 0)
    rows = []
    for service, charge in due:
        position += 1
        rows.append(
            {
                "position": position,
                "service_id": service.id,
                "circuit_id": service.circuit_id,
                "charge_kind": charge.kind.value,
                "charge_period_start": charge.key.period_start,
                "period_start": charge.period.start,
                "period_end": charge.period.end,
                "description": charge.description,
                "quantity": Decimal(1),
                "unit_code": unit_code(charge.kind),
                "price_amount": charge.amount.amount,
                "price_currency": charge.amount.currency,
                "edited_note": "",
            }
        )
    loaded.positions[key] = position
    loaded.pending.append((outcome, invoice, rows))
    outcome.charges = len(due)
    return outcome


def group_charges(
    loaded: BatchData, group: Group, period: Period, skipped: list[str]
) -> list[tuple[Service, Charge]]:
    """What the group's services owe up to the end of `period` and is not billed yet; a service
    whose terms cannot be billed, or a charge with no tax rule, is said in `skipped`."""
    customer = loaded.customers[group.customer_id]
    issuer = loaded.parties[group.issuer_party_id]
    rules = loaded.rules[issuer.id]
    due: list[tuple[Service, Charge]] = []
    for service_id in sorted(group.service_ids):
        service = loaded.services[service_id]
        try:
            terms = service_terms(
                service,
                loaded.terminations.get(service.id),
                loaded.sla.get(service.id, ()),
                chronic=loaded.chronic.get(service.id),
            )
        except InvalidTermsError as exc:
            skipped.append(f"{service.circuit_id}: {exc}")
            continue
        for charge in charges_due(terms, period, loaded.billed.get(service.id, ())):
            try:
                tax_rule_for(rules, issuer.code, customer.country, charge.period.start)
            except NoTaxRuleError as exc:
                skipped.append(f"{service.circuit_id}: {exc.message}")
                continue
            due.append((service, charge))
    return due


@dataclass(frozen=True, slots=True)
class RunEstimate:
    """What a run of one issuer's month would bill, read without writing anything: how many
    draft invoices it would make or add to, and the charges per currency they are priced in
    (before tax and before conversion to the customers' currencies at issue)."""

    issuer: str
    invoices: int
    charges: int
    totals: tuple[Money, ...]
    skipped: int


ESTIMATE_BATCH = 500  # groups read at once: a bound on the estimate's memory


def estimate_run(
    session: Session, *, period: Period, parties: Sequence[Party], now: datetime
) -> list[RunEstimate]:
    """What billing `period` for each of `parties` would bill now, through the charges the run
    itself computes (group_charges); nothing is written or locked."""
    estimates = []
    for party in parties:
        invoices: set[tuple[int, str]] = set()
        totals: dict[str, Money] = {}
        charges, skipped = 0, 0
        groups = billing_groups(session, period, party.id)
        for batch in _batches(groups, ESTIMATE_BATCH):
            loaded = load_batch(session, batch, period=period, now=now, lock=False)
            for group in batch:
                said: list[str] = []
                due = group_charges(loaded, group, period, said)
                skipped += len(said)
                if not due:
                    continue
                customer = loaded.customers[group.customer_id]
                invoices.add((customer.id, customer.billing_currency))
                for _service, charge in due:
                    charges += 1
                    currency = charge.amount.currency
                    totals[currency] = totals.get(currency, Money.zero(currency)) + charge.amount
        estimates.append(
            RunEstimate(
                issuer=party.code,
                invoices=len(invoices),
                charges=charges,
                totals=tuple(totals[c] for c in sorted(totals)),
                skipped=skipped,
            )
        )
    return estimates


def write_pending(session: Session, loaded: BatchData) -> None:
    """Insert the batch's new drafts (one statement) and all its lines (one more): no line
    object is needed in this unit of work."""
    if not loaded.pending:
        return
    session.flush()
    rows: list[dict[str, Any]] = []
    for outcome, invoice, lines in loaded.pending:
        outcome.invoice_id = invoice.id
        rows.extend({**line, "invoice_id": invoice.id} for line in lines)
    session.execute(insert(InvoiceLine), rows)
    loaded.pending.clear()


def service_terms(
    service: Service,
    termination: EarlyTerminationCharge | None,
    sla: tuple[SlaVerdict, ...] = (),
    *,
    chronic: ChronicFailure | None = None,
) -> ServiceTerms:
    """A service row as the charge rules read it, with the SLA credits it earned. A service
    flagged as chronically failing before it ended owes no early-termination charge: the right
    SPEC 7 gives the customer, applied where the charge is billed (the lifecycle, below the
    service levels, records the charge; this reads the flag and waives it)."""
    currency = service.currency

    def money(value: Decimal | None) -> Money | None:
        return None if value is None else Money(value, currency)

    early = None
    if termination is not None:
        early = EarlyTermination(
            Money(termination.amount, termination.currency),
            termination.months_remaining,
            waived=termination.waived_at is not None
            or terminated_by_right(chronic, service.end_date),
        )
    return ServiceTerms(
        service_id=service.id,
        model=CommercialModel(service.model),
        term_months=service.term_months,
        ready_for_service=service.ready_for_service_date,
        end_date=service.end_date,
        mrc=money(service.mrc),
        nrc=money(service.nrc),
        iru_fee=money(service.iru_fee),
        om_rate_percent=service.om_rate_percent,
        payment_plan=tuple(
            Instalment(i.percent, due_date=i.due_date, months_after_rfs=i.months_after_rfs)
            for i in service.contract.instalments
        )
        or AT_READY_FOR_SERVICE,
        early_termination=early,
        sla=sla,
    )


def finish_run(
    session: Session, run_id: int, outcomes: Sequence[GroupOutcome], *, now: datetime
) -> BillingRun:
    run = get_billing_run(session, run_id)
    run.state = "finished"
    run.finished_at = now
    run.services_seen = sum(o.services for o in outcomes)
    run.charges_billed = sum(o.charges for o in outcomes)
    run.invoices_touched = len({o.invoice_id for o in outcomes if o.invoice_id is not None})
    run.skipped = "\n".join(line for o in outcomes for line in o.skipped)
    return run


def summarise(session: Session, run: BillingRun, invoice_ids: Sequence[int]) -> RunSummary:
    """The run's figures, with the totals per currency of the drafts (or invoices) it touched."""
    totals: dict[str, Money] = {}
    if invoice_ids:
        rows = session.execute(
            select(InvoiceLine.price_currency, func.sum(InvoiceLine.price_amount))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.id.in_(invoice_ids), Invoice.billing_run_id == run.id)
            .group_by(InvoiceLine.price_currency)
        )
        for currency, amount in rows:
            totals[currency] = Money(Decimal(amount or 0), currency).rounded()
    return RunSummary(
        run_id=run.id,
        period=billing_period(run.period_start),
        issuer=None if run.issuer is None else run.issuer.code,
        state=run.state,
        services=run.services_seen,
        charges=run.charges_billed,
        invoices=run.invoices_touched,
        issued=run.invoices_issued,
        totals=tuple(totals[c] for c in sorted(totals)),
        skipped=tuple(run.skipped_lines),
        invoice_ids=tuple(invoice_ids),
    )


def run_billing(
    transaction: Transaction,
    *,
    period: Period,
    issuer_code: str | None,
    actor: Seller,
    clock: Callable[[], datetime],
    issue: bool = False,
    issue_drafts: Callable[[Session, Sequence[int]], tuple[int, list[str]]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 50,
) -> RunSummary:
    """Run billing for a month: start, bill each group in its own unit of work, finish.

    `transaction()` is the edge's unit of work (it commits). With `issue`, `issue_drafts`
    issues the drafts the run touched and answers (how many were issued, what was left and why).
    `progress(done, total)` is told after every batch of groups.
    """
    with transaction() as session:
        issuer = None
        if issuer_code is not None:
            issuer = session.execute(
                select(Party).where(Party.code == issuer_code.strip().upper())
            ).scalar_one_or_none()
            if issuer is None:
                raise BillingRunError(
                    N_("%(code)s is not a party"),
                    {"issuer": [N_("Choose AZT or KTC.")]},
                    code=repr(issuer_code[:20]),
                )
        run = start_run(
            session, period=period, issuer=issuer, actor=actor, now=clock(), issue=issue
        )
        run_id = run.id
        groups = run_groups(session, run)
    outcomes: list[GroupOutcome] = []
    done = 0
    if progress is not None:
        progress(0, len(groups))
    try:
        for batch in _batches(groups, batch_size):
            with transaction() as session:
                run = get_billing_run(session, run_id)
                loaded = load_batch(
                    session, batch, period=billing_period(run.period_start), now=clock()
                )
                for group in batch:
                    outcomes.append(bill_group(session, run, group, now=clock(), loaded=loaded))
                write_pending(session, loaded)
            done += len(batch)
            if progress is not None:
                progress(done, len(groups))
        invoice_ids = sorted({o.invoice_id for o in outcomes if o.invoice_id is not None})
        issued, left = 0, list[str]()
        if issue and issue_drafts is not None and invoice_ids:
            with transaction() as session:
                issued, left = issue_drafts(session, invoice_ids)
    except Exception as exc:
        # What the finished batches billed stays billed; a re-run bills the rest.
        with transaction() as session:
            failed = get_billing_run(session, run_id)
            failed.state = "failed"
            failed.finished_at = clock()
            failed.error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    with transaction() as session:
        run = finish_run(session, run_id, [*outcomes, GroupOutcome(skipped=left)], now=clock())
        run.invoices_issued = issued
        return summarise(session, run, invoice_ids)


def _batches(groups: Sequence[Group], size: int) -> Iterator[Sequence[Group]]:
    for start in range(0, len(groups), size):
        yield groups[start : start + size]


# Month-end as jobs (SPEC 12) -------------------------------------------------------------------
#
# A run is one issuer's month. Its jobs (billing/jobs/month_end.py) each do one chunk in one
# short unit of work: bill the next customers, or issue the next drafts; the run row keeps where
# it stands, so a job run twice, or a run resumed after a crash, carries on where the last
# committed chunk stopped.

ACTIVE_STATES = ("queued", "running")
RUN_LEASE_SECONDS = 300
# The task that carries a run, as the job queue names it (billing/jobs/month_end.py).
RUN_TASK = "month_end_step"


def run_lock_key(party_code: str, period_start: date) -> str:
    """The key of an issuer's month: one job of it waits and one runs at a time."""
    return f"month-end:{party_code}:{period_start:%Y-%m}"


def active_run(session: Session, party_id: int, period_start: date) -> BillingRun | None:
    """The issuer's run of this month that is queued or running (there is at most one)."""
    return session.execute(
        select(BillingRun).where(
            BillingRun.issuer_party_id == party_id,
            BillingRun.period_start == period_start,
            BillingRun.state.in_(ACTIVE_STATES),
        )
    ).scalar_one_or_none()


def month_runs(session: Session, party_id: int, period_start: date) -> list[BillingRun]:
    """Every run of the issuer's month, newest first."""
    return list(
        session.execute(
            select(BillingRun)
            .where(BillingRun.issuer_party_id == party_id, BillingRun.period_start == period_start)
            .order_by(BillingRun.id.desc())
        ).scalars()
    )


def has_live_job(session: Session, run_id: int) -> bool:
    """Whether a job of the run waits or runs in the queue (PostgreSQL; on SQLite a run's jobs
    run in the process that asked for it, so there is never one to wait for)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    found = session.execute(
        text(
            "SELECT 1 FROM procrastinate_jobs WHERE task_name = :task"
            " AND status IN ('todo', 'doing') AND (args->>'run_id')::int = :run_id LIMIT 1"
        ),
        {"task": RUN_TASK, "run_id": run_id},
    ).first()
    return found is not None


def is_abandoned(session: Session, run: BillingRun, now: datetime, lease_seconds: int) -> bool:
    """A run is abandoned when it is queued or running, no job of its own waits or runs, and
    its last heartbeat (or its start) is older than the lease."""
    if run.state not in ACTIVE_STATES:
        return False
    last = run.heartbeat_at or run.started_at
    if (now - last).total_seconds() < lease_seconds:
        return False
    return not has_live_job(session, run.id)


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    customers: int
    charges: int
    skipped: tuple[str, ...]


def bill_chunk(session: Session, run: BillingRun, *, now: datetime, size: int) -> ChunkOutcome:
    """Bill the run's next `size` customers (customers, then their drafts locked in LOCK_ORDER)
    and move its counters on. The caller holds the run row's lock and commits."""
    groups = run_groups(session, run)
    run.customers_total = len(groups)
    chunk = groups[run.customers_done : run.customers_done + size]
    outcomes: list[GroupOutcome] = []
    if chunk:
        loaded = load_batch(session, chunk, period=billing_period(run.period_start), now=now)
        outcomes = [bill_group(session, run, group, now=now, loaded=loaded) for group in chunk]
        write_pending(session, loaded)
    run.customers_done = min(run.customers_done + len(chunk), run.customers_total)
    run.services_seen += sum(o.services for o in outcomes)
    run.charges_billed += sum(o.charges for o in outcomes)
    add_skipped(run, [line for o in outcomes for line in o.skipped])
    run.invoices_touched = int(
        session.execute(
            select(func.count(Invoice.id)).where(Invoice.billing_run_id == run.id)
        ).scalar_one()
    )
    run.heartbeat_at = now
    return ChunkOutcome(len(chunk), sum(o.charges for o in outcomes), ())


def add_skipped(run: BillingRun, lines: Sequence[str]) -> None:
    """Keep what the run left out and why, each reason once."""
    known = run.skipped_lines
    new = [line for line in dict.fromkeys(lines) if line not in known]
    if new:
        run.skipped = "\n".join([*known, *new])


def month_drafts(session: Session, run: BillingRun, *, limit: int) -> list[Invoice]:
    """The next drafts the run's issuing phase issues, in id order, past where it stands.

    The rule (SPEC 12, resume): every draft of the issuer made or added to by a run of the same
    issuer and month, this run or an earlier one (crashed or not); drafts edited by hand since
    stay included; drafts of other months are never touched."""
    same_month = select(BillingRun.id).where(
        BillingRun.issuer_party_id == run.issuer_party_id,
        BillingRun.period_start == run.period_start,
    )
    return list(
        session.execute(
            select(Invoice)
            .where(
                Invoice.status == "draft",
                Invoice.kind == "invoice",
                Invoice.issuer_party_id == run.issuer_party_id,
                Invoice.billing_run_id.in_(same_month),
                Invoice.id > run.issued_through_id,
            )
            .order_by(Invoice.id)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Where a run stands, for its page (HTML and JSON) and the command line."""

    id: int
    issuer: str | None
    period: Period
    issue: bool
    state: str
    phase: str  # billing, issuing, rendering, done
    abandoned: bool
    customers_total: int
    customers_done: int
    services: int
    charges: int
    drafts: int
    issued: int
    rendered: int
    skipped: tuple[str, ...]
    errors: tuple[str, ...]
    started_at: datetime
    finished_at: datetime | None
    started_by: str
    cancel_requested: bool
    series_hold_max_ms: int
    totals: tuple[Money, ...]


def run_progress(
    session: Session, run_id: int, now: datetime, *, lease_seconds: int = RUN_LEASE_SECONDS
) -> RunProgress:
    run = get_billing_run(session, run_id)
    session.refresh(run)
    totals: dict[str, Money] = {}
    for currency, amount in session.execute(
        select(InvoiceLine.price_currency, func.sum(InvoiceLine.price_amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.billing_run_id == run.id)
        .group_by(InvoiceLine.price_currency)
    ):
        totals[currency] = Money(Decimal(amount or 0), currency).rounded()
    rendered = 0
    if run.issue and run.invoices_issued:
        same_month = select(BillingRun.id).where(
            BillingRun.issuer_party_id == run.issuer_party_id,
            BillingRun.period_start == run.period_start,
        )
        rendered = min(
            run.invoices_issued,
            int(
                session.execute(
                    select(func.count(Invoice.id)).where(
                        Invoice.billing_run_id.in_(same_month),
                        Invoice.status != "draft",
                        Invoice.issued_at >= run.started_at,
                        Invoice.pdf_sha256.is_not(None),
                    )
                ).scalar_one()
            ),
        )
    phase = run.phase
    if run.state == "finished" and run.issue and rendered < run.invoices_issued:
        phase = "rendering"
    return RunProgress(
        id=run.id,
        issuer=None if run.issuer is None else run.issuer.code,
        period=billing_period(run.period_start),
        issue=run.issue,
        state=run.state,
        phase=phase,
        abandoned=is_abandoned(session, run, now, lease_seconds),
        customers_total=run.customers_total,
        customers_done=run.customers_done,
        services=run.services_seen,
        charges=run.charges_billed,
        drafts=run.invoices_touched,
        issued=run.invoices_issued,
        rendered=rendered,
        skipped=tuple(run.skipped_lines),
        errors=tuple(line for line in run.error.splitlines() if line),
        started_at=run.started_at,
        finished_at=run.finished_at,
        started_by=run.started_by,
        cancel_requested=run.cancel_requested_at is not None,
        series_hold_max_ms=run.series_hold_max_ms,
        totals=tuple(totals[c] for c in sorted(totals)),
    )
