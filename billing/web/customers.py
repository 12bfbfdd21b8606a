"""Wholesale customers: everyone sees all of them; sales edit only their own party's."""

from __future__ import annotations

from typing import Any

import pycountry
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from billing.errors import DomainError
from billing.extensions import now, session
from billing.mail.models import BillingContact
from billing.mail.services import (
    add_contact,
    get_contact,
    list_contacts,
    remove_contact,
    update_contact,
)
from billing.money import BILLING_CURRENCIES
from billing.parties.customers import (
    CUSTOMER_FIELDS,
    create_customer,
    get_customer,
    update_customer,
)
from billing.parties.models import Customer
from billing.parties.queries import (
    CUSTOMER_DEFAULT_SORT,
    CUSTOMER_SORTS,
    customer_listing,
    list_parties,
)
from billing.reports.sla import (
    parse_month,
    sla_statement,
    statement_csv,
    statement_filename,
    statement_months,
    statement_pdf,
)
from billing.sales.queries import customer_contracts, list_quotes
from billing.web.auth import login_required, staff
from billing.web.forms import (
    ActionForm,
    ContactForm,
    EmailTextField,
    TextAreaField,
    TextField,
    WholeNumberField,
    saving,
)
from billing.web.frame import (
    SELLING_ROLES,
    csv_download,
    every_row,
    list_args,
    may_sell_for,
    paginate,
    seller,
    wants_csv,
)
from billing.web.language import INVOICE_LANGUAGE_WORDS

bp = Blueprint("customers", __name__, url_prefix="/customers")


def _upper(value: str | None) -> str | None:
    return value.upper() if value else value


class CustomerForm(FlaskForm):  # type: ignore[misc]
    legal_name = TextField(_l("Legal name"), validators=[DataRequired()], max_length=200)
    country = TextField(
        _l("Country (ISO code)"), validators=[DataRequired()], max_length=2, filters=[_upper]
    )
    tax_id = TextField(_l("Tax id"), max_length=64)
    billing_address = TextAreaField(_l("Billing address"), max_length=2000, strip=False)
    # The address in fields and the VAT id, for e-invoices (SPEC 14).
    street = TextField(_l("Street and number"), max_length=200)
    city = TextField(_l("City"), max_length=100)
    postal_code = TextField(_l("Postal code"), max_length=20)
    vat_id = TextField(_l("VAT id"), max_length=32, filters=[_upper])
    billing_currency = SelectField(
        _l("Billing currency"), choices=list(BILLING_CURRENCIES), default="USD"
    )
    payment_terms_days = WholeNumberField(
        _l("Payment terms (days)"), validators=[InputRequired()], default=30
    )
    owner_party = SelectField(_l("Account owner"))
    contact_name = TextField(_l("Contact name"), max_length=200)
    contact_email = EmailTextField(_l("Contact email"), validators=[Optional()], max_length=200)
    contact_phone = TextField(_l("Contact phone"), max_length=64)
    # The language its invoices print in beside English (SPEC 14); left empty, a new customer
    # takes its country's (Azerbaijani for AZ, Russian for KZ, English elsewhere).
    invoice_language = SelectField(
        _l("Invoice language"),
        choices=[
            SelectChoice("", _l("From the country")),
            *(SelectChoice(code, words) for code, words in INVOICE_LANGUAGE_WORDS.items()),
        ],
        default="",
    )

    def values(self) -> dict[str, Any]:
        chosen = (
            {"invoice_language": self.invoice_language.data} if self.invoice_language.data else {}
        )
        return (
            chosen
            | {
                name: getattr(self, name).data or ""
                for name in CUSTOMER_FIELDS
                # The terms are a number; an empty language means the country's (create_customer).
                if name not in ("payment_terms_days", "invoice_language")
            }
            | {"payment_terms_days": self.payment_terms_days.data}
        )


def _party_choices(form: CustomerForm) -> None:
    """The parties this user may give a customer to: their own, or any for an administrator."""
    form.owner_party.choices = [
        (p.code, f"{p.code} · {p.legal_name}")
        for p in list_parties(session())
        if may_sell_for(p.id)
    ]


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country else code


@bp.app_template_global()
def country_label(code: str) -> str:
    return f"{country_name(code)} ({code})"


@bp.get("")
@login_required()
def customers() -> Any:
    args = list_args(CUSTOMER_SORTS, CUSTOMER_DEFAULT_SORT)
    if wants_csv():
        return csv_download(
            "customers",
            (
                "legal_name country currency payment_terms_days owner contact_name contact_email"
            ).split(),
            (
                (
                    c.legal_name,
                    c.country,
                    c.billing_currency,
                    c.payment_terms_days,
                    c.owner_party.code,
                    c.contact_name or "",
                    c.contact_email or "",
                )
                for c in every_row(customer_listing(q=args.q, sort=args.sort))
            ),
        )
    return render_template(
        "sales/customers.html",
        page=paginate(customer_listing(q=args.q, sort=args.sort)),
        args=args,
        may_sell_for=may_sell_for,
    )


def _save(form: CustomerForm, customer: Customer | None) -> Any:
    """Create or update from a posted form; on error the form again, with nothing written."""
    if not form.validate():
        flash(_("The customer was not saved: correct the fields marked below."), "error")
        return render_template("sales/customer_form.html", form=form, customer=customer), 422
    with saving(_("The customer was not saved"), form) as outcome:
        if customer is None:
            saved = create_customer(session(), form.values(), seller=seller(), now=now())
        else:
            saved = update_customer(
                session(), customer.id, form.values(), seller=seller(), now=now()
            )
    if outcome.refused:
        form_page = render_template("sales/customer_form.html", form=form, customer=customer)
        return form_page, outcome.status
    flash(_("%(name)s saved.", name=saved.legal_name), "success")
    return redirect(url_for("customers.customer_page", customer_id=saved.id))


@bp.route("/new", methods=["GET", "POST"])
@login_required(*SELLING_ROLES)
def new_customer() -> Any:
    form = CustomerForm()
    _party_choices(form)
    if request.method == "POST":
        return _save(form, None)
    if current := [code for code, _ in form.owner_party.choices]:
        form.owner_party.data = current[0]
    return render_template("sales/customer_form.html", form=form, customer=None)


@bp.get("/<id:customer_id>")
@login_required()
def customer_page(customer_id: int) -> Any:
    customer = get_customer(session(), customer_id)
    return render_template(
        "sales/customer.html",
        customer=customer,
        quotes=list_quotes(session(), customer_id=customer.id, limit=20),
        contracts=customer_contracts(session(), customer.id),
        editable=may_sell_for(customer.owner_party_id),
        contacts=list_contacts(session(), customer.id),
        contacts_editable=may_edit_contacts(customer),
        action_form=ActionForm(),
        now=now(),
        statement_months=statement_months(session(), customer, now())
        if may_download_statements(customer)
        else None,
    )


# --- SLA statements (SPEC 7): the owning party's sales and finance, and admins -----------------

STATEMENT_ROLES = ("sales", "finance", "admin")


def may_download_statements(customer: Customer) -> bool:
    user = staff()
    return user.role in STATEMENT_ROLES and seller().may_sell_for(customer.owner_party_id)


@bp.get("/<id:customer_id>/sla-statement")
@login_required(*STATEMENT_ROLES)
def sla_statement_download(customer_id: int) -> Any:
    """The customer's SLA statement of ?period=YYYY-MM as ?format=pdf or csv."""
    customer = get_customer(session(), customer_id)
    if not may_download_statements(customer):
        abort(
            403,
            description=_(
                "%(name)s belongs to %(party)s: its SLA statements are for that party.",
                name=customer.legal_name,
                party=customer.owner_party.code,
            ),
        )
    kind = request.args.get("format", "pdf")
    months = statement_months(session(), customer, now())
    try:
        period = parse_month(request.args.get("period", ""))
    except DomainError:
        period = None
    if kind not in ("pdf", "csv") or period not in months:
        flash(_("Choose a month in the list and PDF or CSV for the SLA statement."), "error")
        return redirect(url_for("customers.customer_page", customer_id=customer.id) + "#sla")
    statement = sla_statement(session(), customer, period, now())
    body = statement_pdf(statement) if kind == "pdf" else statement_csv(statement)
    return Response(
        body,
        mimetype="application/pdf" if kind == "pdf" else "text/csv",
        headers={
            "Content-Disposition": "attachment; "
            f'filename="{statement_filename(statement, customer.id, kind)}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/<id:customer_id>/edit", methods=["GET", "POST"])
@login_required(*SELLING_ROLES)
def edit_customer(customer_id: int) -> Any:
    customer = get_customer(session(), customer_id)
    if not may_sell_for(customer.owner_party_id):
        abort(
            403,
            description=_(
                "%(name)s belongs to %(party)s: read-only for you.",
                name=customer.legal_name,
                party=customer.owner_party.code,
            ),
        )
    form = CustomerForm(obj=customer)
    _party_choices(form)
    if request.method == "POST":
        return _save(form, customer)
    form.owner_party.data = customer.owner_party.code
    return render_template("sales/customer_form.html", form=form, customer=customer)


# --- billing contacts (SPEC 13) -----------------------------------------------------------

# Who keeps a customer's billing contacts: its owning party's sales and finance, or an admin.
CONTACT_ROLES = ("sales", "finance", "admin")


def may_edit_contacts(customer: Customer) -> bool:
    user = staff()
    return user.role in CONTACT_ROLES and seller().may_sell_for(customer.owner_party_id)


def _contacts_customer(customer_id: int) -> Customer:
    customer = get_customer(session(), customer_id)
    if not may_edit_contacts(customer):
        abort(
            403,
            description=_(
                "%(name)s belongs to %(party)s: its billing contacts are read-only for you.",
                name=customer.legal_name,
                party=customer.owner_party.code,
            ),
        )
    return customer


def _contact_form_page(
    form: ContactForm, customer: Customer, contact: BillingContact | None, status: int = 200
) -> Any:
    page = render_template("sales/contact_form.html", form=form, customer=customer, contact=contact)
    return page, status


def _save_contact(form: ContactForm, customer: Customer, contact: BillingContact | None) -> Any:
    if not form.validate():
        flash(_("The billing contact was not saved: correct the fields marked below."), "error")
        return _contact_form_page(form, customer, contact, 422)
    with saving(_("The billing contact was not saved"), form) as outcome:
        if contact is None:
            add_contact(session(), customer.id, form.values(), editor=seller(), now=now())
        else:
            update_contact(
                session(), customer.id, contact.id, form.values(), editor=seller(), now=now()
            )
    if outcome.refused:
        return _contact_form_page(form, customer, contact, outcome.status)
    flash(_("Billing contact %(email)s saved.", email=form.email.data), "success")
    return redirect(url_for("customers.customer_page", customer_id=customer.id) + "#contacts")


@bp.route("/<id:customer_id>/contacts/new", methods=["GET", "POST"])
@login_required(*CONTACT_ROLES)
def new_contact(customer_id: int) -> Any:
    customer = _contacts_customer(customer_id)
    form = ContactForm()
    if request.method == "POST":
        return _save_contact(form, customer, None)
    return _contact_form_page(form, customer, None)


@bp.route("/<id:customer_id>/contacts/<id:contact_id>/edit", methods=["GET", "POST"])
@login_required(*CONTACT_ROLES)
def edit_contact(customer_id: int, contact_id: int) -> Any:
    customer = _contacts_customer(customer_id)
    contact = get_contact(session(), customer.id, contact_id)
    form = ContactForm(obj=contact)
    if request.method == "POST":
        return _save_contact(form, customer, contact)
    return _contact_form_page(form, customer, contact)


@bp.post("/<id:customer_id>/contacts/<id:contact_id>/remove")
@login_required(*CONTACT_ROLES)
def remove_contact_view(customer_id: int, contact_id: int) -> Any:
    customer = _contacts_customer(customer_id)
    contact = get_contact(session(), customer.id, contact_id)
    if not ActionForm().validate():
        abort(400)
    email = contact.email
    with saving(_("The billing contact was not removed")):
        remove_contact(session(), customer.id, contact.id, editor=seller(), now=now())
    flash(_("Billing contact %(email)s removed.", email=email), "success")
    return redirect(url_for("customers.customer_page", customer_id=customer.id) + "#contacts")
