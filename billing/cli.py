"""`flask …` commands (SPEC 11). Each command is one unit of work that commits once."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from billing.cli_errors import guard, reach_database
from billing.db import alembic_config, downgrade, upgrade
from billing.errors import DomainError
from billing.extensions import database, now
from billing.jobs.queue import QUEUES
from billing.validation import INT_MAX


def _fail(error: DomainError) -> None:
    details = "; ".join(
        f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
        for field, msgs in error.errors.items()
    )
    raise click.ClickException(error.message + (f" ({details})" if details else ""))


def register_cli(app: Flask) -> None:
    # Groups are AppGroups so that every command runs in the app context however it is invoked
    # (`flask …` pushes one; app.test_cli_runner() and app.cli do not).
    # Each fails in one line on stderr, the reason and what to do (billing.cli_errors); guarding
    # a group guards its subcommands. `flask --debug …` adds the traceback.
    for command in (
        db_group,
        seed_group,
        users_group,
        api_keys_group,
        reports_group,
        services_group,
        fx_group,
        schedule_group,
        billing_group,
        invoices_group,
        settlement_group,
        webhooks_group,
        mail_group,
        reminders_group,
        outages_group,
        sla_group,
    ):
        app.cli.add_command(guard(command))
    app.cli.add_command(guard(worker_command, before=reach_database))


@click.group("db", cls=AppGroup, help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (default: one step)."""
    downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration; review it by hand before committing."""
    from alembic import command

    command.revision(
        alembic_config(current_app.config["DATABASE_URL"]),
        message=message,
        autogenerate=autogenerate,
    )


@click.group("seed", cls=AppGroup, help="Reference and demo data.")
def seed_group() -> None:
    pass


@seed_group.command("demo")
@click.option("--no-users", is_flag=True, help="Load the cable system only, no demo logins.")
@click.option(
    "--no-history", is_flag=True, help="Leave out the year of sales, invoices and payments."
)
def seed_demo_cmd(no_users: bool, no_history: bool) -> None:
    """Load the Trans-Caspian defaults and, on a platform that has sold nothing yet, a year of
    history ending today (about 30 customers, runs, invoices, payments, settlements); safe to
    run again."""
    from billing.invoicing.rendering import render_in_process
    from billing.seed import DEMO_PASSWORD, DEMO_PORTAL_LOGIN, seed_demo, seed_demo_portal_login
    from billing.seed_history import history_start, seed_history

    moment = now()
    with_history = not no_history and not no_users
    with database().transaction() as session:
        result = seed_demo(
            session,
            now=moment,
            with_users=not no_users,
            since=history_start(moment) if with_history else None,
        )
        if not no_users:
            seed_demo_portal_login(session, now=moment)
    click.echo(f"demo data loaded ({result['users_added']} users)")
    if with_history:
        click.echo("building a year of demo history (sales, runs, invoices, payments)...")
        summary = seed_history(database(), now=moment, render=render_in_process)
        if summary is None:
            click.echo("demo history left as it is: this platform has sales already")
        else:
            click.echo(
                f"demo history from {summary.start:%Y-%m}: {summary.customers} customers, "
                f"{summary.services} services, {summary.invoices} invoices issued, "
                f"{summary.payments} payments, {summary.statements} settlement statements"
            )
    if not no_users:
        click.echo(f"demo login: sales@azertelecom.az / {DEMO_PASSWORD}")
        click.echo(f"demo portal login: {DEMO_PORTAL_LOGIN[0]} / {DEMO_PASSWORD}")


@click.group("users", cls=AppGroup, help="Staff users.")
def users_group() -> None:
    pass


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice(["admin", "sales", "finance", "noc"]), required=True)
@click.option("--party", "party_code", required=True, help="AZT or KTC")
@click.password_option(help="At least 10 characters (prompted when omitted).")
def users_create(email: str, name: str, role: str, party_code: str, password: str) -> None:
    """Create a staff user."""
    from billing.access.services import create_user

    try:
        with database().transaction() as session:
            user = create_user(
                session,
                email=email,
                name=name,
                password=password,
                role=role,
                party_code=party_code.upper(),
                actor="cli",
                now=now(),
            )
            click.echo(f"user {user.email} created ({role}, {party_code.upper()})")
    except DomainError as error:
        _fail(error)


@click.group("api-keys", cls=AppGroup, help="Customers' API keys.")
def api_keys_group() -> None:
    pass


def _customer_id(session: Any, customer: str) -> int:
    from billing.parties.models import Customer

    if customer.isdigit():
        return int(customer)
    row = session.execute(
        select(Customer.id).where(Customer.legal_name == customer)
    ).scalar_one_or_none()
    if row is None:
        raise click.ClickException(f"no customer named {customer!r}")
    return int(row)


@api_keys_group.command("create")
@click.option("--customer", required=True, help="Customer id or exact legal name.")
@click.option("--name", default="API key", help="A label for the key.")
def api_keys_create(customer: str, name: str) -> None:
    """Create an API key for a customer and print it (the only time it is shown)."""
    from billing.access.services import create_api_key

    try:
        with database().transaction() as session:
            key, secret = create_api_key(
                session,
                customer_id=_customer_id(session, customer),
                name=name,
                actor="cli",
                now=now(),
            )
            click.echo(f"API key {key.id} for customer {key.customer_id}: {secret}")
            click.echo("Store it now: it is kept only as a hash and cannot be shown again.")
    except DomainError as error:
        _fail(error)


@api_keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(1, INT_MAX))  # an id the column can hold
def api_keys_revoke(key_id: int) -> None:
    """Revoke an API key at once."""
    from billing.access.services import revoke_api_key

    try:
        with database().transaction() as session:
            revoke_api_key(session, key_id, actor="cli", now=now())
        click.echo(f"API key {key_id} revoked")
    except DomainError as error:
        _fail(error)


@api_keys_group.command("list")
def api_keys_list() -> None:
    """List API keys (never the keys themselves)."""
    from billing.access.models import ApiKey

    with database().transaction() as session:
        for key in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars():
            state = "revoked" if key.revoked_at else "active"
            used = key.last_used_at.isoformat() if key.last_used_at else "never"
            click.echo(
                f"{key.id}\t{key.prefix}…\tcustomer {key.customer_id}\t{key.name}\t{state}\t"
                f"last used {used}"
            )


@click.group("reports", cls=AppGroup, help="Reports for finance and operations.")
def reports_group() -> None:
    pass


@reports_group.command("revenue-assurance")
def revenue_assurance() -> None:
    """List every live allocation that no billable service carries.

    Apart from the operators' own use the list must be empty: exit status 1 when it is not, so
    that cron can mail it.
    """
    from billing.sales.queries import unbilled_allocations

    with database().transaction() as session:
        rows = unbilled_allocations(session)
    unsold = [r for r in rows if not r.own_use]
    for r in rows:
        what = (
            f"own use: {r.reason}"
            if r.own_use
            else f"NOT BILLED: {r.customer or 'no customer'}"
            + (f", service {r.service} terminated" if r.service else ", no service")
        )
        click.echo(
            f"reservation {r.reservation_id}\t{r.product or '-'} {r.route} {r.protection}\t"
            f"{'; '.join(r.spectrum)}\t{what}\tby {r.created_by} {r.created_at:%Y-%m-%d}"
        )
    click.echo(
        f"{len(rows)} live allocation(s) without a billable service: "
        f"{len(rows) - len(unsold)} own use, {len(unsold)} not billed"
    )
    if unsold:
        raise SystemExit(1)


@click.group("services", cls=AppGroup, help="Services sold.")
def services_group() -> None:
    pass


@services_group.command("apply-dates")
def services_apply_dates() -> None:
    """Make the scheduled ready-for-service and end dates that have come true (run daily)."""
    from billing.sales.lifecycle import apply_due_dates

    with database().transaction() as session:
        changed = apply_due_dates(session, now=now())
        for service in changed:
            click.echo(f"{service.circuit_id} is now {service.state}")
    click.echo(f"{len(changed)} service(s) changed")


@click.group("fx", cls=AppGroup, help="Exchange rates.")
def fx_group() -> None:
    pass


@fx_group.command("import")
@click.option("--source", type=click.Choice(["cbar", "nbk"]), required=True)
@click.argument("file", type=click.File("rb"))
def fx_import(source: str, file: Any) -> None:
    """Store the day's rates from a CBAR or NBK file; a malformed file stores nothing."""
    from billing.invoicing.services import import_fx_file

    content: bytes = file.read()
    try:
        with database().transaction() as session:
            result = import_fx_file(session, source, content, actor="cli", now=now())
    except DomainError as error:
        _fail(error)
        return
    for reason in result.skipped:
        click.echo(f"skipped {reason}")
    click.echo(
        f"{source.upper()} rates of {result.on.isoformat()}: {result.added} added, "
        f"{result.changed} changed, {result.unchanged} unchanged, {len(result.skipped)} skipped"
    )


@click.group("outages", cls=AppGroup, help="Outages of the cable's segments (SPEC 7).")
def outages_group() -> None:
    pass


@outages_group.command("import")
@click.argument("file", type=click.File("rb"))
def outages_import(file: Any) -> None:
    """Record the outages of a CSV file (segment,start,end,cause,ticket,note), all or none: a bad
    row rejects the file with its line number; a ticket already recorded on its segment is
    updated. Times are ISO 8601 with Z or an offset; an empty end means still down."""
    from billing.sla.outages import import_outages

    content: bytes = file.read()
    try:
        with database().transaction() as session:
            result = import_outages(session, content, actor="cli", now=now())
    except DomainError as error:
        _fail(error)
        return
    click.echo(
        f"outages: {result.added} added, {result.updated} updated, {result.unchanged} unchanged"
    )


@click.group("sla", cls=AppGroup, help="Service levels (SPEC 7).")
def sla_group() -> None:
    pass


@sla_group.command("check")
def sla_check() -> None:
    """Record the services below their availability target three closed months running
    (chronic failure: the customer may then end them without the early-termination charge).
    Safe to run daily from cron; the billing run records them too."""
    from billing.invoicing.sla_credits import check_chronic_failures

    with database().transaction() as session:
        result = check_chronic_failures(session, now=now(), actor="cli")
        lines = [
            f"{flag.service.circuit_id if flag.service else flag.service_id}: below target "
            f"{flag.first_month:%Y-%m} to {flag.last_month:%Y-%m}"
            for flag in result.flagged
        ]
    for line in lines:
        click.echo(line)
    click.echo(f"{result.services} services judged, {len(lines)} chronic failures recorded")


@click.group("schedule", cls=AppGroup, help="Scheduled month-end and FX imports (SPEC 12).")
def schedule_group() -> None:
    pass


@schedule_group.command("run-due")
def schedule_run_due() -> None:
    """Run the schedules that are due now (admin page: Schedules). With PostgreSQL a worker does
    this every minute; on SQLite cron it every minute on the one machine (`* * * * * flask
    schedule run-due`): the work runs in this process, and a slot never runs twice."""
    from billing.jobs.schedule import dispatch

    said = dispatch(now())
    for line in said:
        click.echo(line)
    click.echo(f"{len(said)} schedule(s) due")


@click.group("webhooks", cls=AppGroup, help="Webhooks to customers (SPEC 13).")
def webhooks_group() -> None:
    pass


@webhooks_group.command("retry")
def webhooks_retry() -> None:
    """Send the webhook deliveries whose next attempt is due, in this process. With PostgreSQL
    workers do this by themselves; on SQLite cron it every minute (`* * * * * flask webhooks
    retry`): nothing else retries a failed delivery there."""
    from billing.jobs.outbound import run_due

    counts = run_due()
    for status, count in sorted(counts.items()):
        click.echo(f"{count} {status}")
    click.echo(f"{sum(counts.values())} delivery(ies) due")


@click.group("mail", cls=AppGroup, help="Email to billing contacts (SPEC 13).")
def mail_group() -> None:
    pass


@mail_group.command("retry")
def mail_retry() -> None:
    """Send the queued mails whose next attempt is due, in this process. With PostgreSQL the
    workers do this by themselves; on SQLite cron it every minute (`* * * * * flask mail
    retry`): nothing else tries a mail again there after a passing failure."""
    from billing.jobs.mail import send_due

    try:
        counts = send_due()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    for status, count in sorted(counts.items()):
        click.echo(f"{count} {status}")
    click.echo(f"{sum(counts.values())} mail(s) due")


@click.group("billing", cls=AppGroup, help="Billing runs (SPEC 4).")
def billing_group() -> None:
    pass


class _RunProgress:
    """A click progress bar over a run's groups, opened once the run knows how many there are."""

    def __init__(self, label: str = "billing") -> None:
        self._bar: Any = None
        self._done = 0
        self._label = label

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self._label, show_pos=True)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


@billing_group.command("run")
@click.option("--period", required=True, help="The month to bill, YYYY-MM (e.g. 2026-11).")
@click.option("--issuer", default=None, help="Bill one issuer only (AZT or KTC); default: both.")
@click.option(
    "--issue",
    is_flag=True,
    help="Then issue the month's drafts of the issuer: every draft made or added to by a run of "
    "that issuer and month (this run or an earlier, crashed one; drafts edited by hand since "
    "included), never a draft of another month. Numbers now, PDFs by render jobs.",
)
@click.option("--wait", is_flag=True, help="On PostgreSQL, wait for the run(s) to end.")
@click.option(
    "--resume",
    is_flag=True,
    help="Carry on the month's abandoned, failed or cancelled run rather than start a new one.",
)
def billing_run(period: str, issuer: str | None, issue: bool, wait: bool, resume: bool) -> None:
    """Bill a month into draft invoices, one run per issuer: bills nothing twice, however
    often it runs; running a month again finishes what an earlier run left.

    On PostgreSQL the run is queued and a worker runs it (`flask worker`); the command returns
    at once, or with --wait when the run ends. A month already queued or running is not queued
    twice: the command says so and exits 0. On SQLite the run happens in this process.

    It acts as "cli: billing run": with admin rights over every issuer, or, with --issuer, as
    that party's finance staff (it can bill and issue for that party only). Exit status 1, with
    the reason, on a bad month, a month beyond next month, an unknown issuer or a failed run.
    """
    from billing.extensions import clock as app_clock
    from billing.invoicing.runs import BillingRunError, parse_period
    from billing.jobs.month_end import RunRequest, request_run, resume_month
    from billing.jobs.queue import is_queued
    from billing.parties.customers import Seller
    from billing.parties.models import Party

    the_clock = app_clock()
    try:
        month = parse_period(period)
        actor = Seller("cli: billing run", None)
        if issuer is not None:
            with database().transaction() as session:
                party_id = session.execute(
                    select(Party.id).where(Party.code == issuer.strip().upper())
                ).scalar_one_or_none()
            if party_id is None:
                raise BillingRunError(
                    f"{issuer[:20]!r} is not an issuer", {"issuer": ["Choose AZT or KTC."]}
                )
            actor = Seller("cli: billing run", party_id)
        # On SQLite the run's jobs run here, as this unit of work commits.
        with database().transaction() as session:
            queued = is_queued(session)
            requests: list[RunRequest] = (
                resume_month(
                    session, period=month, issuer_code=issuer, actor=actor, now=the_clock.now()
                )
                if resume
                else request_run(
                    session,
                    period=month,
                    issuer_code=issuer,
                    issue=issue,
                    actor=actor,
                    now=the_clock.now(),
                )
            )
    except DomainError as error:
        _fail(error)
        return
    if queued:
        for request in requests:
            what = (
                f"already {request.state}"
                if request.already
                else ("resumed" if resume else "queued")
            )
            click.echo(
                f"billing run {request.run_id} of {month.start:%Y-%m} for {request.issuer}: "
                f"{what}" + ("" if wait else "; a worker runs it: flask worker")
            )
        if not wait:
            return
        _wait_for([r.run_id for r in requests])
    failed = False
    for request in requests:
        failed = _report_run(request.run_id) or failed
    if failed:
        raise SystemExit(1)


def _wait_for(run_ids: list[int]) -> None:
    """Poll the runs every second until each has ended, with a progress bar: customers billed,
    then invoices issued."""
    import time

    from billing.invoicing.runs import run_progress

    bars: dict[tuple[int, str], _RunProgress] = {}
    while True:
        ended = True
        with database().transaction() as session:
            for run_id in run_ids:
                progress = run_progress(session, run_id, now())
                if progress.state in ("queued", "running") and not progress.abandoned:
                    ended = False
                if progress.customers_total:
                    bar = bars.setdefault((run_id, "billing"), _RunProgress("billing"))
                    bar(progress.customers_done, progress.customers_total)
                if progress.issue and progress.phase != "billing" and progress.drafts:
                    bar = bars.setdefault((run_id, "issuing"), _RunProgress("issuing"))
                    bar(progress.issued, max(progress.drafts, progress.issued))
        if ended:
            break
        time.sleep(1)
    for bar in bars.values():
        bar.close()


def _report_run(run_id: int) -> bool:
    """Print what the run did; answers whether it failed."""
    from billing.invoicing.runs import run_progress

    with database().transaction() as session:
        progress = run_progress(session, run_id, now())
    click.echo(
        f"billing run {progress.id} of {progress.period.start:%Y-%m} for "
        f"{progress.issuer or 'all issuers'}: {progress.state}"
    )
    click.echo(
        f"{progress.services} service(s) seen, {progress.charges} charge(s) billed, "
        f"{progress.drafts} invoice(s) made or added to, {progress.issued} issued"
    )
    for total in progress.totals:
        click.echo(f"total {total}")
    for line in progress.skipped:
        click.echo(f"skipped: {line}")
    if progress.abandoned:
        click.echo(
            f"error: billing run {progress.id} was abandoned by its worker; "
            "resume it: flask billing run --period "
            f"{progress.period.start:%Y-%m} --issuer {progress.issuer} --resume",
            err=True,
        )
        return True
    if progress.state == "failed":
        click.echo(
            f"error: {' '.join(progress.errors)}; run the month again to finish it "
            "(flask billing run --resume)",
            err=True,
        )
        return True
    return False


@click.group("invoices", cls=AppGroup, help="Issued invoices and credit notes.")
def invoices_group() -> None:
    pass


@invoices_group.command("pdf")
@click.argument("number")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Where to write it (default: NUMBER.pdf here).",
)
def invoices_pdf(number: str, output: str | None) -> None:
    """Write the stored PDF of an issued invoice or credit note, byte for byte."""
    from pathlib import Path

    from billing.invoicing.queries import get_invoice_by_number, invoice_pdf

    try:
        with database().transaction() as session:
            invoice = get_invoice_by_number(session, number.strip())
            pdf = invoice_pdf(session, invoice)
            digest = invoice.pdf_sha256
    except DomainError as error:
        _fail(error)
        return
    target = Path(output or f"{number.strip()}.pdf")
    target.write_bytes(pdf)
    click.echo(f"{target}: {len(pdf)} bytes, SHA-256 {digest}")


@invoices_group.command("render-pending")
@click.option(
    "--chunk",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Documents per render job.",
)
def invoices_render_pending(chunk: int) -> None:
    """Render the PDFs of issued invoices and credit notes still waiting for theirs ("PDF being
    prepared": their render job failed, or no worker has run yet). On PostgreSQL this queues
    render jobs on the `documents` queue for `flask worker` to run; on SQLite it renders them
    here. Safe to run at any time: a document that has its PDF is left alone."""
    from billing.invoicing.queries import waiting_for_pdf
    from billing.jobs.documents import defer_pending
    from billing.jobs.queue import is_queued

    with database().transaction() as session:
        count = defer_pending(session, chunk)
        queued = is_queued(session)
    if count == 0:
        click.echo("No document is waiting for its PDF.")
        return
    if queued:
        click.echo(f"{count} documents queued for rendering: `flask worker` renders them.")
        return
    with database().transaction() as session:
        left = len(waiting_for_pdf(session))
    click.echo(f"{count - left} of {count} PDFs rendered and stored.")
    if left:
        click.echo(f"{left} failed to render: see the log, then run this again.", err=True)
        raise SystemExit(1)


@invoices_group.command("render")
@click.option("--period", required=True, help="The month of issue, YYYY-MM (e.g. 2026-11).")
@click.option("--issuer", default=None, help="AZT or KTC (default: both).")
@click.option(
    "--output",
    type=click.Path(file_okay=False, writable=True),
    required=True,
    help="The folder to write NUMBER.pdf files into (made if missing).",
)
def invoices_render(period: str, issuer: str | None, output: str) -> None:
    """Write the PDFs of the invoices and credit notes issued in a month, as stored at issue,
    checking each against its SHA-256; exits 1 if any does not match."""
    import hashlib
    from pathlib import Path

    from billing.access.services import get_party
    from billing.invoicing.queries import issued_documents, stored_pdf, waiting_for_pdf
    from billing.invoicing.runs import parse_period

    try:
        month = parse_period(period)
        with database().transaction() as session:
            party_id = None if issuer is None else get_party(session, issuer.strip().upper()).id
            documents = issued_documents(session, month.start, month.end, party_id)
            pending = set(waiting_for_pdf(session))
    except DomainError as error:
        _fail(error)
        return
    waiting = [number for invoice_id, number, _ in documents if invoice_id in pending]
    documents = [d for d in documents if d[0] not in pending]
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    mismatched = []
    with click.progressbar(documents, label=f"{len(documents)} documents") as bar:
        for invoice_id, number, digest in bar:
            with database().transaction() as session:
                pdf = stored_pdf(session, invoice_id)
            if hashlib.sha256(pdf).hexdigest() != digest:
                mismatched.append(number)
            (folder / f"{number}.pdf").write_bytes(pdf)
    click.echo(f"{len(documents)} PDFs written to {folder}")
    if waiting:
        click.echo(
            f"{len(waiting)} still being prepared (not written): {', '.join(waiting)}; "
            "run `flask invoices render-pending` or start `flask worker`"
        )
    if mismatched:
        click.echo(f"SHA-256 does not match the stored one: {', '.join(mismatched)}", err=True)
        raise SystemExit(1)


@click.group("settlement", cls=AppGroup, help="Settlement between the parties (SPEC 5).")
def settlement_group() -> None:
    pass


@settlement_group.command("build")
@click.option("--period", required=True, help="The month to settle, YYYY-MM (e.g. 2026-11).")
@click.option("--basis", default="invoiced", show_default=True, help="invoiced or collected.")
def settlement_build(period: str, basis: str) -> None:
    """Build (or rebuild, while a draft) a month's statement and print its figures.

    Exit status 1, with the reason, on a bad month or basis or a statement already approved.
    """
    from billing.money import Money
    from billing.parties.customers import Seller
    from billing.settlement.services import build_statement

    try:
        with database().transaction() as session:
            s = build_statement(
                session, period, basis, actor=Seller("cli: settlement build", None), now=now()
            )
            status = "provisional (the month is still open)" if s.provisional else s.state
            lines = [f"statement {s.id} of {s.month} ({s.basis}), {status}, {s.line_count} line(s)"]
            for f in s.figures:
                lines.append(
                    f"{f.issuer.code} billed {Money(f.billed, 'USD')}, of which "
                    f"{Money(f.other_share, 'USD')} is {f.other_party.code}'s"
                )
            for w in s.withheld:
                lines.append(f"withheld (disputed): {w.invoice.number} {Money(w.billed, 'USD')}")
            if s.payer is not None and s.payee is not None:
                lines.append(
                    f"net: {s.payer.code} owes {s.payee.code} {Money(s.net_amount, 'USD')}"
                    + (f", due by {s.due_date.isoformat()}" if s.due_date else "")
                )
            else:
                lines.append("net: the parties are even")
            lines.append(f"CSV SHA-256 {s.csv_sha256}")
    except DomainError as error:
        _fail(error)
        return
    for line in lines:
        click.echo(line)


@click.command("worker")
@with_appcontext
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=1,
    show_default=True,
    help="Jobs run at once by this process (threads; start more processes to use more cores).",
)
@click.option(
    "--queues",
    default="",
    help=f"Comma-separated queues to take jobs from (default: all: {', '.join(QUEUES)}).",
)
def worker_command(concurrency: int, queues: str) -> None:
    """Run jobs (month-end, documents, schedules) until stopped with Ctrl-C or SIGTERM, which
    lets the jobs in hand finish. Start any number, on any number of machines, against the one
    PostgreSQL database. On SQLite jobs run in the process that defers them: no worker."""
    from billing.jobs import run_worker

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown:
        raise click.ClickException(
            f"no queue named {', '.join(unknown)}: choose from {', '.join(QUEUES)}"
        )
    if database().dialect != "postgresql":
        raise click.ClickException(
            "the embedded SQLite database runs jobs in-process and needs no worker; "
            "set DATABASE_URL to a PostgreSQL database to run workers"
        )
    click.echo(
        f"worker: queues {', '.join(names or QUEUES)}, concurrency {concurrency}; Ctrl-C stops it"
    )
    run_worker(current_app._get_current_object(), queues=names or None, concurrency=concurrency)  # type: ignore[attr-defined]


@click.group("reminders", cls=AppGroup, help="Payment reminders (SPEC 13).")
def reminders_group() -> None:
    pass


@reminders_group.command("run")
@click.option(
    "--issuer",
    type=click.Choice(["AZT", "KTC"]),
    multiple=True,
    help="Only this issuer's invoices (repeatable); both by default.",
)
def reminders_run(issuer: tuple[str, ...]) -> None:
    """Send the payment reminders due now, in this process, as each issuer's reminders schedule
    does every morning. Run again, it sends nothing twice (each step once per invoice)."""
    from billing.jobs.reminders import run_pass
    from billing.parties.queries import list_parties

    codes = issuer or ("AZT", "KTC")
    with database().transaction() as session:
        parties = {p.code: p.id for p in list_parties(session) if p.code in codes}
    for code in codes:
        if code not in parties:
            raise click.ClickException(f"there is no issuer {code}: run `flask seed demo` first")
        click.echo(f"{code}: {run_pass(parties[code]).words()}")
