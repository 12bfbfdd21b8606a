"""The customer portal (/portal/...): a customer's staff see their services and issued invoices,
download the PDFs and, when card payment is on (STRIPE_SECRET_KEY), pay an invoice through Stripe
Checkout. A portal login sees its own customer only: anyone else's invoice is not found (404)."""

from __future__ import annotations

import re
from datetime import date
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
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import SelectMultipleField, StringField

from billing.calendar import Period, local_date
from billing.errors import DomainError, NotFoundError
from billing.extensions import now, session, stripe_client
from billing.invoicing.einvoice import einvoice_data
from billing.invoicing.models import Invoice
from billing.invoicing.queries import (
    InvoiceFilters,
    get_invoice_by_number,
    invoice_listing,
    invoice_pdf,
    issuers_of_customer,
    shown_to_customers,
)
from billing.invoicing.ubl import MEDIA_TYPE as UBL_MEDIA_TYPE
from billing.invoicing.ubl import ubl_filename, ubl_xml
from billing.jobs.outbound import replayed
from billing.mail.models import BillingContact
from billing.mail.services import (
    add_contact,
    get_contact,
    list_contacts,
    remove_contact,
    update_contact,
)
from billing.outbound.models import WebhookEndpoint
from billing.outbound.services import (
    EVENT_TYPES,
    create_endpoint,
    delete_endpoint,
    delivery_listing,
    enable_endpoint,
    endpoint_listing,
    get_endpoint,
    replay_delivery,
)
from billing.parties.customers import Seller
from billing.payments.checkout import start_checkout
from billing.payments.models import Payment, PaymentApplication
from billing.payments.queries import (
    PAYMENT_DEFAULT_SORT,
    PAYMENT_SORTS,
    credit_balances,
    payment_listing,
    payments_of_invoice,
)
from billing.reports.sla import (
    billed_on,
    parse_month,
    recent_months,
    sla_statement,
    statement_csv,
    statement_filename,
    statement_months,
    statement_pdf,
)
from billing.sales.models import Service, ServiceState
from billing.sales.queries import (
    CONTRACT_DEFAULT_SORT,
    CONTRACT_SORTS,
    SERVICE_DEFAULT_SORT,
    SERVICE_SORTS,
    contracts_listing,
    get_customer_contract,
    get_service,
    service_listing,
)
from billing.sla.queries import chronic_failures_of
from billing.web.auth import portal_required
from billing.web.forms import LANGUAGE_NAMES, ActionForm, ContactForm, saving
from billing.web.frame import (
    amount_cell,
    csv_download,
    every_row,
    list_args,
    paginate,
    wants_csv,
)
from billing.web.language import error_text

bp = Blueprint("portal", __name__, url_prefix="/portal")
NUMBER_LENGTH = 32
WEBHOOK_ENDPOINT_ID = re.compile(r"we_[0-9a-f]{24}")
WEBHOOK_DELIVERY_ID = re.compile(r"whd_[0-9a-f]{24}")


def _customer_id() -> int:
    customer_id = current_user.customer_id
    assert isinstance(customer_id, int)  # noqa: S101 - portal_required let only a portal login in
    return customer_id


def _issued(number: str) -> Invoice:
    """One of this customer's issued documents; a draft or anyone else's is not found."""
    if len(number) > NUMBER_LENGTH:
        abort(404)
    try:
        invoice = get_invoice_by_number(session(), number, customer_id=_customer_id())
    except NotFoundError:
        abort(404, description=_("You have no invoice %(number)s.", number=number))
    if not invoice.shown_to_customer:
        # A draft, or issued with its PDF still being prepared (SPEC 12): not there yet.
        abort(404, description=_("You have no invoice %(number)s.", number=number))
    return invoice


def _card_payment_on() -> bool:
    return stripe_client() is not None


@bp.get("/")
@portal_required
def home() -> Any:
    customer_id = _customer_id()
    invoices = list(session().execute(_issued_listing(customer_id)).scalars())
    customer = current_user.customer
    issuers = issuers_of_customer(session(), customer)
    return render_template(
        "portal/home.html",
        customer=customer,
        invoices=invoices,
        contacts=list_contacts(session(), customer_id),
        credits=credit_balances(session(), customer_id),
        issuers=issuers,
        to_pay={
            party.id: [
                i
                for i in invoices
                if i.issuer_party_id == party.id and not i.is_credit_note and i.amount_due > 0
            ]
            for party in issuers
        },
        card=_card_payment_on(),
    )


def _issued_listing(customer_id: int) -> Any:
    """The customer's issued invoices and credit notes with their PDF, newest first; never a
    draft, nor a document whose PDF is still being prepared."""
    return invoice_listing(InvoiceFilters(customer_id=customer_id), "-issued").where(
        shown_to_customers()
    )


@bp.get("/invoices/<number>")
@portal_required
def invoice(number: str) -> Any:
    found = _issued(number)
    if request.args.get("paid") == "1":
        flash(
            _("Thank you: Stripe is confirming the payment; it shows here once confirmed."),
            "info",
        )
    return render_template(
        "portal/invoice.html",
        invoice=found,
        payments=payments_of_invoice(session(), found.id),
        card=_card_payment_on() and found.amount_due > 0 and not found.is_credit_note,
        action_form=ActionForm(),
    )


@bp.get("/invoices/<number>/pdf")
@portal_required
def invoice_pdf_download(number: str) -> Any:
    found = _issued(number)
    return Response(
        invoice_pdf(session(), found),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{found.number}.pdf"'},
    )


@bp.get("/invoices/<number>/ubl.xml")
@portal_required
def invoice_ubl_download(number: str) -> Any:
    """The document as UBL 2.1 XML for the customer's accounts-payable system (SPEC 14)."""
    data = einvoice_data(_issued(number))
    return Response(
        ubl_xml(data),
        mimetype=UBL_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{ubl_filename(data)}"'},
    )


@bp.post("/invoices/<number>/pay")
@portal_required
def pay(number: str) -> Any:
    found = _issued(number)
    if not ActionForm().validate():
        abort(400)
    page = url_for("portal.invoice", number=found.number, _external=True)
    try:
        link = start_checkout(stripe_client(), found, success_url=f"{page}?paid=1", cancel_url=page)
    except DomainError as error:
        flash(
            _("The payment was not started: %(reason)s.", reason=error_text(error.message)), "error"
        )
        return redirect(url_for("portal.invoice", number=found.number))
    return redirect(link.url, code=303)


# --- Webhooks (SPEC 13): the customer's endpoints, their delivery logs, replay ---------------


class WebhookForm(FlaskForm):  # type: ignore[misc]
    url = StringField("URL")
    # Checked by the service (billing/outbound), which names a wrong one on the field.
    events = SelectMultipleField(_l("Events"), choices=list(EVENT_TYPES), validate_choice=False)


def _portal_actor() -> str:
    return f"portal {current_user.email}"[:200]


def _endpoint_of_customer(endpoint_id: str) -> WebhookEndpoint:
    if not WEBHOOK_ENDPOINT_ID.fullmatch(endpoint_id):
        abort(404)
    try:
        return get_endpoint(session(), endpoint_id, customer_id=_customer_id())
    except NotFoundError:
        abort(404, description=_("You have no such webhook endpoint."))


def _webhooks_page(form: WebhookForm, new: WebhookEndpoint | None = None, status: int = 200) -> Any:
    endpoints = list(session().scalars(endpoint_listing(_customer_id())))
    return render_template(
        "portal/webhooks.html",
        endpoints=endpoints,
        form=form,
        new=new,
        event_types=EVENT_TYPES,
    ), status


@bp.get("/webhooks")
@portal_required
def webhooks() -> Any:
    return _webhooks_page(WebhookForm())


@bp.post("/webhooks")
@portal_required
def add_webhook() -> Any:
    form = WebhookForm()
    if not form.validate():
        abort(400)
    with saving("The endpoint was not added", form) as outcome:
        endpoint = create_endpoint(
            session(),
            _customer_id(),
            url=form.url.data or "",
            events=list(form.events.data or []),
            actor=_portal_actor(),
            now=now(),
            production=current_app.config.get("BILLING_ENV") == "production",
        )
    if outcome.refused:
        return _webhooks_page(form, status=outcome.status)
    # The secret is shown on this answer only: no redirect that would carry it in the session.
    return _webhooks_page(WebhookForm(formdata=None), new=endpoint, status=201)


@bp.get("/webhooks/<endpoint_id>")
@portal_required
def webhook(endpoint_id: str) -> Any:
    endpoint = _endpoint_of_customer(endpoint_id)
    deliveries = list(session().scalars(delivery_listing(endpoint.id).limit(100)))
    return render_template(
        "portal/webhook.html", endpoint=endpoint, deliveries=deliveries, action_form=ActionForm()
    )


@bp.post("/webhooks/<endpoint_id>/delete")
@portal_required
def delete_webhook(endpoint_id: str) -> Any:
    endpoint = _endpoint_of_customer(endpoint_id)
    if not ActionForm().validate():
        abort(400)
    with saving("The endpoint was not deleted") as outcome:
        delete_endpoint(
            session(),
            endpoint.public_id,
            customer_id=_customer_id(),
            actor=_portal_actor(),
            now=now(),
        )
    if outcome.refused:
        return redirect(url_for("portal.webhook", endpoint_id=endpoint_id))
    flash(
        _("The endpoint %(id)s was deleted: nothing more is sent to it.", id=endpoint_id),
        "success",
    )
    return redirect(url_for("portal.webhooks"))


@bp.post("/webhooks/<endpoint_id>/enable")
@portal_required
def enable_webhook(endpoint_id: str) -> Any:
    endpoint = _endpoint_of_customer(endpoint_id)
    if not ActionForm().validate():
        abort(400)
    with saving("The endpoint was not enabled") as outcome:
        enable_endpoint(
            session(),
            endpoint.public_id,
            customer_id=_customer_id(),
            actor=_portal_actor(),
            now=now(),
        )
    if not outcome.refused:
        flash(_("The endpoint is enabled: new events are sent to it again."), "success")
    return redirect(url_for("portal.webhook", endpoint_id=endpoint_id))


@bp.post("/webhooks/<endpoint_id>/deliveries/<delivery_id>/replay")
@portal_required
def replay_webhook(endpoint_id: str, delivery_id: str) -> Any:
    endpoint = _endpoint_of_customer(endpoint_id)
    if not WEBHOOK_DELIVERY_ID.fullmatch(delivery_id):
        abort(404)
    if not ActionForm().validate():
        abort(400)
    with saving("The delivery was not replayed") as outcome:
        delivery = replay_delivery(
            session(),
            endpoint.public_id,
            delivery_id,
            customer_id=_customer_id(),
            actor=_portal_actor(),
            now=now(),
        )
        replayed(session(), delivery.id)
    if not outcome.refused:
        flash(_("Delivery %(id)s is being sent again.", id=delivery_id), "success")
    return redirect(url_for("portal.webhook", endpoint_id=endpoint_id))


# --- Payments, credit notes, services, contracts (SPEC 10): the customer's own, read only ------

# The staff lists' sorts but by customer: a portal list holds one customer's rows.
PORTAL_PAYMENT_SORTS = {k: v for k, v in PAYMENT_SORTS.items() if k != "customer"}
PORTAL_SERVICE_SORTS = {k: v for k, v in SERVICE_SORTS.items() if k != "customer"}
PORTAL_CONTRACT_SORTS = {k: v for k, v in CONTRACT_SORTS.items() if k != "customer"}
METHODS = {"stripe": "card", "bank_transfer": "bank transfer"}


def _customer_time_zone() -> str:
    """The business day a portal download is named for: the customer's account owner's."""
    return str(current_user.customer.owner_party.time_zone)


def _shown_number(invoice: Invoice) -> str | None:
    """An applied invoice's number as the customer may follow it (a draft has none)."""
    return invoice.number if invoice.shown_to_customer else None


@bp.get("/payments")
@portal_required
def payments() -> Any:
    customer_id = _customer_id()
    args = list_args(PORTAL_PAYMENT_SORTS, PAYMENT_DEFAULT_SORT)
    stmt = (
        payment_listing(args.q, sort=args.sort)
        .where(Payment.customer_id == customer_id)
        .options(selectinload(Payment.applications).selectinload(PaymentApplication.invoice))
    )
    if wants_csv():
        return csv_download(
            "payments",
            "value_date issuer method reference currency amount applied_to credit_left state".split(),
            (
                (
                    p.value_date.isoformat(),
                    p.issuer.code,
                    METHODS.get(p.method, p.method),
                    p.reference or "",
                    p.currency,
                    amount_cell(p.amount, p.currency),
                    " ".join(_applied_to(p)),
                    amount_cell(p.unapplied, p.currency),
                    p.state,
                )
                for p in every_row(stmt)
            ),
            time_zone=_customer_time_zone(),
        )
    credit_notes = list(
        session().scalars(
            invoice_listing(
                InvoiceFilters(customer_id=customer_id, kind="credit_note"), "-issued"
            ).where(shown_to_customers())
        )
    )
    return render_template(
        "portal/payments.html",
        page=paginate(stmt),
        args=args,
        methods=METHODS,
        applied_to=_applied_to,
        credit_notes=credit_notes,
        credits=credit_balances(session(), customer_id),
    )


def _applied_to(payment: Payment) -> list[str]:
    """The numbers of the invoices a payment paid, in the order it was applied (a refund that
    reversed an application is not a second one)."""
    numbers: list[str] = []
    for application in payment.applications:
        number = _shown_number(application.invoice)
        if application.amount > 0 and number and number not in numbers:
            numbers.append(number)
    return numbers


@bp.get("/services")
@portal_required
def services() -> Any:
    state = request.args.get("state", "")
    state = state if state in set(ServiceState) else ""
    args = list_args(PORTAL_SERVICE_SORTS, SERVICE_DEFAULT_SORT)
    stmt = service_listing(customer_id=_customer_id(), state=state, q=args.q, sort=args.sort)
    if wants_csv():
        return csv_download(
            "services",
            (
                "circuit product route protection model term_months state ordered active_since"
                " end_date contract"
            ).split(),
            (
                (
                    s.circuit_id,
                    s.product.name,
                    " + ".join(route_names(s)),
                    s.protection,
                    "IRU" if s.model == "iru" else "lease",
                    s.term_months,
                    s.state,
                    ordered_on(s).isoformat(),
                    s.ready_for_service_date.isoformat() if s.ready_for_service_date else "",
                    s.end_date.isoformat() if s.end_date else "",
                    s.contract.number,
                )
                for s in every_row(stmt)
            ),
            time_zone=_customer_time_zone(),
        )
    return render_template(
        "portal/services.html",
        page=paginate(stmt),
        args=args,
        state=state,
        states=[s.value for s in ServiceState],
        route_names=route_names,
        ordered_on=ordered_on,
    )


def ordered_on(service: Service) -> date:
    """The day a service was ordered, in its seller's business day."""
    return local_date(service.created_at, service.contract.party.time_zone)


def route_names(service: Service) -> list[str]:
    """The routes a service's spectrum runs on, in words, each once (a protected service has
    two)."""
    names: list[str] = []
    for allocation in service.reservation.allocations:
        name = allocation.fiber_pair.segment.route.name
        if name not in names:
            names.append(name)
    return names


def _service_of_customer(circuit_id: str) -> Service:
    if len(circuit_id) > NUMBER_LENGTH:
        abort(404)
    try:
        return get_service(session(), circuit_id, customer_id=_customer_id())
    except NotFoundError:
        abort(404, description=_("You have no service %(circuit)s.", circuit=circuit_id))


@bp.get("/services/<circuit_id>")
@portal_required
def service(circuit_id: str) -> Any:
    found = _service_of_customer(circuit_id)
    return render_template(
        "portal/service.html",
        service=found,
        routes=route_names(found),
        ordered=ordered_on(found),
        sla_months=recent_months(session(), found, now()),
        chronic_flags=chronic_failures_of(session(), found.id),
        billed_on=billed_on,
    )


# --- SLA statements (SPEC 7): the customer's month, as PDF and CSV ------------------------------


def _statement_months() -> list[Period]:
    return statement_months(session(), current_user.customer, now())


@bp.get("/sla-statements")
@portal_required
def sla_statements() -> Any:
    return render_template("portal/sla_statements.html", months=_statement_months())


@bp.get("/sla-statements/<month>.<any(pdf, csv):kind>")
@portal_required
def sla_statement_download(month: str, kind: str) -> Any:
    try:
        period = parse_month(month)
    except DomainError:
        abort(404)
    if period not in _statement_months():
        abort(404, description=_("There is no SLA statement for %(month)s (yet).", month=month))
    statement = sla_statement(session(), current_user.customer, period, now())
    body = statement_pdf(statement) if kind == "pdf" else statement_csv(statement)
    return Response(
        body,
        mimetype="application/pdf" if kind == "pdf" else "text/csv",
        headers={
            "Content-Disposition": "attachment; "
            f'filename="{statement_filename(statement, _customer_id(), kind)}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/contracts")
@portal_required
def contracts() -> Any:
    args = list_args(PORTAL_CONTRACT_SORTS, CONTRACT_DEFAULT_SORT)
    stmt = contracts_listing(customer_id=_customer_id(), q=args.q, sort=args.sort)
    if wants_csv():
        return csv_download(
            "contracts",
            "number seller signed services purchase_order".split(),
            (
                (
                    c.number,
                    c.party.code,
                    local_date(c.signed_at, c.party.time_zone).isoformat(),
                    len(c.services),
                    c.purchase_order or "",
                )
                for c in every_row(stmt)
            ),
            time_zone=_customer_time_zone(),
        )
    return render_template("portal/contracts.html", page=paginate(stmt), args=args)


@bp.get("/contracts/<number>")
@portal_required
def contract(number: str) -> Any:
    if len(number) > NUMBER_LENGTH:
        abort(404)
    try:
        found = get_customer_contract(session(), number, customer_id=_customer_id())
    except NotFoundError:
        abort(404, description=_("You have no contract %(number)s.", number=number))
    return render_template("portal/contract.html", contract=found)


# --- Billing contacts (SPEC 13): the customer's own staff keep them ----------------------------


def _contact_editor() -> Seller:
    """The portal login as the editor of its own customer's contacts. The mail services let a
    seller of the account's owner party edit them; the customer id always comes from the login
    (never from the request), so this opens no other customer's contacts."""
    return Seller(label=_portal_actor(), party_id=current_user.customer.owner_party_id)


def _contact_of_customer(contact_id: int) -> BillingContact:
    try:
        return get_contact(session(), _customer_id(), contact_id)
    except NotFoundError:
        abort(404, description=_("You have no such billing contact."))


@bp.get("/contacts")
@portal_required
def contacts() -> Any:
    return render_template(
        "portal/contacts.html",
        contacts=list_contacts(session(), _customer_id()),
        language_names=LANGUAGE_NAMES,
    )


def _contact_form_page(form: ContactForm, contact: BillingContact | None, status: int = 200) -> Any:
    return render_template("portal/contact_form.html", form=form, contact=contact), status


def _save_contact(form: ContactForm, contact: BillingContact | None) -> Any:
    if not form.validate():
        flash(_("The billing contact was not saved: correct the fields marked below."), "error")
        return _contact_form_page(form, contact, 422)
    with saving("The billing contact was not saved", form) as outcome:
        if contact is None:
            add_contact(
                session(), _customer_id(), form.values(), editor=_contact_editor(), now=now()
            )
        else:
            update_contact(
                session(),
                _customer_id(),
                contact.id,
                form.values(),
                editor=_contact_editor(),
                now=now(),
            )
    if outcome.refused:
        return _contact_form_page(form, contact, outcome.status)
    flash(_("Billing contact %(email)s saved.", email=form.email.data), "success")
    return redirect(url_for("portal.contacts"))


@bp.route("/contacts/new", methods=["GET", "POST"])
@portal_required
def new_contact() -> Any:
    form = ContactForm()
    if request.method == "POST":
        return _save_contact(form, None)
    return _contact_form_page(form, None)


@bp.route("/contacts/<id:contact_id>/edit", methods=["GET", "POST"])
@portal_required
def edit_contact(contact_id: int) -> Any:
    found = _contact_of_customer(contact_id)
    form = ContactForm(obj=found)
    if request.method == "POST":
        return _save_contact(form, found)
    return _contact_form_page(form, found)


@bp.get("/contacts/<id:contact_id>/remove")
@portal_required
def confirm_contact_removal(contact_id: int) -> Any:
    """Removing a contact stops its mails at once: ask first, on a page of its own (no script
    needed); nothing changes on this GET."""
    return render_template(
        "portal/contact_remove.html",
        contact=_contact_of_customer(contact_id),
        action_form=ActionForm(),
    )


@bp.post("/contacts/<id:contact_id>/remove")
@portal_required
def remove_contact_view(contact_id: int) -> Any:
    found = _contact_of_customer(contact_id)
    if not ActionForm().validate():
        abort(400)
    email = found.email
    with saving("The billing contact was not removed") as outcome:
        remove_contact(session(), _customer_id(), found.id, editor=_contact_editor(), now=now())
    if not outcome.refused:
        flash(
            _(
                "Billing contact %(email)s removed: documents are no longer emailed there.",
                email=email,
            ),
            "success",
        )
    return redirect(url_for("portal.contacts"))
