"""Quotes: the builder (preview, then save: the spectrum is held), the quote page, its PDF, the list.

Preview is a POST that writes nothing: it prices every line from the price book in force and
plans the first fit of every unit, then rolls back. Save prices again and holds, all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from billing.calendar import local_date
from billing.errors import DomainError, NotFoundError
from billing.extensions import now, session
from billing.inventory.queries import (
    PROTECTIONS,
    Availability,
    SpectrumAsk,
    list_products,
    plan_units,
    route_choices,
)
from billing.inventory.services import SpectrumConflictError
from billing.inventory.spectrum import PathFit
from billing.money import Money
from billing.parties.customers import get_customer, list_customers
from billing.pdf import render_pdf
from billing.sales.models import Quote, QuoteLine
from billing.sales.pricing import NO_CHARGES, Charges, LinePrices, quote_prices
from billing.sales.queries import QUOTE_DEFAULT_SORT, QUOTE_SORTS, get_quote, quote_listing
from billing.sales.quotes import (
    DEFAULT_VALID_DAYS,
    MAX_LINES,
    MAX_VALID_DAYS,
    LineRequest,
    PricedLine,
    accept_quote,
    cancel_quote,
    create_quote,
    price_line,
    selling_day,
)
from billing.web.auth import login_required
from billing.web.forms import (
    NOTES_LENGTH,
    ActionForm,
    IdSelectField,
    TextAreaField,
    WholeNumberField,
    apply_errors,
    discount_field,
    saving,
    width_field,
)
from billing.web.frame import (
    SELLING_ROLES,
    csv_download,
    every_row,
    id_arg,
    list_args,
    may_sell_for,
    paginate,
    seller,
    wants_csv,
)
from billing.web.language import PROTECTION_WORDS, error_text, instant_text

bp = Blueprint("quotes", __name__, url_prefix="/quotes")

BLANK_ROWS = 3  # line rows the builder shows; one more appears while they are all filled
STATUSES = ("open", "expired", "accepted", "cancelled")
STATUS_WORDS = {
    "open": _l("open"),
    "expired": _l("expired"),
    "accepted": _l("accepted"),
    "cancelled": _l("cancelled"),
}
MODELS = [SelectChoice("lease", _l("Lease")), SelectChoice("iru", "IRU")]
PROTECTION_CHOICES = [SelectChoice(p, PROTECTION_WORDS[p]) for p in PROTECTIONS]


# --- Charges: how a line's prices read, the same on the preview, the quote page and the PDF ---


@dataclass(frozen=True)
class Charge:
    name: str
    period: str  # monthly, one-time, yearly
    list_unit: Money | None
    discount_percent: Decimal | None
    net_unit: Money
    quantity: int
    total: Money
    note: str = ""


CHARGE_NAMES = (
    ("MRC", "monthly"),
    ("NRC (installation)", "one-time"),
    ("IRU fee", "one-time"),
    ("O&M", "yearly"),
)


def charge_rows(prices: LinePrices) -> list[Charge]:
    """A line's prices (computed in sales/) as rows: one per charge the model has."""
    rows = []
    for (name, period), listed, net, total in zip(
        CHARGE_NAMES, prices.list_unit, prices.unit, prices.total, strict=True
    ):
        if net is None or total is None:
            continue
        if period == "yearly":
            rate = prices.om_rate_percent or Decimal(0)
            note = f"{rate.normalize():f}% of the IRU fee, yearly from ready for service"
            rows.append(Charge(name, period, None, None, net, prices.quantity, total, note))
        else:
            rows.append(
                Charge(name, period, listed, prices.discount_percent, net, prices.quantity, total)
            )
    return rows


def quote_view(quote: Quote) -> tuple[list[tuple[QuoteLine, list[Charge]]], Charges]:
    prices = quote_prices(quote)
    lines = [
        (line, charge_rows(line_prices))
        for line, line_prices in zip(quote.lines, prices.lines, strict=True)
    ]
    return lines, prices.totals


# --- The builder ---


class LineForm(Form):  # type: ignore[misc]
    """One line row; a row with no product is ignored."""

    route = SelectField(_l("Route"))
    protection = SelectField(_l("Protection"), choices=PROTECTION_CHOICES)
    product = SelectField(_l("Product"))
    model = SelectField(_l("Model"))
    term_months = WholeNumberField(_l("Term (months)"), validators=[Optional()], default=12)
    quantity = WholeNumberField(_l("Units"), validators=[Optional()], default=1)
    discount_percent = discount_field(_l("Discount %"))
    width_ghz = width_field(_l("Width GHz"))


class QuoteForm(FlaskForm):  # type: ignore[misc]
    customer_id = IdSelectField(_l("Customer"), validators=[InputRequired()])
    valid_days = WholeNumberField(
        _l("Valid for (days)"),
        validators=[InputRequired()],
        default=DEFAULT_VALID_DAYS,
        minimum=1,
        maximum=MAX_VALID_DAYS,
    )
    notes = TextAreaField(_l("Notes for the customer"), max_length=NOTES_LENGTH)
    lines = FieldList(FormField(LineForm), min_entries=BLANK_ROWS, max_entries=MAX_LINES)


def _choices(form: QuoteForm) -> None:
    form.customer_id.choices = [
        (c.id, f"{c.legal_name} ({c.owner_party.code})")
        for c in list_customers(session())
        if may_sell_for(c.owner_party_id)
    ]
    routes = route_choices(session())
    products = [("", "—")] + [(p.code, p.name) for p in list_products(session())]
    for entry in form.lines:
        entry.form.route.choices = routes
        entry.form.product.choices = products
        entry.form.model.choices = MODELS


@dataclass
class LinePlan:
    """A line of the preview: its prices, and where each unit would go if saved now."""

    row: int
    priced: PricedLine
    charges: list[Charge]
    availability: Availability
    fits: list[list[PathFit]]

    @property
    def units(self) -> int:
        return self.priced.request.quantity

    @property
    def all_fit(self) -> bool:
        return len(self.fits) == self.units


@dataclass
class Preview:
    lines: list[LinePlan] = field(default_factory=list)
    totals: Charges = NO_CHARGES

    @property
    def all_fit(self) -> bool:
        return all(p.all_fit for p in self.lines)

    @property
    def currency(self) -> str:
        return self.lines[0].priced.price.version.currency if self.lines else "USD"


@dataclass
class Read:
    """The priced lines of a posted builder form, or the messages of the lines that failed."""

    priced: list[tuple[int, PricedLine]] = field(default_factory=list)
    line_errors: dict[int, list[str]] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)
    ok: bool = True


def _selling_day(customer_id: int | None) -> date:
    """The date the chosen customer's seller prices on (the UTC date until one is chosen)."""
    try:
        customer = get_customer(session(), customer_id) if customer_id else None
    except NotFoundError:
        customer = None
    return selling_day(customer, now())


def _read_lines(form: QuoteForm) -> Read:
    read = Read(ok=form.validate())
    day = _selling_day(form.customer_id.data)
    filled = 0
    for index, entry in enumerate(form.lines):
        row = entry.form
        if not row.product.data:
            continue
        filled += 1
        missing = [f for f in (row.term_months, row.quantity) if f.data is None and not f.errors]
        for f in missing:
            f.errors = [*f.errors, _("required")]
        if missing or row.errors:
            read.ok = False
            continue
        line = LineRequest(
            product=row.product.data,
            route=row.route.data,
            protection=row.protection.data,
            model=row.model.data,
            term_months=row.term_months.data,
            quantity=row.quantity.data,
            discount_percent=row.discount_percent.data or Decimal(0),
            width_ghz=row.width_ghz.data,
        )
        try:
            read.priced.append((index, price_line(session(), line, day=day)))
        except DomainError as e:
            read.ok = False
            unplaced = apply_errors(row, e.errors)
            read.line_errors[index] = [error_text(e.message)] if unplaced or not e.errors else []
    if not filled:
        read.ok = False
        read.form_errors.append(_("Add at least one line: choose a product."))
    return read


def plan(priced: list[tuple[int, PricedLine]]) -> Preview:
    """Price and place every unit in order, as saving would: later lines see earlier units."""
    preview = Preview()
    asks = [
        SpectrumAsk(
            p.request.route,
            p.request.protection,
            p.request.product,
            p.request.width_ghz,
            p.request.quantity,
        )
        for _, p in priced
    ]
    for (index, p), (result, fits) in zip(
        priced, plan_units(session(), asks, now=now()), strict=True
    ):
        preview.totals = preview.totals.plus(p.prices.total)
        preview.lines.append(LinePlan(index + 1, p, charge_rows(p.prices), result, fits))
    return preview


def _pad_rows(form: QuoteForm) -> None:
    """Always a blank row to add a line to (up to the limit), and never fewer than BLANK_ROWS."""
    filled = sum(1 for entry in form.lines if entry.form.product.data)
    while len(form.lines) < min(MAX_LINES, max(BLANK_ROWS, filled + 1)):
        form.lines.append_entry()


def _builder(
    form: QuoteForm,
    *,
    status: int = 200,
    read: Read | None = None,
    preview: Preview | None = None,
    conflict: list[PathFit] | None = None,
) -> Any:
    _pad_rows(form)
    _choices(form)
    valid_days = form.valid_days.data if not form.valid_days.errors else None
    return render_template(
        "sales/quote_new.html",
        form=form,
        read=read or Read(),
        preview=preview,
        conflict=conflict,
        hold_until=now() + timedelta(days=valid_days) if valid_days else None,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@login_required(*SELLING_ROLES)
def new_quote() -> Any:
    if request.method == "GET":
        form = QuoteForm(formdata=None, customer_id=id_arg("customer_id"))
        form.lines[0].form.product.data = "WL100G"
        return _builder(form)
    form = QuoteForm()
    _choices(form)
    read = _read_lines(form)
    if not read.ok:
        flash(_("Correct the lines and fields marked below."), "error")
        return _builder(form, status=422, read=read)
    if request.form.get("action") != "save":  # a preview: nothing is committed
        return _builder(form, read=read, preview=plan(read.priced))
    with saving(_("The quote was not saved")) as outcome:
        quote = create_quote(
            session(),
            customer_id=form.customer_id.data,
            lines=[p for _, p in read.priced],  # priced once, when the form was read
            seller=seller(),
            now=now(),
            valid_days=form.valid_days.data,
            notes=(form.notes.data or "").strip(),
        )
    if isinstance(outcome.error, SpectrumConflictError):
        conflict = outcome.error.alternative
        return _builder(form, status=409, read=read, preview=plan(read.priced), conflict=conflict)
    if outcome.error is not None:
        read.form_errors.extend(apply_errors(form, outcome.error.errors))
        return _builder(form, status=outcome.status, read=read)
    flash(
        _(
            "Quote %(number)s saved. Its spectrum is held until %(until)s.",
            number=quote.number,
            until=instant_text(quote.valid_until),
        ),
        "success",
    )
    return redirect(url_for("quotes.quote_page", quote_id=quote.id))


# --- The quote page, its PDF, accept and cancel ---


def _quote_page(quote_id: int, status: int = 200) -> Any:
    quote = get_quote(session(), quote_id)
    lines, totals = quote_view(quote)
    return render_template(
        "sales/quote.html",
        quote=quote,
        lines=lines,
        totals=totals,
        status=quote.status(now()),
        may_sell=may_sell_for(quote.party_id),
        action_form=ActionForm(),
        now=now(),
    ), status


@bp.get("/<id:quote_id>")
@login_required()
def quote_page(quote_id: int) -> Any:
    return _quote_page(quote_id)


@bp.post("/<id:quote_id>/accept")
@login_required(*SELLING_ROLES)
def accept(quote_id: int) -> Any:
    with saving(_("The quote was not accepted")) as outcome:
        contract = accept_quote(session(), quote_id, seller=seller(), now=now())
        circuits = [s.circuit_id for s in contract.services]
    if outcome.refused:
        return _quote_page(quote_id, status=outcome.status)
    flash(
        ngettext(
            "Contract %(number)s signed: %(num)d service(s) pending (%(circuits)s).",
            "Contract %(number)s signed: %(num)d service(s) pending (%(circuits)s).",
            len(circuits),
            number=contract.number,
            circuits=", ".join(circuits),
        ),
        "success",
    )
    return redirect(url_for("services.contract_page", contract_id=contract.id))


@bp.post("/<id:quote_id>/cancel")
@login_required(*SELLING_ROLES)
def cancel(quote_id: int) -> Any:
    with saving(_("The quote was not cancelled")) as outcome:
        number = cancel_quote(session(), quote_id, seller=seller(), now=now()).number
    if outcome.refused:
        return _quote_page(quote_id, status=outcome.status)
    flash(_("Quote %(number)s cancelled; its spectrum is free again.", number=number), "success")
    return redirect(url_for("quotes.quote_page", quote_id=quote_id))


@bp.get("/<id:quote_id>/pdf")
@login_required()
def quote_pdf(quote_id: int) -> Any:
    quote = get_quote(session(), quote_id)
    lines, totals = quote_view(quote)
    html = render_template(
        "pdf/quote.html",
        quote=quote,
        lines=lines,
        totals=totals,
        status=quote.status(now()),
        issued_on=local_date(quote.created_at, quote.party.time_zone),
    )
    pdf = render_pdf(html)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{quote.number}.pdf"'},
    )


# --- The list ---


@bp.get("")
@login_required()
def quotes() -> Any:
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    customer_id = id_arg("customer_id")
    args = list_args(QUOTE_SORTS, QUOTE_DEFAULT_SORT)
    at = now()
    stmt = quote_listing(customer_id=customer_id, status=status, at=at, q=args.q, sort=args.sort)
    if wants_csv():
        return csv_download(
            "quotes",
            "number customer party lines status valid_until created_at created_by".split(),
            (
                (
                    q.number,
                    q.customer.legal_name,
                    q.party.code,
                    "; ".join(
                        f"{ln.quantity} x {ln.product.name}, {ln.protection}, "
                        f"{'IRU' if ln.model == 'iru' else 'lease'} {ln.term_months} months"
                        for ln in q.lines
                    ),
                    q.status(at),
                    q.valid_until.isoformat(),
                    q.created_at.isoformat(),
                    q.created_by,
                )
                for q in every_row(stmt)
            ),
        )
    return render_template(
        "sales/quotes.html",
        page=paginate(stmt),
        args=args,
        status=status,
        statuses=STATUSES,
        quote_status_words=STATUS_WORDS,
        customer_id=customer_id,
        customers=list_customers(session()),
        customer=get_customer(session(), customer_id) if customer_id else None,
        now=at,
    )
