"""Wholesale customers: everyone sees all of them; sales edit only their own party's."""

from __future__ import annotations

from typing import Any

import pycountry
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired, InputRequired, Optional

from billing.extensions import now, session
from billing.money import BILLING_CURRENCIES
from billing.parties.customers import create_customer, get_customer, update_customer
from billing.parties.models import Customer
from billing.parties.queries import (
    CUSTOMER_DEFAULT_SORT,
    CUSTOMER_SORTS,
    customer_listing,
    list_parties,
)
from billing.sales.queries import customer_contracts, list_quotes
from billing.web.auth import login_required
from billing.web.forms import EmailTextField, TextAreaField, TextField, WholeNumberField, saving
from billing.web.frame import SELLING_ROLES, list_args, may_sell_for, paginate, seller

bp = Blueprint("customers", __name__, url_prefix="/customers")


def _upper(value: str | None) -> str | None:
    return value.upper() if value else value


class CustomerForm(FlaskForm):  # type: ignore[misc]
    legal_name = TextField("Legal name", validators=[DataRequired()], max_length=200)
    country = TextField(
        "Country (ISO code)", validators=[DataRequired()], max_length=2, filters=[_upper]
    )
    tax_id = TextField("Tax id", max_length=64)
    billing_address = TextAreaField("Billing address", max_length=2000, strip=False)
    billing_currency = SelectField(
        "Billing currency", choices=list(BILLING_CURRENCIES), default="USD"
    )
    payment_terms_days = WholeNumberField(
        "Payment terms (days)", validators=[InputRequired()], default=30
    )
    owner_party = SelectField("Account owner")
    contact_name = TextField("Contact name", max_length=200)
    contact_email = EmailTextField("Contact email", validators=[Optional()], max_length=200)
    contact_phone = TextField("Contact phone", max_length=64)

    def values(self) -> dict[str, Any]:
        return {
            name: getattr(self, name).data or ""
            for name in (
                "legal_name",
                "country",
                "tax_id",
                "billing_address",
                "billing_currency",
                "owner_party",
                "contact_name",
                "contact_email",
                "contact_phone",
            )
        } | {"payment_terms_days": self.payment_terms_days.data}


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
    return render_template(
        "sales/customers.html",
        page=paginate(customer_listing(q=args.q, sort=args.sort)),
        args=args,
        may_sell_for=may_sell_for,
    )


def _save(form: CustomerForm, customer: Customer | None) -> Any:
    """Create or update from a posted form; on error the form again, with nothing written."""
    if not form.validate():
        flash("The customer was not saved: correct the fields marked below.", "error")
        return render_template("sales/customer_form.html", form=form, customer=customer), 422
    with saving("The customer was not saved", form) as outcome:
        if customer is None:
            saved = create_customer(session(), form.values(), seller=seller(), now=now())
        else:
            saved = update_customer(
                session(), customer.id, form.values(), seller=seller(), now=now()
            )
    if outcome.refused:
        form_page = render_template("sales/customer_form.html", form=form, customer=customer)
        return form_page, outcome.status
    flash(f"{saved.legal_name} saved.", "success")
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
        now=now(),
    )


@bp.route("/<id:customer_id>/edit", methods=["GET", "POST"])
@login_required(*SELLING_ROLES)
def edit_customer(customer_id: int) -> Any:
    customer = get_customer(session(), customer_id)
    if not may_sell_for(customer.owner_party_id):
        abort(
            403,
            description=f"{customer.legal_name} belongs to {customer.owner_party.code}: "
            "read-only for you.",
        )
    form = CustomerForm(obj=customer)
    _party_choices(form)
    if request.method == "POST":
        return _save(form, customer)
    form.owner_party.data = customer.owner_party.code
    return render_template("sales/customer_form.html", form=form, customer=customer)
