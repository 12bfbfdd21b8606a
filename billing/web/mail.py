"""Email for finance (SPEC 13): the outbox and delivery log of every mail (each one readable, its
HTML shown in a sandboxed frame, its attachment downloadable), resending one, and the mail
settings page with a test email. Mail goes out through the job queue like every other send."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired

from billing.extensions import now, session
from billing.mail.documents import (
    AttachmentNotReadyError,
    attachment_for,
    mail_from,
    queue_test_mail,
)
from billing.mail.models import KINDS, STATUSES, Mail
from billing.mail.services import (
    EMAIL_MAX,
    NAME_MAX,
    OUTBOX_DEFAULT_SORT,
    OUTBOX_SORTS,
    Recipient,
    email_problem,
    get_mail_by_public_id,
    outbox_query,
    resend,
)
from billing.mail.transport import parse_smtp_url
from billing.parties.models import Party
from billing.parties.queries import list_parties
from billing.web.auth import login_required, staff
from billing.web.forms import ActionForm, EmailTextField, TextField, saving
from billing.web.frame import list_args, paginate, seller
from billing.web.language import error_text

bp = Blueprint("mail", __name__, url_prefix="/mail")
FINANCE = ("admin", "finance")
PUBLIC_ID_LENGTH = 40

# The mail's own HTML, framed by its page: nothing it holds runs or loads (no script, no
# request to anywhere), and only a page of ours may frame it.
MAIL_HTML_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


# Words for a mail's stored codes as the pages show them (the codes stay English in the data).
MAIL_STATUS_WORDS = {"queued": _l("queued"), "sent": _l("sent"), "failed": _l("failed")}
MAIL_KIND_WORDS = {
    "invoice": _l("invoice"),
    "credit_note": _l("credit note"),
    "statement": _l("statement"),
    "reminder": _l("reminder"),
    "test": _l("test"),
    "webhook_disabled": _l("webhook disabled"),
}
MAIL_OUTCOME_WORDS = {"sent": _l("sent"), "retry": _l("retry"), "failed": _l("failed")}


def _words(table: dict[str, Any], code: str) -> str:
    return str(table[code]) if code in table else code.replace("_", " ")


@bp.app_template_filter("mail_status_words")
def mail_status_words(code: str) -> str:
    return _words(MAIL_STATUS_WORDS, code)


@bp.app_template_filter("mail_kind_words")
def mail_kind_words(code: str) -> str:
    return _words(MAIL_KIND_WORDS, code)


@bp.app_template_filter("mail_outcome_words")
def mail_outcome_words(code: str) -> str:
    return _words(MAIL_OUTCOME_WORDS, code)


class TestMailForm(FlaskForm):  # type: ignore[misc]
    party = SelectField(_l("Send as"), validators=[DataRequired()])
    name = TextField(_l("Recipient name"), max_length=NAME_MAX, default="Mail test")
    email = EmailTextField(_l("Recipient email"), validators=[DataRequired()], max_length=EMAIL_MAX)


def _parties() -> list[Party]:
    return list_parties(session())


def _mail(public_id: str) -> Mail:
    if len(public_id) > PUBLIC_ID_LENGTH:
        abort(404)
    return get_mail_by_public_id(session(), public_id)


@bp.get("")
@login_required(*FINANCE)
def outbox() -> Any:
    args = list_args(OUTBOX_SORTS, OUTBOX_DEFAULT_SORT)
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    status = status if status in STATUSES else ""
    kind = kind if kind in KINDS else ""
    page = paginate(outbox_query(q=args.q, status=status, kind=kind, sort=args.sort))
    return render_template(
        "outbox/outbox.html",
        page=page,
        args=args,
        keep={"status": status, "kind": kind},
        statuses=STATUSES,
        kinds=KINDS,
        smtp=_smtp_description(),
    )


@bp.get("/<public_id>")
@login_required(*FINANCE)
def mail_page(public_id: str) -> Any:
    mail = _mail(public_id)
    party = session().get_one(Party, mail.party_id)
    try:
        attachment = attachment_for(session(), mail)
        waiting = ""
    except AttachmentNotReadyError as error:
        attachment, waiting = None, error_text(error.args[0])
    return render_template(
        "outbox/mail.html",
        mail=mail,
        party=party,
        sender=mail_from(current_app.config.get("MAIL_FROM", {}), party),
        attachment=attachment,
        waiting=waiting,
        may_resend=seller().may_sell_for(mail.party_id),
        action_form=ActionForm(),
    )


@bp.get("/<public_id>/html")
@login_required(*FINANCE)
def mail_html(public_id: str) -> Any:
    """The mail's HTML body as its own document, for the sandboxed frame of its page."""
    mail = _mail(public_id)
    response = Response(mail.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_HTML_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<public_id>/attachment")
@login_required(*FINANCE)
def mail_attachment(public_id: str) -> Any:
    mail = _mail(public_id)
    try:
        attachment = attachment_for(session(), mail)
    except AttachmentNotReadyError:
        abort(404, description=_("The document's PDF is not rendered yet."))
    if attachment is None:
        abort(404, description=_("This mail carries no attachment."))
    return Response(
        attachment.content,
        mimetype=f"{attachment.maintype}/{attachment.subtype}",
        headers={"Content-Disposition": f'attachment; filename="{attachment.filename}"'},
    )


@bp.post("/<public_id>/resend")
@login_required(*FINANCE)
def resend_mail(public_id: str) -> Any:
    mail = _mail(public_id)
    if not ActionForm().validate():
        abort(400)
    with saving(_("The mail was not resent")) as outcome:
        copy = resend(session(), mail.id, editor=seller(), now=now())
    if outcome.refused:
        return redirect(url_for("mail.mail_page", public_id=mail.public_id))
    flash(_("The mail is queued again; its delivery shows below."), "success")
    return redirect(url_for("mail.mail_page", public_id=copy.public_id))


def _smtp_description() -> dict[str, str]:
    """The SMTP settings as a page may show them: never the password."""
    try:
        settings = parse_smtp_url(current_app.config.get("SMTP_URL", ""))
    except ValueError as error:
        return {"mode": "invalid", "problem": str(error)}
    if settings is None:
        return {"mode": "outbox"}
    return {
        "mode": "smtp",
        "host": settings.host,
        "port": str(settings.port),
        "tls": settings.tls_mode,
        "username": settings.username or _("(none)"),
        "url": settings.safe_url,
    }


def _settings_page(form: TestMailForm, status: int = 200) -> Any:
    parties = _parties()
    senders = {p.code: mail_from(current_app.config.get("MAIL_FROM", {}), p) for p in parties}
    return render_template(
        "outbox/settings.html",
        form=form,
        smtp=_smtp_description(),
        senders=senders,
        parties=parties,
        production=current_app.config.get("BILLING_ENV") == "production",
        may_test=staff().role == "admin",
    ), status


def _party_choices(form: TestMailForm) -> None:
    form.party.choices = [(p.code, f"{p.code} · {p.legal_name}") for p in _parties()]


@bp.get("/settings")
@login_required(*FINANCE)
def settings() -> Any:
    form = TestMailForm(formdata=None)
    _party_choices(form)
    own = staff().party
    if own is not None:
        form.party.data = own.code
    return _settings_page(form)


@bp.post("/settings/test")
@login_required("admin")
def send_test() -> Any:
    form = TestMailForm()
    _party_choices(form)
    valid = form.validate()
    problem = email_problem((form.email.data or "").strip()) if valid else None
    if problem:
        form.email.errors = [*form.email.errors, error_text(problem)]
    if not valid or problem:
        flash(_("The test email was not sent: correct the fields marked below."), "error")
        return _settings_page(form, 422)
    party = next(p for p in _parties() if p.code == form.party.data)
    recipient = Recipient(form.name.data or "Mail test", form.email.data.strip())
    with saving(_("The test email was not sent"), form) as outcome:
        mail = queue_test_mail(session(), party.id, recipient, actor=seller().label, now=now())
    if outcome.refused:
        return _settings_page(form, outcome.status)
    flash(_("Test email queued to %(email)s.", email=recipient.email), "success")
    return redirect(url_for("mail.mail_page", public_id=mail.public_id))
