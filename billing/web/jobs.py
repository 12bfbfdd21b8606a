"""The job queue for administrators (SPEC 12): schedules as data, and every job run with its
failures and a retry button."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from billing.calendar import zone
from billing.extensions import now, session
from billing.scheduling.models import FX_IMPORT, MONTH_END, Schedule
from billing.scheduling.queries import JOB_STATUSES, JobRun, job_runs, job_task_names, schedules
from billing.scheduling.services import ScheduleChange, retry_failed_job, update_schedule
from billing.web.auth import actor, login_required
from billing.web.forms import ActionForm, TextField, WholeNumberField, saving
from billing.web.frame import list_args, page_number

bp = Blueprint("jobs", __name__, url_prefix="/admin")

PAGE_SIZE = 25
DRAFT_ONLY, WITH_ISSUE = "draft only", "with issue"
# Tasks in words (billing/jobs); an unknown one is shown by its name.
TASKS = {
    "month_end_step": _l("Month-end step (bill or issue a chunk)"),
    "render_documents": _l("Render PDFs"),
    "dispatch_schedules": _l("Start due schedules"),
    "import_fx_from_url": _l("FX import from URL"),
    "send_reminders_of": _l("Payment reminders of an issuer"),
    "retry_stalled_jobs": _l("Requeue abandoned jobs"),
    "prune_finished_jobs": _l("Prune old jobs"),
}
# Job statuses in words (procrastinate's codes stay in the filter's values).
STATUS_WORDS = {
    "todo": _l("todo"),
    "doing": _l("doing"),
    "failed": _l("failed"),
    "succeeded": _l("succeeded"),
    "cancelled": _l("cancelled"),
    "aborted": _l("aborted"),
}
# Arguments never shown: a secret has no business on a page.
SECRET_WORDS = ("password", "secret", "token", "key", "signature")


def _local(at: datetime, time_zone: str) -> datetime:
    return at.astimezone(zone(time_zone))


class ScheduleForm(FlaskForm):  # type: ignore[misc]
    enabled = BooleanField(_l("On"))
    local_time = TimeField(_l("Local time"), validators=[InputRequired()], format="%H:%M")
    day_of_month = WholeNumberField(_l("Day of month"), minimum=1, maximum=28)
    mode = SelectField(
        _l("Mode"),
        choices=[
            SelectChoice(DRAFT_ONLY, _l("draft only")),
            SelectChoice(WITH_ISSUE, _l("with issue")),
        ],
    )
    url = TextField(_l("File URL"), max_length=2000)


def _form(schedule: Schedule, formdata: Any = None) -> ScheduleForm:
    form = ScheduleForm(
        formdata=formdata,
        prefix=f"s{schedule.id}",
        data={
            "enabled": schedule.enabled,
            "local_time": schedule.local_time,
            "day_of_month": schedule.day_of_month,
            "mode": WITH_ISSUE if schedule.issue else DRAFT_ONLY,
            "url": schedule.url,
        },
    )
    if schedule.kind != MONTH_END:
        del form.day_of_month
        del form.mode
    else:
        form.day_of_month.validators = [InputRequired()]
    if schedule.kind != FX_IMPORT:
        del form.url
    return form


def _schedules_page(failed: ScheduleForm | None = None, failed_id: int | None = None) -> Any:
    rows = schedules(session(), now())
    forms = {
        row.schedule.id: failed
        if failed is not None and row.schedule.id == failed_id
        else _form(row.schedule)
        for row in rows
    }
    return render_template(
        "admin/schedules.html",
        rows=rows,
        forms=forms,
        local=_local,
        queued=session().get_bind().dialect.name == "postgresql",
    )


@bp.get("/schedules")
@login_required("admin")
def schedules_page() -> Any:
    return _schedules_page()


@bp.post("/schedules/<id:schedule_id>")
@login_required("admin")
def change_schedule(schedule_id: int) -> Any:
    schedule = session().get(Schedule, schedule_id)
    if schedule is None:
        flash(_("There is no such schedule."), "error")
        return redirect(url_for("jobs.schedules_page")), 303
    form = _form(schedule, request.form)
    if not form.validate():
        return _schedules_page(form, schedule_id), 422
    change = ScheduleChange(
        enabled=bool(form.enabled.data),
        local_time=form.local_time.data,
        day_of_month=form.day_of_month.data if "day_of_month" in form else None,
        issue="mode" in form and form.mode.data == WITH_ISSUE,
        url=(form.url.data or "") if "url" in form else "",
    )
    with saving(_("The schedule was not changed"), form) as outcome:
        update_schedule(
            session(),
            schedule_id,
            change,
            actor=actor(),
            now=now(),
            allow_loopback_http=current_app.config.get("BILLING_ENV") != "production",
        )
    if outcome.refused:
        return _schedules_page(form, schedule_id), outcome.status
    flash(_("Schedule saved."), "success")
    return redirect(url_for("jobs.schedules_page"))


def _links(job: JobRun) -> list[tuple[str, str]]:
    """The run or documents a job's arguments name, as (label, address)."""
    links = []
    if isinstance(job.args.get("run_id"), int):
        run_id = job.args["run_id"]
        links.append(
            (_("run %(id)s", id=run_id), url_for("billing_runs.billing_run", run_id=run_id))
        )
    ids = job.args.get("invoice_ids")
    if isinstance(ids, list):
        for invoice_id in [i for i in ids if isinstance(i, int)][:3]:
            links.append(
                (
                    _("invoice %(id)s", id=invoice_id),
                    url_for("invoices.invoice_page", invoice_id=invoice_id),
                )
            )
    return links


def _summary(args: dict[str, Any]) -> str:
    parts = []
    for name, value in sorted(args.items()):
        if any(word in name.lower() for word in SECRET_WORDS):
            value = "…"
        elif isinstance(value, list) and len(value) > 4:
            value = ngettext("%(num)d item", "%(num)d items", len(value))
        parts.append(f"{name}={value}")
    return ", ".join(parts)[:200]


@bp.get("/jobs")
@login_required("admin")
def jobs_page() -> Any:
    db = session()
    if db.get_bind().dialect.name != "postgresql":
        return render_template(
            "admin/jobs.html", queued=False, rows=schedules(db, now()), local=_local
        )
    status = request.args.get("status", "")
    status = status if status in JOB_STATUSES else ""
    tasks = job_task_names(db)
    task = request.args.get("task", "")
    task = task if task in tasks else ""
    args = list_args({"new": ()}, "new")
    page = job_runs(
        db, status=status, task=task, q=args.q, number=page_number(), per_page=PAGE_SIZE
    )
    return render_template(
        "admin/jobs.html",
        queued=True,
        page=page,
        args=args,
        status=status,
        task=task,
        tasks=tasks,
        statuses=JOB_STATUSES,
        words=TASKS,
        status_names=STATUS_WORDS,
        links=_links,
        summary=_summary,
        action_form=ActionForm(),
    )


@bp.post("/jobs/<id:job_id>/retry")
@login_required("admin")
def retry_job(job_id: int) -> Any:
    form = ActionForm()
    if not form.validate():
        flash(_("The retry was not sent: the form expired, try again."), "error")
        return redirect(url_for("jobs.jobs_page")), 303
    if session().get_bind().dialect.name != "postgresql":
        flash(_("Jobs run in-process on this database: there is no queue to retry in."), "error")
        return redirect(url_for("jobs.jobs_page")), 303
    with saving(_("The job was not retried")) as outcome:
        task = retry_failed_job(session(), job_id, actor=actor(), now=now())
    if not outcome.refused:
        flash(
            _("Job %(id)s (%(task)s) is queued again.", id=job_id, task=TASKS.get(task, task)),
            "success",
        )
    return redirect(url_for("jobs.jobs_page", status="failed"))
