"""Month-end through the job queue (SPEC 12), with 1 and then 2 worker processes, on PostgreSQL.

Builds a database of its own (BENCH_DATABASE_URL, default postgresql:///tcf_bench_month_end),
migrates it, loads the demo reference data and bulk-inserts the world of bench/billing_run.py:
1,000 customers (half AZT's, half KTC's), 10 services each (10,000 in all). Then, in one run of
this script, for 1 worker and then for 2 (the billing rows and the jobs cleared between them):

1. `request_run` for November 2026 with issue, both issuers, committed: the clock starts;
2. that many `flask worker` processes, started (real processes, as in production) and waiting
   before step 1, take the jobs; the script polls the database until every run has finished and every issued invoice has its PDF:
   the clock stops. Each worker's peak resident memory (VmHWM) is read just before it is stopped;
3. the workers' log lines "number series held N ms" give the per-chunk hold of the number series.

Between the two, the PDF batch baseline: the same invoices' documents rendered straight through
`render_invoice` in 1 process and in 2 (a fork pool), with no database, no queue and no storing.

Prints invoices per second for each, the ratios against their targets (2 workers >= 1.7 x 1;
month-end >= 0.8 x the batch with as many processes; number series held <= 2 s per chunk at p99;
<= 300 MB per worker) and writes the figures to bench/results/month-end-<time>.json. Run it by
hand on a machine doing nothing else; it is not a test.

    .venv/bin/python bench/month_end.py [--customers 1000] [--services-per-customer 10]
        [--keep-db] [--batch-sample 200]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import billing_run as world  # noqa: E402 - the bench folder's world builder

PERIOD = "2026-11"
TARGET_SCALING = 1.7
TARGET_VS_BATCH = 0.8
TARGET_HOLD_MS = 2000.0
TARGET_WORKER_MB = 300.0
HOLD_LINE = re.compile(r"number series held (\d+(?:\.\d+)?) ?ms")


def clear(db: Any) -> None:
    """The billing rows and every job, so that the next month-end starts from the same world."""
    world.clear_billing(db)
    with db.transaction() as s:
        s.execute(
            text(
                "TRUNCATE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
                "procrastinate_workers RESTART IDENTITY CASCADE"
            )
        )


def vm_peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def progress(db: Any) -> tuple[int, int, int, int]:
    """(runs not yet ended, issued documents, issued documents without their PDF, jobs pending)."""
    with db.transaction() as s:
        open_runs = s.execute(
            text("SELECT count(*) FROM billing_runs WHERE state IN ('queued', 'running')")
        ).scalar_one()
        issued, waiting = s.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE pdf_sha256 IS NULL) FROM invoices "
                "WHERE status <> 'draft'"
            )
        ).one()
        pending = s.execute(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND queue_name IN ('month_end', 'documents')"
            )
        ).scalar_one()
    return int(open_runs), int(issued), int(waiting), int(pending)


def month_end(db: Any, url: str, workers: int, logs: Path) -> dict[str, Any]:
    from billing import create_app
    from billing.clock import FrozenClock
    from billing.invoicing.runs import parse_period
    from billing.jobs.month_end import request_run
    from billing.parties.customers import Seller

    clear(db)
    now = datetime.now(UTC)
    app = create_app({"DATABASE_URL": url, "BILLING_ENV": "development", "CLOCK": FrozenClock(now)})
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BILLING_ENV": "development",
        "FLASK_APP": "app",
        "LOG_LEVEL": "INFO",
    }
    processes = []
    log_files = []
    for n in range(workers):
        log_file = (logs / f"worker-{workers}-{n}.log").open("w")
        log_files.append(log_file)
        processes.append(
            subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "flask"), "worker"],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        )
    # The clock starts once every worker is up and waiting (registered with a heartbeat).
    deadline = time.monotonic() + 60
    while True:
        with db.transaction() as s:
            ready = s.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one()
        if ready >= workers:
            break
        if time.monotonic() > deadline:
            for p in processes:
                p.kill()
            raise SystemExit(f"the workers did not start: see {logs}")
        time.sleep(0.2)
    started = time.perf_counter()
    with app.app_context(), app.extensions["billing.db"].transaction() as s:
        requests = request_run(
            s,
            period=parse_period(PERIOD),
            issuer_code=None,
            issue=True,
            actor=Seller("bench", None),
            now=now,
        )
    peaks = [0.0] * workers
    try:
        while True:
            time.sleep(0.5)
            for i, p in enumerate(processes):
                peaks[i] = max(peaks[i], vm_peak_mb(p.pid))
                if p.poll() is not None:
                    raise SystemExit(f"worker {i} stopped (exit {p.returncode}): see {logs}")
            open_runs, issued, waiting, pending = progress(db)
            if open_runs == 0 and pending == 0 and waiting == 0:
                break
        elapsed = time.perf_counter() - started
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(30)
        for f in log_files:
            f.close()
    holds = []
    for n in range(workers):
        holds += [
            float(m) for m in HOLD_LINE.findall((logs / f"worker-{workers}-{n}.log").read_text())
        ]
    with db.transaction() as s:
        states = [
            str(state)
            for state in s.execute(
                text("SELECT state FROM billing_runs WHERE id = ANY(:ids)"),
                {"ids": [r.run_id for r in requests]},
            ).scalars()
        ]
        drafts_left = s.execute(
            text("SELECT count(*) FROM invoices WHERE status = 'draft'")
        ).scalar_one()
    return {
        "workers": workers,
        "seconds": elapsed,
        "invoices": issued,
        "invoices_per_second": issued / elapsed,
        "run_states": states,
        "drafts_left": int(drafts_left),
        "worker_peak_mb": peaks,
        "series_hold_ms": holds,
    }


def _render(document: Any) -> bytes:
    from billing.invoicing.rendering import render_invoice

    return render_invoice(document)


def pdf_batch(db: Any, sample: int) -> dict[int, float]:
    """Documents per second, rendered straight through, with 1 process and with 2."""
    from sqlalchemy.orm import selectinload

    from billing.invoicing.issuing import document_of
    from billing.invoicing.models import Invoice

    with db.transaction() as s:
        invoices = (
            s.execute(
                select(Invoice)
                .where(Invoice.status != "draft")
                .order_by(Invoice.id)
                .limit(sample)
                .options(selectinload(Invoice.lines), selectinload(Invoice.taxes))
            )
            .scalars()
            .all()
        )
        documents = [document_of(i) for i in invoices]
    if not documents:
        raise SystemExit("no issued invoice to render for the PDF baseline")
    rates: dict[int, float] = {}
    for processes in (1, 2):
        started = time.perf_counter()
        if processes == 1:
            for d in documents:
                _render(d)
        else:
            with ProcessPoolExecutor(processes, mp_context=get_context("fork")) as pool:
                list(pool.map(_render, documents, chunksize=8))
        rates[processes] = len(documents) / (time.perf_counter() - started)
    return rates


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--services-per-customer", type=int, default=10)
    parser.add_argument("--batch-sample", type=int, default=200)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql:///tcf_bench_month_end")

    from billing.db import Database, upgrade
    from billing.seed import seed_demo

    logs = ROOT / "bench" / "results" / "month-end-logs"
    logs.mkdir(parents=True, exist_ok=True)
    world.recreate_database(url)
    try:
        upgrade(url, "head")
        db = Database(url)
        with db.transaction() as s:
            seed_demo(s, now=world.NOW, with_users=False)
        world.build_world(db, args.customers, args.services_per_customer)
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        print(f"machine: {world.machine()}; load average before: {os.getloadavg()}")
        print(
            f"world: {args.customers} customers, "
            f"{args.customers * args.services_per_customer} services"
        )
        one = month_end(db, url, 1, logs)
        batch = pdf_batch(db, args.batch_sample)
        two = month_end(db, url, 2, logs)
        db.dispose()
    finally:
        if not args.keep_db:
            world.drop_database(url)

    holds = one["series_hold_ms"] + two["series_hold_ms"]
    scaling = two["invoices_per_second"] / one["invoices_per_second"]
    vs_batch_1 = one["invoices_per_second"] / batch[1]
    vs_batch_2 = two["invoices_per_second"] / batch[2]
    worker_mb = max(one["worker_peak_mb"] + two["worker_peak_mb"])

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    for r in (one, two):
        print(
            f"{r['workers']} worker(s): {r['invoices']} invoices issued with PDFs in "
            f"{r['seconds']:.1f} s = {r['invoices_per_second']:.2f}/s; runs {r['run_states']}, "
            f"drafts left {r['drafts_left']}; worker peak RSS "
            + ", ".join(f"{mb:.0f} MB" for mb in r["worker_peak_mb"])
        )
    print(f"PDF batch: 1 process {batch[1]:.2f}/s, 2 processes {batch[2]:.2f}/s")
    print(
        f"2 workers / 1 worker: {scaling:.2f} (target >= {TARGET_SCALING}: {verdict(scaling >= TARGET_SCALING)})"
    )
    print(
        f"month-end / PDF batch: {vs_batch_1:.2f} with 1, {vs_batch_2:.2f} with 2 "
        f"(target >= {TARGET_VS_BATCH}: {verdict(min(vs_batch_1, vs_batch_2) >= TARGET_VS_BATCH)})"
    )
    print(
        f"number series held per issuing chunk: {len(holds)} chunks, p50 "
        f"{statistics.median(holds) if holds else float('nan'):.0f} ms, p99 {p99(holds):.0f} ms, "
        f"max {max(holds) if holds else float('nan'):.0f} ms "
        f"(target p99 <= {TARGET_HOLD_MS:.0f}: {verdict(bool(holds) and p99(holds) <= TARGET_HOLD_MS)})"
    )
    print(
        f"memory per worker: {worker_mb:.0f} MB (target <= {TARGET_WORKER_MB:.0f}: {verdict(worker_mb <= TARGET_WORKER_MB)})"
    )
    print(f"load average after: {os.getloadavg()}")
    out = ROOT / "bench" / "results" / f"month-end-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(
        json.dumps({"one": one, "two": two, "batch": batch, "machine": world.machine()}, indent=2)
    )
    print(f"figures: {out}")


if __name__ == "__main__":
    main()
