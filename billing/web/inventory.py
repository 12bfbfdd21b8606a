"""Dashboard (spectrum map) and availability: see free spectrum; hold it for a customer, extend,
quote or release the hold; reserve the operators' own use (admins)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
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
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from billing.calendar import Period, first_of_month, last_of_month, local_date
from billing.errors import DomainError
from billing.extensions import now, session
from billing.inventory.models import OWN_USE_REASON_MAX, Segment
from billing.inventory.queries import (
    PROTECTIONS,
    PairUsage,
    all_segments,
    availability,
    list_products,
    pair_usage,
    recent_reservations,
    reservation_with_allocations,
    route_choices,
)
from billing.inventory.services import SpectrumConflictError, SpectrumRequest
from billing.invoicing.queries import billed_revenue, overdue_invoices
from billing.parties.customers import list_customers
from billing.parties.queries import customer_names
from billing.sales.quotes import DEFAULT_VALID_DAYS, MAX_VALID_DAYS
from billing.sales.spectrum import (
    MAX_HOLD_DAYS,
    extend_manual_hold,
    hold_for_customer,
    may_manage,
    owners,
    quote_from_hold,
    release_manual_reservation,
    reserve_own_use,
)
from billing.settlement.revenue import billed_by_party
from billing.web.auth import login_required, staff
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
from billing.web.frame import SELLING_ROLES, seller
from billing.web.language import PROTECTION_WORDS, error_text

bp = Blueprint("inventory", __name__)

PALETTE = ["#2563eb", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea", "#0d9488"]
INTERNAL = "#475569"  # spectrum allocated with no customer (before own use was recorded)
OWN_USE = "#334155"  # the operators' own use: drawn cross-hatched, apart from sold spectrum
DEFAULT_PRODUCT = "WL100G"
MINUTE = "%Y-%m-%d %H:%M"  # how a hold's expiry (UTC) is written in messages
# A block's state as its tooltip names it (the codes stay English in the data).
STATE_WORDS = {"allocated": _l("allocated"), "hold": _l("hold")}
PROTECTION_CHOICES = [SelectChoice(code, PROTECTION_WORDS.get(code, code)) for code in PROTECTIONS]


@dataclass
class Block:
    first_slot: int
    slots: int
    state: str
    colour: str
    title: str


def customer_colours() -> dict[str, str]:
    """One colour per customer, the same on every page: by the customer's position by id."""
    names = customer_names(session()).values()
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def strip(u: PairUsage, colours: dict[str, str]) -> list[Block]:
    blocks = []
    for o in u.occupants:
        who = _("own use") if o.own_use else o.customer or _("internal")
        expiry = (
            _(", held until %(time)s UTC", time=o.hold_expires_at.strftime(MINUTE))
            if o.hold_expires_at
            else ""
        )
        blocks.append(
            Block(
                first_slot=o.first_slot,
                slots=o.end_slot - o.first_slot,
                state="own_use" if o.own_use else o.state,
                colour=OWN_USE if o.own_use else colours.get(o.customer or "", INTERNAL),
                title=_(
                    "slots %(first)s–%(last)s (%(low)s–%(high)s THz) · %(state)s · %(who)s",
                    first=o.first_slot,
                    last=o.end_slot - 1,
                    low=format(u.thz(o.first_slot), ".4f"),
                    high=format(u.thz(o.end_slot), ".4f"),
                    state=str(STATE_WORDS[o.state]) if o.state in STATE_WORDS else o.state,
                    who=who,
                )
                + expiry,
            )
        )
    return blocks


def has_own_use(usage: list[PairUsage]) -> bool:
    return any(o.own_use for u in usage for o in u.occupants)


def legend(usage: list[PairUsage], colours: dict[str, str]) -> list[tuple[str, str]]:
    """The customers whose allocations are on this map, with their colours."""
    present = {
        o.customer for u in usage for o in u.occupants if o.state == "allocated" and not o.own_use
    }
    items = [(name, colour) for name, colour in colours.items() if name in present]
    if None in present:
        items.append((_("internal / no customer"), INTERNAL))
    return items


@bp.get("/")
@login_required()
def dashboard() -> Any:
    # Finance land on their own dashboard (SPEC 10), which links back here (?view=map).
    if staff().role == "finance" and request.args.get("view") != "map":
        return redirect(url_for("finance_dashboard.dashboard"))
    if staff().role == "noc":  # operations work from the outages (SPEC 7)
        return redirect(url_for("operations.outages"))
    segments = all_segments(session())
    usage = pair_usage(session(), segments, now())
    by_segment: dict[str, list[PairUsage]] = {}
    for u in usage:
        by_segment.setdefault(u.segment_code, []).append(u)
    colours = customer_colours()
    return render_template(
        "inventory/dashboard.html",
        **_finance_figures(),
        segments=segments,
        by_segment=by_segment,
        strip=strip,
        colours=colours,
        legend=legend(usage, colours),
        own_use=has_own_use(usage),
    )


def _billed_by_party(month: Period) -> list[Any] | None:
    """Each party's share of the month's billing in USD, or None while an invoice lacks a rate."""
    try:
        return billed_by_party(session(), month)
    except DomainError:
        return None


def _finance_figures() -> dict[str, Any]:
    """This month's billed revenue per issuer and the overdue invoices (SPEC 10), for finance
    and admins; the month and "overdue" are the user's party's local dates."""
    user = staff()
    if user.role not in ("admin", "finance"):
        return {"finance": None}
    today = local_date(now(), user.party.time_zone)
    first, last = first_of_month(today), last_of_month(today)
    return {
        "finance": {
            "month": first,
            "revenue": billed_revenue(session(), first, last),
            "by_party": _billed_by_party(Period(first, last)),
            "overdue": overdue_invoices(session(), today),
            "today": today,
        }
    }


class AvailabilityForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False

    route = SelectField(_l("Route"))
    protection = SelectField(_l("Protection"), choices=PROTECTION_CHOICES)
    product = SelectField(_l("Product"))
    width_ghz = width_field(_l("Width (GHz, spectrum only)"))


class HoldForm(FlaskForm):  # type: ignore[misc]
    """Holds what the availability query above it asked for; route to width travel hidden."""

    route = SelectField(_l("Route"))
    protection = SelectField(_l("Protection"), choices=PROTECTION_CHOICES)
    product = SelectField(_l("Product"))
    width_ghz = width_field(_l("Width (GHz)"))
    fiber_pair = WholeNumberField(_l("Fiber pair"), validators=[Optional()], minimum=1)
    first_slot = WholeNumberField(_l("First slot"), validators=[Optional()], minimum=0)
    # Any customer id is let through to the service, which answers 403 for another party's.
    customer_id = IdSelectField(_l("Customer"), validate_choice=False)
    hold_days = WholeNumberField(
        _l("Hold for (days)"), validators=[InputRequired()], minimum=1, maximum=MAX_HOLD_DAYS
    )


class OwnUseForm(FlaskForm):  # type: ignore[misc]
    """The operators' own use of what the availability query asked for (admins)."""

    route = SelectField(_l("Route"))
    protection = SelectField(_l("Protection"), choices=PROTECTION_CHOICES)
    product = SelectField(_l("Product"))
    width_ghz = width_field(_l("Width (GHz)"))
    fiber_pair = WholeNumberField(_l("Fiber pair"), validators=[Optional()], minimum=1)
    first_slot = WholeNumberField(_l("First slot"), validators=[Optional()], minimum=0)
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(_l("say why"))], max_length=OWN_USE_REASON_MAX
    )


class ExtendForm(FlaskForm):  # type: ignore[misc]
    hold_days = WholeNumberField(
        _l("Days from now"), validators=[InputRequired()], minimum=1, maximum=MAX_HOLD_DAYS
    )


class HoldQuoteForm(FlaskForm):  # type: ignore[misc]
    """The terms of the quote a manual hold becomes; its spectrum is the hold's."""

    model = SelectField(
        _l("Model"), choices=[SelectChoice("lease", _l("lease")), SelectChoice("iru", "iru")]
    )
    term_months = WholeNumberField(_l("Term (months)"), validators=[InputRequired()], minimum=1)
    discount_percent = discount_field(_l("Discount (%)"))
    valid_days = WholeNumberField(
        _l("Valid for (days)"),
        default=DEFAULT_VALID_DAYS,
        validators=[InputRequired()],
        minimum=1,
        maximum=MAX_VALID_DAYS,
    )
    notes = TextAreaField(_l("Notes"), max_length=NOTES_LENGTH)


def _choices(form: Any) -> None:
    # Routes that have a 1+1 twin (the main routes) come first: the page opens on the main route.
    form.route.choices = route_choices(session())
    form.product.choices = [(p.code, p.name) for p in list_products(session())]
    if hasattr(form, "customer_id"):
        # A hold is made in the name of a customer the user sells to (SPEC 2).
        you = seller()
        form.customer_id.choices = [
            (c.id, c.legal_name)
            for c in list_customers(session())
            if you.may_sell_for(c.owner_party_id)
        ]


def _query_form(hold: HoldForm | None) -> AvailabilityForm:
    """The availability query: from the URL, or, when a hold was refused, what the hold asked."""
    if hold is None:
        form = AvailabilityForm(request.args, meta={"csrf": False})
    else:
        form = AvailabilityForm(
            formdata=None,
            meta={"csrf": False},
            data={
                "route": hold.route.data,
                "protection": hold.protection.data,
                "product": hold.product.data,
                "width_ghz": hold.width_ghz.data,
            },
        )
    _choices(form)
    if not form.route.data and form.route.choices:
        form.route.data = form.route.choices[0][0]
    if not form.protection.data:
        form.protection.data = PROTECTIONS[0]
    if not form.product.data and form.product.choices:
        codes = [choice[0] for choice in form.product.choices]
        form.product.data = DEFAULT_PRODUCT if DEFAULT_PRODUCT in codes else codes[0]
    return form


def _suggested_slots(result: Any, segments: list[Segment]) -> dict[tuple[str, int], Any]:
    """(segment code, fiber pair number) -> the first fit's slots there, to mark on the strips."""
    if not result or not result.suggestion:
        return {}
    return {
        (seg.code, fit.fiber_pair_number): fit
        for fit in result.suggestion
        for seg in segments
        if seg.route.code == fit.route_code
    }


def _availability_page(
    hold: HoldForm | None = None,
    status: int = 200,
    conflict: Any = None,
    own_use: OwnUseForm | None = None,
) -> Any:
    form = _query_form(hold or own_use)
    result = None
    error = None
    width = form.width_ghz.data if form.validate() else None
    if form.route.data and form.product.data and not form.errors:
        try:
            result = availability(
                session(),
                route=form.route.data,
                protection=form.protection.data,
                product=form.product.data,
                width_ghz=width,
                now=now(),
            )
        except DomainError as e:
            error = error_text(e.message)
            for name, messages in e.errors.items():
                if hasattr(form, name) and isinstance(messages, list):
                    getattr(form, name).errors = list(messages)
            status = status if status != 200 else e.status
    if hold is None:
        hold = HoldForm(formdata=None)
        _choices(hold)
        hold.route.data = form.route.data
        hold.protection.data = form.protection.data
        hold.product.data = form.product.data
        hold.width_ghz.data = width
        hold.hold_days.data = current_app.config["HOLD_DAYS_DEFAULT"]
    if own_use is None:
        own_use = OwnUseForm(formdata=None)
        _choices(own_use)
        own_use.route.data = form.route.data
        own_use.protection.data = form.protection.data
        own_use.product.data = form.product.data
        own_use.width_ghz.data = width
    colours = customer_colours()
    reservations = recent_reservations(session(), now(), limit=20)
    you = seller()
    selling = staff().role in SELLING_ROLES
    return render_template(
        "inventory/availability.html",
        form=form,
        hold=hold,
        result=result,
        error=error,
        conflict=conflict,
        strip=strip,
        colours=colours,
        legend=legend(result.pairs, colours) if result else [],
        own_use_shown=has_own_use(result.pairs) if result else False,
        own_use=own_use,
        manageable={r.id for r in reservations if selling and may_manage(you, r)},
        extend_form=ExtendForm(formdata=None, hold_days=current_app.config["HOLD_DAYS_DEFAULT"]),
        suggested=_suggested_slots(result, all_segments(session())),
        reservations=reservations,
        owners=owners(session(), [r.id for r in reservations]),
        customers=customer_names(session()),
        action_form=ActionForm(),
        now=now(),
    ), status


@bp.get("/availability")
@login_required()
def availability_page() -> Any:
    return _availability_page()


def _spectrum_request(form: Any) -> SpectrumRequest:
    """The spectrum a hold or own-use form asks for."""
    return SpectrumRequest(
        route=form.route.data,
        protection=form.protection.data,
        product=form.product.data,
        width_ghz=form.width_ghz.data,
        fiber_pair=form.fiber_pair.data,
        first_slot=form.first_slot.data,
    )


@bp.post("/availability/hold")
@login_required("sales", "admin")
def hold() -> Any:
    form = HoldForm()
    _choices(form)
    if not form.validate():
        flash(_("The hold was not made: correct the fields marked below."), "error")
        return _availability_page(hold=form, status=422)
    at = now()
    request_ = _spectrum_request(form)
    with saving(_("The hold was not made")) as outcome:
        reservation = hold_for_customer(
            session(),
            request_,
            customer_id=form.customer_id.data,
            days=form.hold_days.data,
            seller=seller(),
            now=at,
        )
    if isinstance(outcome.error, SpectrumConflictError):
        return _availability_page(hold=form, status=409, conflict=outcome.error.alternative)
    if outcome.error is not None:
        apply_errors(form, outcome.error.errors)
        return _availability_page(hold=form, status=outcome.status)
    return _made(reservation, form, own_use=False)


def _made(reservation: Any, form: Any, *, own_use: bool) -> Any:
    """Say what was reserved, and go back to the same query (width included: a spectrum query
    without it is not a query)."""
    where = ", ".join(
        _(
            "%(segment)s fiber pair %(pair)s slots %(first)s–%(last)s",
            segment=a.fiber_pair.segment.code,
            pair=a.fiber_pair.number,
            first=a.first_slot,
            last=a.end_slot - 1,
        )
        for a in reservation.allocations
    )
    expiry = reservation.allocations[0].hold_expires_at
    values = {"id": reservation.id, "where": where}
    if expiry and own_use:
        message = _(
            "Reservation %(id)s allocates for own use %(where)s until %(time)s UTC.",
            time=expiry.strftime(MINUTE),
            **values,
        )
    elif expiry:
        message = _(
            "Reservation %(id)s holds %(where)s until %(time)s UTC.",
            time=expiry.strftime(MINUTE),
            **values,
        )
    elif own_use:
        message = _("Reservation %(id)s allocates for own use %(where)s.", **values)
    else:
        message = _("Reservation %(id)s holds %(where)s.", **values)
    flash(message, "success")
    return redirect(
        url_for(
            "inventory.availability_page",
            route=form.route.data,
            protection=form.protection.data,
            product=form.product.data,
            width_ghz=form.width_ghz.data,
        )
    )


def _act(reservation_id: int, fn: Any, done: str, refused: str) -> Any:
    """Do `fn` to the reservation; `done` and `refused` are the messages, already worded."""
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("inventory.availability_page"))
    with saving(refused) as outcome:
        fn(session(), reservation_id, seller=seller(), now=now())
    if outcome.refused:
        return _availability_page(status=outcome.status)
    flash(done, "success")
    return redirect(url_for("inventory.availability_page"))


@bp.post("/availability/own-use")
@login_required("admin")
def own_use() -> Any:
    form = OwnUseForm()
    _choices(form)
    if not form.validate():
        flash(_("The own-use reservation was not made: correct the fields marked below."), "error")
        return _availability_page(own_use=form, status=422)
    request_ = _spectrum_request(form)
    with saving(_("The own-use reservation was not made")) as outcome:
        reservation = reserve_own_use(
            session(), request_, reason=form.reason.data, seller=seller(), now=now()
        )
    if outcome.error is not None:
        apply_errors(form, outcome.error.errors)
        return _availability_page(own_use=form, status=outcome.status)
    return _made(reservation, form, own_use=True)


@bp.post("/reservations/<id:reservation_id>/extend")
@login_required("sales", "admin")
def extend(reservation_id: int) -> Any:
    form = ExtendForm()
    if not form.validate():
        flash(
            _(
                "Reservation %(id)s was not extended: days from now must be 1 to %(max)s.",
                id=reservation_id,
                max=MAX_HOLD_DAYS,
            ),
            "error",
        )
        return _availability_page(status=422)
    with saving(_("Reservation %(id)s was not extended", id=reservation_id)) as outcome:
        held = extend_manual_hold(
            session(), reservation_id, days=form.hold_days.data, seller=seller(), now=now()
        )
        until = held.allocations[0].hold_expires_at
    if outcome.refused:
        return _availability_page(status=outcome.status)
    flash(
        _(
            "Reservation %(id)s is held until %(time)s UTC.",
            id=reservation_id,
            time=format(until, MINUTE),
        ),
        "success",
    )
    return redirect(url_for("inventory.availability_page"))


def _hold_quote_page(reservation_id: int, form: HoldQuoteForm, status: int = 200) -> Any:
    reservation = reservation_with_allocations(session(), reservation_id)
    if not may_manage(seller(), reservation):
        abort(403, description=_("Reservation %(id)s is another party's.", id=reservation_id))
    return render_template(
        "inventory/hold_quote.html", reservation=reservation, form=form, now=now()
    ), status


@bp.get("/reservations/<id:reservation_id>/quote")
@login_required("sales", "admin")
def hold_quote_page(reservation_id: int) -> Any:
    return _hold_quote_page(reservation_id, HoldQuoteForm(formdata=None, term_months=12))


@bp.post("/reservations/<id:reservation_id>/quote")
@login_required("sales", "admin")
def hold_quote(reservation_id: int) -> Any:
    form = HoldQuoteForm()
    if not form.validate():
        flash(_("The quote was not made: correct the fields marked below."), "error")
        return _hold_quote_page(reservation_id, form, 422)
    with saving(_("The quote was not made"), form) as outcome:
        quote = quote_from_hold(
            session(),
            reservation_id,
            model=form.model.data,
            term_months=form.term_months.data,
            discount_percent=form.discount_percent.data or Decimal(0),
            valid_days=form.valid_days.data,
            notes=(form.notes.data or "").strip(),
            seller=seller(),
            now=now(),
        )
        quote_id, number = quote.id, quote.number
    if outcome.refused:
        return _hold_quote_page(reservation_id, form, outcome.status)
    flash(
        _(
            "Quote %(number)s holds the spectrum of reservation %(id)s.",
            number=number,
            id=reservation_id,
        ),
        "success",
    )
    return redirect(url_for("quotes.quote_page", quote_id=quote_id))


@bp.post("/reservations/<id:reservation_id>/release")
@login_required("sales", "admin")
def release(reservation_id: int) -> Any:
    return _act(
        reservation_id,
        release_manual_reservation,
        _("Reservation %(id)s released.", id=reservation_id),
        _("Reservation %(id)s was not released", id=reservation_id),
    )
