"""The customer portal (/portal/...): a customer's staff see their services and issued invoices,
download the PDFs and, when card payment is on (STRIPE_SECRET_KEY), pay an invoice through Stripe
Checkout. A portal login sees its own customer only: anyone else's invoice is not found (404)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from billing.errors import DomainError, NotFoundError
from billing.extensions import session, stripe_client
from billing.invoicing.models import Invoice
from billing.invoicing.queries import (
    InvoiceFilters,
    get_invoice_by_number,
    invoice_listing,
    invoice_pdf,
    shown_to_customers,
)
from billing.payments.checkout import start_checkout
from billing.payments.queries import payments_of_invoice
from billing.sales.queries import service_listing
from billing.web.auth import portal_required
from billing.web.forms import ActionForm

bp = Blueprint("portal", __name__, url_prefix="/portal")
NUMBER_LENGTH = 32


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
        abort(404, description=f"You have no invoice {number}.")
    if not invoice.shown_to_customer:
        # A draft, or issued with its PDF still being prepared (SPEC 12): not there yet.
        abort(404, description=f"You have no invoice {number}.")
    return invoice


def _card_payment_on() -> bool:
    return stripe_client() is not None


@bp.get("/")
@portal_required
def home() -> Any:
    customer_id = _customer_id()
    services = list(session().execute(service_listing(customer_id=customer_id)).scalars())
    invoices = list(session().execute(_issued_listing(customer_id)).scalars())
    return render_template(
        "portal/home.html",
        customer=current_user.customer,
        services=services,
        invoices=invoices,
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
        flash("Thank you: Stripe is confirming the payment; it shows here once confirmed.", "info")
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
        flash(f"The payment was not started: {error.message}.", "error")
        return redirect(url_for("portal.invoice", number=found.number))
    return redirect(link.url, code=303)
