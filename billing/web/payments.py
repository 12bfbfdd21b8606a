"""Payments for finance (SPEC 6): record a bank transfer and apply it to the customer's open
invoices, refunds, credit balances, flagged Stripe payments to review, and the receivables view
with ageing buckets. The services check that the user acts for the issuer; a refusal is a message
on the page with its status, and nothing is written."""

from __future__ import annotations

import re
import secrets
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired, InputRequired, Optional, Regexp

from billing.calendar import last_of_month
from billing.errors import NotFoundError
from billing.extensions import now, session
from billing.invoicing.issuing import issue_date_for
from billing.invoicing.models import Invoice
from billing.money import Money
from billing.parties.customers import get_customer, list_customers
from billing.parties.queries import list_parties
from billing.payments.queries import (
    BUCKETS,
    PAYMENT_DEFAULT_SORT,
    PAYMENT_SORTS,
    RECEIVABLE_DEFAULT_SORT,
    RECEIVABLE_SORTS,
    ReceivableFilters,
    ageing_bucket,
    ageing_summary,
    credit_balances,
    currency_totals,
    get_payment,
    open_invoices_of,
    payment_listing,
    receivables_listing,
    refunds_of,
)
from billing.payments.services import (
    accept_flagged_payment,
    apply_credit_balance,
    record_bank_payment,
    record_refund,
)
from billing.reminders.queries import last_steps
from billing.reports.history import payment_history
from billing.web.auth import login_required, staff
from billing.web.forms import (
    ActionForm,
    DecimalNumberField,
    IdSelectField,
    IsoDateField,
    TextField,
    saving,
)
from billing.web.frame import (
    amount_cell,
    csv_download,
    every_row,
    id_arg,
    list_args,
    paginate,
    seller,
    wants_csv,
)

bp = Blueprint("payments", __name__, url_prefix="/finance")

FINANCE = ("admin", "finance")
AMOUNT_PLACES, AMOUNT_DIGITS = 2, 16  # NUMERIC(16, 2)
CURRENCIES = ("USD", "EUR", "AZN", "KZT")  # the billing currencies
REFERENCE_LENGTH = 200
# Posted allocations are fields `invoice_<id>`; one naming an invoice that is not open for this
# customer is refused by the service, never dropped.
_ALLOCATION = re.compile(r"invoice_(.*)", re.DOTALL)
_ID_DIGITS = re.compile(r"[1-9][0-9]{0,9}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
FORM_KEY = r"[A-Za-z0-9_-]{16,64}"
FORM_EXPIRED = _l("This form has expired: open the payment form again.")
# Words for a payment's stored state (the code stays English in the database, API and CSV).
PAYMENT_STATE_WORDS = {"recorded": _l("recorded"), "flagged": _l("flagged")}


class PaymentForm(FlaskForm):  # type: ignore[misc]
    """A bank transfer; the fields `invoice_<id>` (what to apply to each open invoice) are added
    per customer by payment_form. All of them empty: applied oldest due first."""

    issuer = IdSelectField(_l("Received by (issuer)"), validators=[InputRequired()])
    amount = DecimalNumberField(
        _l("Amount"),
        validators=[InputRequired()],
        places=AMOUNT_PLACES,
        max_digits=AMOUNT_DIGITS,
    )
    currency = SelectField(_l("Currency"), choices=CURRENCIES)
    value_date = IsoDateField(_l("Value date"), validators=[InputRequired()])
    reference = TextField(
        _l("Bank reference"), validators=[DataRequired()], max_length=REFERENCE_LENGTH
    )
    # A one-time key made when the form is shown: posting the form again (a double click, a
    # reload, ten tabs at once) finds the payment it recorded instead of recording another.
    idempotency_key = HiddenField(
        validators=[
            InputRequired(message=FORM_EXPIRED),
            Regexp(f"^{FORM_KEY}$", message=FORM_EXPIRED),
        ]
    )


class RefundForm(FlaskForm):  # type: ignore[misc]
    amount = DecimalNumberField(
        _l("Amount to refund"),
        validators=[InputRequired()],
        places=AMOUNT_PLACES,
        max_digits=AMOUNT_DIGITS,
    )
    reason = TextField(_l("Reason"), validators=[DataRequired()], max_length=500)
    # Set by the confirmation page: a refund gives money back and cannot be undone.
    confirmed = HiddenField()


def _allocation_field(label: Any) -> DecimalNumberField:
    return DecimalNumberField(
        label, validators=[Optional()], places=AMOUNT_PLACES, max_digits=AMOUNT_DIGITS
    )


def named_invoices(open_ids: set[int]) -> tuple[list[int], list[str]]:
    """What a posted form names beside the open invoices it listed: the ids of other invoices
    (paid since, another customer's, unknown...) and the allocation keys that name no id."""
    named: set[int] = set()
    unreadable: list[str] = []
    for key in request.form:
        match = _ALLOCATION.fullmatch(key)
        if match is None:
            continue
        if _ID_DIGITS.fullmatch(match.group(1)) and int(match.group(1)) <= 2**31 - 1:
            if int(match.group(1)) not in open_ids:
                named.add(int(match.group(1)))
        else:
            unreadable.append(key)
    return sorted(named), unreadable


def payment_form(
    customer_id: int, formdata: Any = ...
) -> tuple[PaymentForm, list[Any], list[int], list[str]]:
    invoices = open_invoices_of(session(), customer_id)
    fields = {
        f"invoice_{i.id}": _allocation_field(_("Apply to %(number)s", number=i.number))
        for i in invoices
    }
    named: list[int] = []
    unreadable: list[str] = []
    if formdata is ... and request.method == "POST":
        named, unreadable = named_invoices({i.id for i in invoices})
        fields.update(
            {f"invoice_{i}": _allocation_field(_("Apply to invoice %(id)s", id=i)) for i in named}
        )
    form_class = type("CustomerPaymentForm", (PaymentForm,), fields)
    form = form_class() if formdata is ... else form_class(formdata=formdata)
    form.issuer.choices = [(p.id, p.code) for p in list_parties(session())]
    customer = get_customer(session(), customer_id)
    if formdata is None or (formdata is ... and request.method == "GET"):
        form.currency.data = customer.billing_currency
        form.value_date.data = issue_date_for(staff().party, now())
        form.issuer.data = customer.owner_party_id
        form.idempotency_key.data = secrets.token_urlsafe(24)
    return form, invoices, named, unreadable


# --- Payments ---


def payment_state_words(code: str) -> str:
    """A payment's stored state in the page's language."""
    return str(PAYMENT_STATE_WORDS[code]) if code in PAYMENT_STATE_WORDS else code


@bp.context_processor
def _payment_words() -> dict[str, Any]:
    return {"payment_state_words": payment_state_words}


def _issuer_and_currency() -> tuple[int | None, str, dict[str, str]]:
    """?issuer=AZT and ?currency=USD of a finance list (the dashboard links with them); a value
    that is none of the choices is dropped with a message."""
    parties = {p.code: p.id for p in list_parties(session())}
    issuer = request.args.get("issuer", "")
    if issuer and issuer not in parties:
        flash(_("The issuer filter was ignored: no such issuer."), "error")
        issuer = ""
    currency = request.args.get("currency", "")
    if currency and currency not in CURRENCIES:
        flash(_("The currency filter was ignored: no such billing currency."), "error")
        currency = ""
    return parties.get(issuer), currency, {"issuer": issuer, "currency": currency}


def _month_arg() -> tuple[tuple[date, date] | None, str]:
    """?month=YYYY-MM: the first and last day of that month, or none (a bad value, with a
    message)."""
    text = request.args.get("month", "").strip()
    if not text:
        return None, ""
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        flash(_("The month filter was ignored: write the month as YYYY-MM."), "error")
        return None, ""
    first = date(int(match.group(1)), int(match.group(2)), 1)
    return (first, last_of_month(first)), text


@bp.get("/payments")
@login_required(*FINANCE)
def payments() -> Any:
    args = list_args(PAYMENT_SORTS, PAYMENT_DEFAULT_SORT)
    flagged = request.args.get("flagged", "") == "1"
    issuer_id, currency, keep = _issuer_and_currency()
    received_in, month = _month_arg()

    def listing() -> Any:
        return payment_listing(
            args.q,
            issuer_party_id=issuer_id,
            flagged=flagged,
            sort=args.sort,
            currency=currency,
            received_in=received_in,
        )

    if wants_csv():
        rows = every_row(listing())
        return csv_download(
            "payments",
            (
                "value_date customer issuer method reference currency amount credit_left state"
                " flag_reason"
            ).split(),
            (
                (
                    p.value_date.isoformat(),
                    p.customer.legal_name,
                    p.issuer.code,
                    "card (Stripe)" if p.method == "stripe" else "bank transfer",
                    p.reference or "",
                    p.currency,
                    amount_cell(p.amount, p.currency),
                    amount_cell(p.unapplied, p.currency),
                    p.state,
                    p.flag_reason or "",
                )
                for p in rows
            ),
        )
    return render_template(
        "payments/payments.html",
        page=paginate(listing()),
        args=args,
        keep={"flagged": "1" if flagged else "", **keep, "month": month},
        customers=list_customers(session()),
        parties=list_parties(session()),
        currencies=CURRENCIES,
    )


def _new_page(
    customer_id: int,
    form: PaymentForm,
    invoices: list[Any],
    status: int = 200,
    named: list[int] | None = None,
) -> Any:
    return render_template(
        "payments/new.html",
        customer=get_customer(session(), customer_id),
        form=form,
        invoices=invoices,
        named=named or [],
    ), status


@bp.get("/payments/new")
@login_required(*FINANCE)
def new_payment() -> Any:
    """Whose payment it is first: the form then lists that customer's open invoices."""
    customer_id = id_arg("customer_id")
    if customer_id is None:
        return render_template("payments/choose.html", customers=list_customers(session()))
    return redirect(url_for("payments.customer_payment", customer_id=customer_id))


@bp.route("/customers/<id:customer_id>/payments/new", methods=["GET", "POST"])
@login_required(*FINANCE)
def customer_payment(customer_id: int) -> Any:
    try:
        form, invoices, named, unreadable = payment_form(customer_id)
    except NotFoundError:
        abort(404, description=_("No such customer."))
    if request.method == "GET":
        return _new_page(customer_id, form, invoices)
    valid = form.validate()
    if unreadable:
        flash(_("The payment was not recorded: it names no invoice this form can pay."), "error")
    if not valid or unreadable:
        return _new_page(customer_id, form, invoices, 422, named)
    given = {
        invoice_id: form[f"invoice_{invoice_id}"].data
        for invoice_id in [*(i.id for i in invoices), *named]
        if form[f"invoice_{invoice_id}"].data is not None
    }
    with saving(_("The payment was not recorded"), form) as outcome:
        done = record_bank_payment(
            session(),
            customer_id=customer_id,
            issuer_id=form.issuer.data,
            amount=Money(form.amount.data, form.currency.data),
            value_date=form.value_date.data,
            reference=form.reference.data,
            applications=given or None,
            actor=seller(),
            now=now(),
            idempotency_key=form.idempotency_key.data,
        )
        payment_id = done.payment.id
        if done.duplicate:
            message = _("This form was sent already: this is the payment it recorded, nothing new.")
        elif done.credit.amount > 0:
            message = _(
                "Payment recorded: %(applied)s applied to invoices, %(credit)s kept as the"
                " customer's credit balance.",
                applied=done.applied,
                credit=done.credit,
            )
        else:
            message = _("Payment recorded: %(applied)s applied to invoices.", applied=done.applied)
    if outcome.refused:
        return _new_page(customer_id, form, invoices, outcome.status, named)
    flash(message, "info" if done.duplicate else "success")
    return redirect(url_for("payments.payment", payment_id=payment_id))


def _payment_page(payment_id: int, refund: RefundForm | None = None, status: int = 200) -> Any:
    found = get_payment(session(), payment_id)
    return render_template(
        "payments/payment.html",
        payment=found,
        history=payment_history(session(), payment_id, staff().party.time_zone),
        refunds=refunds_of(session(), payment_id),
        refund=refund or RefundForm(formdata=None),
        action_form=ActionForm(),
        may_act=seller().may_sell_for(found.issuer_party_id),
    ), status


@bp.get("/payments/<id:payment_id>")
@login_required(*FINANCE)
def payment(payment_id: int) -> Any:
    return _payment_page(payment_id)


@bp.post("/payments/<id:payment_id>/refund")
@login_required(*FINANCE)
def refund(payment_id: int) -> Any:
    found = get_payment(session(), payment_id)
    form = RefundForm()
    if not form.validate():
        return _payment_page(payment_id, form, 422)
    if form.confirmed.data != "yes":
        # Ask first, on a page of its own (no script needed): nothing is written yet.
        return render_template(
            "payments/refund_confirm.html",
            payment=found,
            form=form,
            amount=Money(form.amount.data, found.currency),
            from_credit=min(Money(form.amount.data, found.currency), found.unapplied_money),
        )
    with saving(_("The refund was not recorded"), form) as outcome:
        record_refund(
            session(),
            payment_id=payment_id,
            amount=Money(form.amount.data, found.currency),
            reason=form.reason.data,
            actor=seller(),
            now=now(),
        )
    if outcome.refused:
        return _payment_page(payment_id, form, outcome.status)
    flash(_("Refund recorded."), "success")
    return redirect(url_for("payments.payment", payment_id=payment_id))


@bp.post("/payments/<id:payment_id>/accept")
@login_required(*FINANCE)
def accept(payment_id: int) -> Any:
    if not ActionForm().validate():
        abort(400)
    with saving(_("The payment was not accepted")) as outcome:
        accept_flagged_payment(session(), payment_id, actor=seller(), now=now())
    if outcome.refused:
        return _payment_page(payment_id, status=outcome.status)
    flash(_("Accepted: the payment is now the customer's credit balance."), "success")
    return redirect(url_for("payments.payment", payment_id=payment_id))


# --- Credit balances ---


@bp.get("/credit-balances")
@login_required(*FINANCE)
def credit_balances_page() -> Any:
    balances = credit_balances(session(), id_arg("customer_id"))
    if wants_csv():
        return csv_download(
            "credit-balances",
            ("customer", "issuer", "currency", "balance"),
            ((b.customer, b.issuer, b.balance.currency, amount_cell(b.balance)) for b in balances),
        )
    return render_template(
        "payments/credit_balances.html",
        balances=balances,
        action_form=ActionForm(),
    )


@bp.post("/credit-balances/apply")
@login_required(*FINANCE)
def apply_credit() -> Any:
    """Apply a credit balance to the customer's open invoices (oldest due first), or to one."""
    if not ActionForm().validate():
        abort(400)
    customer_id = _form_id("customer_id")
    issuer_id = _form_id("issuer_id")
    invoice_id = _form_id("invoice_id", required=False)
    currency = request.form.get("currency", "")
    if currency not in CURRENCIES or customer_id is None or issuer_id is None:
        abort(400)
    with saving(_("The credit balance was not applied")) as outcome:
        applied = apply_credit_balance(
            session(),
            customer_id=customer_id,
            issuer_id=issuer_id,
            currency=currency,
            invoice_id=invoice_id,
            actor=seller(),
            now=now(),
        )
    if not outcome.refused:
        flash(_("%(amount)s of credit balance applied.", amount=applied), "success")
    back = request.form.get("back", "")
    if invoice_id is not None and back == "invoice":
        return redirect(url_for("invoices.invoice_page", invoice_id=invoice_id))
    return redirect(url_for("payments.credit_balances_page"))


def _form_id(name: str, *, required: bool = True) -> int | None:
    text = request.form.get(name, "")
    if not text and not required:
        return None
    # ASCII digits only: str.isdigit() takes "²", which int() then refuses (a 500).
    if not _ID_DIGITS.fullmatch(text) or len(text) > 9:
        abort(400)
    return int(text)


# --- Receivables ---


@bp.get("/receivables")
@login_required(*FINANCE)
def receivables() -> Any:
    args = list_args(RECEIVABLE_SORTS, RECEIVABLE_DEFAULT_SORT)
    today = issue_date_for(staff().party, now())
    issuer_id, currency, keep = _issuer_and_currency()
    age = request.args.get("age", "")
    if age and age not in BUCKETS:
        flash(_("The ageing filter was ignored: no such ageing bucket."), "error")
        age = ""
    filters = ReceivableFilters(issuer_party_id=issuer_id, currency=currency, bucket=age, on=today)
    stmt = receivables_listing(args.q, sort=args.sort, filters=filters)
    every = list(session().execute(stmt).scalars())
    if wants_csv():
        return _receivables_csv(every, today, last_steps(session(), [i.id for i in every]))
    summary = ageing_summary(every, today)
    page = paginate(stmt)
    # The last reminder of the invoices on this page only.
    reminded = last_steps(session(), [invoice.id for invoice in page.items])
    return render_template(
        "payments/receivables.html",
        page=page,
        args=args,
        keep={**keep, "age": age},
        parties=list_parties(session()),
        currencies=CURRENCIES,
        summary=summary,
        totals=currency_totals(summary),
        credit=_credit_by_row(),
        buckets=BUCKETS,
        bucket_of=lambda invoice: ageing_bucket(invoice.due_date, today),
        reminded=reminded,
        today=today,
        zero=Decimal(0),
    )


def _credit_by_row() -> dict[tuple[str, str, str], Money]:
    """Each customer's credit balance keyed as the ageing summary's rows are: (customer, issuer,
    currency)."""
    return {
        (b.customer, b.issuer, b.balance.currency): b.balance for b in credit_balances(session())
    }


def _receivables_csv(every: list[Invoice], today: date, reminded: dict[int, Any]) -> Any:
    def last(invoice_id: int) -> str:
        step = reminded.get(invoice_id)
        return f"{step.label} ({step.at:%Y-%m-%d})" if step else ""

    return csv_download(
        "receivables",
        "invoice customer issuer due_date ageing last_reminder currency amount_due".split(),
        (
            (
                inv.number or "",
                inv.customer.legal_name,
                inv.issuer.code,
                inv.due_date.isoformat() if inv.due_date else "",
                ageing_bucket(inv.due_date, today),
                last(inv.id),
                inv.currency,
                amount_cell(inv.amount_due, inv.currency),
            )
            for inv in every
        ),
    )
