"""Availability under load: GET /api/v1/availability against GET /healthz, on PostgreSQL.

Builds a database of its own (BENCH_DATABASE_URL, default postgresql:///tcf_bench), migrates and
seeds it with the CLI, fills the 2 segments x 4 fiber pairs to 250 live allocations each (2,000 in
all, fragmented into one-slot ranges), serves the app with gunicorn (2 sync workers) on 127.0.0.1
and drives both endpoints from client threads in this process. Every phase is bounded by a request
count and a time limit. Prints requests per second, p50 and p99 latency, and the ratio of
availability to healthz throughput (the target is 0.5 or more).

    make bench
    .venv/bin/python bench/availability.py --duration 20 --clients 4
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
# Import billing from the tree this script sits in, the one gunicorn serves.
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
AVAILABILITY = "/api/v1/availability?route=main&protection=protected&product=WL100G"
HEALTHZ = "/healthz"
SEGMENTS = ("S1", "S2")
ALLOCATIONS_PER_PAIR = 250  # x 8 fiber pairs = 2,000 live allocations
TARGET_RATIO = 0.5
FREE_TAIL = 12  # slots kept free at the top of each band: room for a first fit


# --- database -----------------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    """Drop and create the bench database, connected to the server's `postgres` database."""
    from billing.db import normalise_url

    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("postgresql"):
        raise SystemExit(f"BENCH_DATABASE_URL must be PostgreSQL, not {parsed.drivername}")
    name = parsed.database
    if not name:
        raise SystemExit("BENCH_DATABASE_URL names no database")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    from billing.db import normalise_url

    parsed = make_url(normalise_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def flask_cli(env: dict[str, str], *args: str) -> str:
    """Run `flask …` the way an operator does (migrations and seed go through the real CLI)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def fill_spectrum(url: str, now: datetime) -> dict[str, int]:
    """Top every fiber pair of S1 and S2 up to ALLOCATIONS_PER_PAIR live one-slot allocations.

    The free slots left over are spread evenly between them (a free slot after every two or
    three allocations: about as fragmented as the count allows), except a free tail at the top of
    the band where a wavelength still fits. Four in five are allocated, the rest held for a week.
    Whatever the demo seed already holds is counted and never overlapped; the database's
    exclusion constraint would refuse an overlap anyway.
    """
    from billing.db import Database
    from billing.inventory.models import (
        Allocation,
        FiberPair,
        Segment,
        SpectrumReservation,
    )
    from billing.inventory.queries import live_condition
    from billing.parties.models import Customer

    db = Database(url)
    added = 0
    with db.transaction() as session:
        customers = list(session.execute(select(Customer.id).order_by(Customer.id)).scalars())
        pairs = session.execute(
            select(FiberPair.id, FiberPair.slot_count, Segment.route_id)
            .join(Segment, FiberPair.segment_id == Segment.id)
            .where(Segment.code.in_(SEGMENTS))
            .order_by(Segment.code, FiberPair.number)
        ).all()
        if len(pairs) != 8:
            raise SystemExit(f"expected 2 segments x 4 fiber pairs, found {len(pairs)} pairs")
        for pair_id, slot_count, route_id in pairs:
            taken = session.execute(
                select(Allocation.first_slot, Allocation.end_slot).where(
                    Allocation.fiber_pair_id == pair_id, live_condition(now)
                )
            ).all()
            busy = {s for first, end in taken for s in range(first, end)}
            wanted = ALLOCATIONS_PER_PAIR - len(taken)
            free = [s for s in range(slot_count) if s not in busy][:-FREE_TAIL]
            gaps = len(free) - wanted
            if gaps < 0:
                raise SystemExit(f"fiber pair {pair_id}: no room for {wanted} allocations")
            # Leave `gaps` free slots spread evenly between the allocations.
            slots = [
                s
                for i, s in enumerate(free)
                if (i + 1) * gaps // len(free) == i * gaps // len(free)
            ]
            reservations = session.execute(
                insert(SpectrumReservation).returning(
                    SpectrumReservation.id, sort_by_parameter_order=True
                ),
                [
                    dict(
                        route_id=route_id,
                        protection="unprotected",
                        product_id=None,
                        width_slots=1,
                        customer_id=customers[i % len(customers)] if customers else None,
                        purpose="bench",
                        created_at=now,
                        created_by="bench",
                    )
                    for i in range(len(slots))
                ],
            ).scalars()
            rows = []
            for i, (slot, reservation_id) in enumerate(zip(slots, reservations, strict=True)):
                held = i % 5 == 4
                rows.append(
                    dict(
                        reservation_id=reservation_id,
                        fiber_pair_id=pair_id,
                        first_slot=slot,
                        end_slot=slot + 1,
                        state="hold" if held else "allocated",
                        hold_expires_at=now + timedelta(days=7) if held else None,
                        created_at=now,
                        allocated_at=None if held else now,
                    )
                )
            session.execute(insert(Allocation), rows)
            added += len(rows)
        live = session.execute(
            select(Allocation.id).where(
                Allocation.fiber_pair_id.in_([p.id for p in pairs]), live_condition(now)
            )
        ).all()
    db.dispose()
    return {"added": added, "live": len(live)}


def make_api_key(url: str, now: datetime) -> str:
    from billing.access.services import create_api_key
    from billing.db import Database
    from billing.parties.models import Customer

    db = Database(url)
    with db.transaction() as session:
        customer = session.execute(select(Customer.id).order_by(Customer.id)).scalars().first()
        if customer is None:
            raise SystemExit("the demo seed made no customer to own the bench API key")
        _, secret = create_api_key(
            session, customer_id=customer, name="bench", actor="bench", now=now
        )
    db.dispose()
    return secret


# --- server -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[Any]:
    """The production command line (see the Dockerfile), bound to loopback only."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "app:app",
    ]
    out = log.open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(port: int, server: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited during start-up; see bench/results/gunicorn.log")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", HEALTHZ)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {HEALTHZ} within {timeout:.0f} s")


# --- load ---------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    path: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = math.ceil(p / 100 * len(ordered))  # nearest-rank percentile
        return ordered[min(len(ordered), max(1, rank)) - 1]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.count,
            "errors": len(self.errors),
            "seconds": round(self.elapsed, 3),
            "req_per_s": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
        }


CHECK_EVERY = 100


def drive(
    name: str,
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    clients: int,
    duration: float,
    max_requests: int,
    check: Callable[[bytes], str | None] | None = None,
) -> PhaseResult:
    """`clients` threads, each on its own connection, until the time or the count runs out.

    http.client keeps the connection open when the server allows it and reconnects when the
    server closes it (gunicorn's sync workers close after every response).
    """
    result = PhaseResult(name, path)
    lock = threading.Lock()
    issued = 0
    start = threading.Barrier(clients + 1)
    stop_at = 0.0

    def take_ticket() -> bool:
        nonlocal issued
        with lock:
            if issued >= max_requests or time.perf_counter() >= stop_at:
                return False
            issued += 1
            return True

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        latencies: list[float] = []
        errors: list[str] = []
        served = 0
        start.wait()
        while take_ticket():
            began = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                errors.append(type(error).__name__)
                conn.close()
                continue
            latencies.append(time.perf_counter() - began)
            served += 1
            # Every answer's status and length are checked; its content in full on a sample
            # (the first, then one in CHECK_EVERY). Parsing a 100 KB answer takes this client
            # about 0.6 ms under the GIL: parsing every one made the load generator, not the
            # server, the bottleneck of the availability phases.
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
            elif len(body) != int(response.getheader("Content-Length", len(body))):
                errors.append("short answer")
            elif (
                check is not None
                and (served == 1 or served % CHECK_EVERY == 0)
                and (problem := check(body))
            ):
                errors.append(problem)
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            result.errors.extend(errors)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at = began + duration
    start.wait()
    for thread in threads:
        thread.join(timeout=duration + 60)
    result.elapsed = time.perf_counter() - began
    return result


def check_availability(expected_pairs: int) -> Callable[[bytes], str | None]:
    def check(body: bytes) -> str | None:
        data = json.loads(body)
        pairs = data.get("fiber_pairs", [])
        if len(pairs) != expected_pairs:
            return f"{len(pairs)} fiber pairs in the answer, not {expected_pairs}"
        if not data.get("suggestion"):
            return "no first-fit suggestion"
        return None

    return check


def check_healthz(body: bytes) -> str | None:
    return None if json.loads(body).get("status") == "ok" else "healthz not ok"


# --- report -------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
    }


def load_average() -> str:
    """The 1-minute load average: anything else running on the machine skews the figures."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--max-requests", type=int, default=100_000, help="requests per phase")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=2, help="healthz/availability rounds")
    parser.add_argument("--keep-db", action="store_true", help="leave the database behind")
    parser.add_argument(
        "--keep-server",
        action="store_true",
        help="leave gunicorn running after the run (prints its pid and the API key), to profile",
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", "postgresql:///tcf_bench")
    now = datetime.now(UTC)
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FLASK_APP": "app",
        "DATABASE_URL": url,
        "BILLING_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }

    host, load_before = machine(), load_average()
    print(f"machine    {host['cpus']} CPUs, {host['cpu']}, {host['memory']}, load {load_before}")
    print(f"database   {url}")
    recreate_database(url)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "seed", "demo", "--no-history")
    filled = fill_spectrum(url, now)
    print(f"spectrum   {filled['live']} live allocations on S1+S2 ({filled['added']} added)")
    key = make_api_key(url, now)

    port = free_port()
    log = RESULTS / "gunicorn.log"
    server = start_gunicorn(env, port, args.workers, log)
    results: dict[str, PhaseResult] = {}
    try:
        wait_ready(port, server)
        auth = {"Authorization": f"Bearer {key}"}
        probe = http.client.HTTPConnection(HOST, port, timeout=30)
        probe.request("GET", AVAILABILITY, headers=auth)
        first = probe.getresponse()
        body = first.read()
        probe.close()
        if first.status != 200:
            raise SystemExit(f"availability answered {first.status}: {body[:500]!r}")
        expected_pairs = len(json.loads(body)["fiber_pairs"])
        print(f"server     gunicorn, {args.workers} workers, http://{HOST}:{port}")
        print(f"answer     {len(body):,} bytes, {expected_pairs} fiber pairs")
        bounds = {"clients": args.clients, "max_requests": args.max_requests}
        # Warm both endpoints (imports, connection pools) before anything is measured.
        drive("warm-up", port, HEALTHZ, {}, duration=2, **bounds)
        drive("warm-up", port, AVAILABILITY, auth, duration=2, **bounds)
        # Alternate the phases so that drift (a noisy neighbour, a warming cache) hits both.
        for name, path, headers, check in [
            ("healthz", HEALTHZ, {}, check_healthz),
            ("availability", AVAILABILITY, auth, check_availability(expected_pairs)),
        ] * args.rounds:
            phase = drive(
                name,
                port,
                path,
                headers,
                duration=args.duration,
                check=check,
                **bounds,
            )
            total = results.setdefault(name, PhaseResult(name, path))
            total.latencies.extend(phase.latencies)
            total.errors.extend(phase.errors)
            total.elapsed += phase.elapsed
            s = phase.summary()
            print(
                f"  {name:<13} {s['requests']:>7} req in {s['seconds']:>6.1f} s"
                f"  {s['req_per_s']:>8.1f} req/s  p50 {s['p50_ms']:>7.2f} ms"
                f"  p99 {s['p99_ms']:>7.2f} ms  errors {s['errors']}"
            )
    finally:
        if args.keep_server and server.poll() is None:
            print(f"gunicorn left running: pid {server.pid}, port {port}, key {key}")
        else:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if not args.keep_db and not args.keep_server:
            drop_database(url)
    load_after = load_average()

    health, avail = results["healthz"].summary(), results["availability"].summary()
    ratio = avail["req_per_s"] / health["req_per_s"] if health["req_per_s"] else 0.0
    print()
    print(f"{'endpoint':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}")
    for name, s in (("healthz", health), ("availability", avail)):
        print(
            f"{name:<14}{s['req_per_s']:>10.1f}{s['p50_ms']:>10.2f}{s['p99_ms']:>10.2f}"
            f"{s['requests']:>10}{s['errors']:>8}"
        )
    verdict = "meets" if ratio >= TARGET_RATIO else "below"
    print(
        f"ratio availability/healthz throughput: {ratio:.3f} ({verdict} the {TARGET_RATIO} target)"
    )
    print(f"load average at the end: {load_after} on {host['cpus']} CPUs")

    report = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**host, "load_before": load_before, "load_after": load_after},
        "setup": {
            "database": "postgresql",
            "live_allocations": filled["live"],
            "workers": args.workers,
            "clients": args.clients,
            "duration_per_phase_s": args.duration,
            "rounds": args.rounds,
        },
        "healthz": health,
        "availability": avail,
        "ratio": round(ratio, 3),
        "errors_sample": (results["healthz"].errors + results["availability"].errors)[:5],
    }
    out = RESULTS / f"availability-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results    {out.relative_to(ROOT)}")
    failed = health["errors"] or avail["errors"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
