"""A month's billing run over 1,000 customers and 10,000 services, against its floor, on PostgreSQL.

Builds a database of its own (BENCH_DATABASE_URL, default postgresql:///tcf_bench_billing),
migrates it and loads the demo reference data and tax rules, then bulk-inserts 1,000 customers
(half AZT's, half KTC's, in Germany, billed in USD), one accepted quote and contract each, and 10
services per contract (10,000 in all: 100G wavelength leases at 3,000 a month and 500 once, ready
for service on 1 November 2026). Then, in the same process:

1. the floor: the same number of invoice and line rows (1,000 and 20,000) with plain bulk inserts,
   committed, then deleted;
2. `run_billing` for 2026-11, drafts only (no PDFs), timed, with the growth of the process's peak
   resident memory over its resident memory at the start (VmHWM, reset before the run);
3. the same run again under tracemalloc, for the peak of what Python allocates during it;
4. the run's rows deleted, and the same run with issue: every draft numbered, priced and its PDF
   rendered by `render_invoices` (on every core) and stored.

Prints both times, the ratio of the run to the floor (target <= 3) and the memory growth (target
<= 200 MB). Run it by hand; it is not a test.

    .venv/bin/python bench/billing_run.py [--customers 1000] [--services-per-customer 10]
        [--no-issue] [--keep-db] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PERIOD = "2026-11"
READY = date(2026, 11, 1)
MRC, NRC = Decimal("3000.00"), Decimal("500.00")
TARGET_RATIO = 3.0
TARGET_MEMORY_MB = 200


def recreate_database(url: str) -> None:
    from billing.db import normalise_url

    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("postgresql"):
        raise SystemExit(f"BENCH_DATABASE_URL must be PostgreSQL, not {parsed.drivername}")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    from billing.db import normalise_url

    parsed = make_url(normalise_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def reset_peak_rss() -> float:
    """Start measuring the peak afresh (Linux: VmHWM is reset to the current RSS); the RSS now.

    Building the world makes the process's peak far above what the run needs, so the peak since
    the process began (ru_maxrss) would hide the run's own growth."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mb("VmRSS") or peak_rss_mb()


def peak_rss_mb() -> float:
    """The peak resident memory since the last reset (VmHWM), else since the process began."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


# --- the world ----------------------------------------------------------------------------------


def build_world(db: Any, customers: int, per_customer: int) -> None:
    """Bulk-insert customers, quotes, lines, contracts, reservations and active services."""
    from billing.inventory.models import Product, Route, SpectrumReservation
    from billing.parties.models import Customer, Party
    from billing.sales.models import (
        Contract,
        PriceBookEntry,
        PriceBookVersion,
        Quote,
        QuoteLine,
        Service,
    )

    signed = datetime(2026, 10, 20, 9, tzinfo=UTC)
    with db.transaction() as s:
        parties = list(s.execute(select(Party).order_by(Party.id)).scalars())
        product = s.execute(select(Product).where(Product.code == "WL100G")).scalar_one()
        route = s.execute(select(Route).where(Route.code == "main")).scalar_one()
        version_id = s.execute(
            insert(PriceBookVersion).returning(PriceBookVersion.id),
            [{"name": "bench", "effective_from": date(2026, 10, 1), "created_at": signed}],
        ).scalar_one()
        entry_id = s.execute(
            insert(PriceBookEntry).returning(PriceBookEntry.id),
            [
                {
                    "version_id": version_id,
                    "product_id": product.id,
                    "protection": "unprotected",
                    "model": "lease",
                    "term_min_months": 12,
                    "term_max_months": 60,
                    "unit": "circuit",
                    "mrc": MRC,
                    "nrc": NRC,
                }
            ],
        ).scalar_one()
        owners = [parties[i % len(parties)] for i in range(customers)]
        customer_ids = list(
            s.execute(
                insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
                [
                    {
                        "legal_name": f"Bench Carrier {i:05d} GmbH",
                        "country": "DE",
                        "billing_currency": "USD",
                        "payment_terms_days": 30,
                        "owner_party_id": owners[i].id,
                        "created_at": signed,
                    }
                    for i in range(customers)
                ],
            ).scalars()
        )
        quote_ids = list(
            s.execute(
                insert(Quote).returning(Quote.id, sort_by_parameter_order=True),
                [
                    {
                        "number": f"Q-2026-B{i:06d}",
                        "customer_id": cid,
                        "party_id": owners[i].id,
                        "price_book_version_id": version_id,
                        "currency": "USD",
                        "state": "accepted",
                        "valid_until": signed + timedelta(days=30),
                        "created_at": signed,
                        "accepted_at": signed,
                    }
                    for i, cid in enumerate(customer_ids)
                ],
            ).scalars()
        )
        line_ids = list(
            s.execute(
                insert(QuoteLine).returning(QuoteLine.id, sort_by_parameter_order=True),
                [
                    {
                        "quote_id": qid,
                        "position": 1,
                        "product_id": product.id,
                        "route_id": route.id,
                        "protection": "unprotected",
                        "model": "lease",
                        "term_months": 12,
                        "quantity": per_customer,
                        "width_ghz": Decimal("75"),
                        "width_slots": 6,
                        "price_book_entry_id": entry_id,
                        "list_mrc": MRC,
                        "list_nrc": NRC,
                        "mrc": MRC,
                        "nrc": NRC,
                        "early_termination_percent": Decimal("50"),
                    }
                    for qid in quote_ids
                ],
            ).scalars()
        )
        contract_ids = list(
            s.execute(
                insert(Contract).returning(Contract.id, sort_by_parameter_order=True),
                [
                    {
                        "number": f"C-2026-B{i:06d}",
                        "quote_id": qid,
                        "customer_id": customer_ids[i],
                        "party_id": owners[i].id,
                        "signed_at": signed,
                    }
                    for i, qid in enumerate(quote_ids)
                ],
            ).scalars()
        )
        reservation_ids = list(
            s.execute(
                insert(SpectrumReservation).returning(
                    SpectrumReservation.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "route_id": route.id,
                        "protection": "unprotected",
                        "product_id": product.id,
                        "width_slots": 6,
                        "customer_id": customer_ids[i],
                        "kind": "sale",
                        "created_at": signed,
                    }
                    for i in range(customers)
                    for _ in range(per_customer)
                ],
            ).scalars()
        )
        s.execute(
            insert(Service),
            [
                {
                    "circuit_id": f"TCF-WL-{n + 1:06d}",
                    "contract_id": contract_ids[n // per_customer],
                    "customer_id": customer_ids[n // per_customer],
                    "quote_line_id": line_ids[n // per_customer],
                    "product_id": product.id,
                    "reservation_id": reservation_id,
                    "protection": "unprotected",
                    "model": "lease",
                    "term_months": 12,
                    "currency": "USD",
                    "mrc": MRC,
                    "nrc": NRC,
                    "early_termination_percent": Decimal("50"),
                    "state": "active",
                    "ready_for_service_date": READY,
                    "created_at": signed,
                }
                for n, reservation_id in enumerate(reservation_ids)
            ],
        )


# --- the floor and the run ----------------------------------------------------------------------


def clear_billing(db: Any) -> None:
    from billing.invoicing.models import BillingRun, Invoice, InvoiceLine, InvoiceTax

    with db.transaction() as s:
        s.execute(text("UPDATE invoices SET credited_invoice_id = NULL"))
        for model in (InvoiceTax, InvoiceLine, Invoice, BillingRun):
            s.execute(delete(model))
        s.execute(text("DELETE FROM sequences"))  # numbering starts again at 1


def floor(db: Any, customers: int, lines_per_invoice: int) -> float:
    """Plain bulk inserts of as many invoice and line rows as the run writes, committed."""
    from billing.invoicing.models import Invoice, InvoiceLine
    from billing.parties.models import Customer

    with db.transaction() as s:
        owners = list(
            s.execute(
                select(Customer.id, Customer.owner_party_id)
                .where(Customer.legal_name.like("Bench Carrier %"))
                .order_by(Customer.id)
            )
        )
    started = time.perf_counter()
    with db.transaction() as s:
        invoice_ids = list(
            s.execute(
                insert(Invoice).returning(Invoice.id, sort_by_parameter_order=True),
                [
                    {
                        "kind": "invoice",
                        "status": "draft",
                        "issuer_party_id": party,
                        "customer_id": cid,
                        "currency": "USD",
                        "period_start": READY,
                        "created_at": NOW,
                    }
                    for cid, party in owners
                ],
            ).scalars()
        )
        s.execute(
            insert(InvoiceLine),
            [
                {
                    "invoice_id": iid,
                    "position": p + 1,
                    "service_id": None,
                    "circuit_id": f"TCF-WL-{i * lines_per_invoice + p:06d}",
                    "charge_kind": None,
                    "charge_period_start": None,
                    "period_start": READY,
                    "period_end": date(2026, 11, 30),
                    "description": "Monthly recurring charge, November 2026",
                    "quantity": Decimal(1),
                    "price_amount": MRC,
                    "price_currency": "USD",
                }
                for i, iid in enumerate(invoice_ids)
                for p in range(lines_per_invoice)
            ],
        )
    return time.perf_counter() - started


def traced_peak_mb(db: Any) -> float:
    """The drafts-only run again, under tracemalloc: the peak of what Python allocated during it
    (RSS barely moves, since the run reuses the memory freed after building the world)."""
    clear_billing(db)
    tracemalloc.start()
    try:
        billing_run(db, issue=False, profile=False)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def billing_run(db: Any, *, issue: bool, profile: bool) -> tuple[Any, float, float]:
    from billing.clock import FrozenClock
    from billing.invoicing.issuing import issue_drafts_of_run
    from billing.invoicing.rendering import render_invoices
    from billing.invoicing.runs import parse_period, run_billing
    from billing.parties.customers import Seller

    clock = FrozenClock(NOW)
    actor = Seller("bench", None)
    rss_before = reset_peak_rss()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    summary = run_billing(
        db.transaction,
        period=parse_period(PERIOD),
        issuer_code=None,
        actor=actor,
        clock=clock.now,
        issue=issue,
        issue_drafts=lambda session, ids: issue_drafts_of_run(
            session, ids, actor=actor, now=clock.now(), render=render_invoices
        ),
    )
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return summary, elapsed, peak_rss_mb() - rss_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--services-per-customer", type=int, default=10)
    parser.add_argument("--no-issue", action="store_true", help="Skip the run with issue")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the drafts-only run")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql:///tcf_bench_billing")

    from billing.db import Database, upgrade
    from billing.seed import seed_demo

    recreate_database(url)
    try:
        upgrade(url, "head")
        db = Database(url)
        with db.transaction() as s:
            seed_demo(s, now=NOW, with_users=False)
        started = time.perf_counter()
        build_world(db, args.customers, args.services_per_customer)
        services = args.customers * args.services_per_customer
        print(f"machine: {machine()}")
        print(
            f"world: {args.customers} customers, {services} active services "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()

        lines_per_invoice = 2 * args.services_per_customer  # MRC and NRC of each service
        floor_s = floor(db, args.customers, lines_per_invoice)
        clear_billing(db)
        print(
            f"floor: {args.customers} invoices + {args.customers * lines_per_invoice} lines "
            f"by bulk insert: {floor_s:.2f} s"
        )

        summary, run_s, grown = billing_run(db, issue=False, profile=args.profile)
        ratio = run_s / floor_s
        print(
            f"run (drafts only): {run_s:.2f} s for {summary.invoices} invoices, "
            f"{summary.charges} charges, {summary.services} services"
        )
        print(
            f"ratio run/floor: {ratio:.2f} (target <= {TARGET_RATIO:g}: "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})"
        )
        traced = traced_peak_mb(db)
        print(
            f"memory: resident peak grew {grown:.0f} MB; Python's allocations peaked at "
            f"{traced:.0f} MB during the run (tracemalloc, a second run) (target <= "
            f"{TARGET_MEMORY_MB}: {'met' if max(grown, traced) <= TARGET_MEMORY_MB else 'NOT met'})"
        )
        if not args.no_issue:
            clear_billing(db)
            summary, issue_s, grown = billing_run(db, issue=True, profile=False)
            print(
                f"run with issue: {issue_s:.2f} s for {summary.invoices} invoices, "
                f"{summary.issued} issued with PDFs (peak memory growth {grown:.0f} MB)"
            )
            if summary.skipped:
                print(f"  skipped: {summary.skipped[:3]}")
        db.dispose()
    finally:
        if not args.keep_db:
            drop_database(url)


if __name__ == "__main__":
    main()
