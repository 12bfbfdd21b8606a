"""Dashboard (spectrum map) and availability: see free spectrum, hold it, confirm or release it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DecimalField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from billing.errors import DomainError
from billing.extensions import now, session
from billing.inventory.models import Route, Segment
from billing.inventory.queries import (
    PROTECTIONS,
    PairUsage,
    all_segments,
    availability,
    list_products,
    pair_usage,
    recent_reservations,
)
from billing.inventory.services import (
    SpectrumConflictError,
    SpectrumRequest,
    reserve_spectrum,
)
from billing.parties.models import Customer
from billing.sales.spectrum import owners, release_manual_reservation
from billing.web.auth import actor, login_required
from billing.web.forms import ActionForm, apply_errors, saving
from billing.web.sales import seller

bp = Blueprint("inventory", __name__)

PALETTE = ["#2563eb", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea", "#0d9488"]
INTERNAL = "#475569"  # spectrum allocated with no customer (tests, restoration, own use)
DEFAULT_PRODUCT = "WL100G"


@dataclass
class Block:
    first_slot: int
    slots: int
    state: str
    colour: str
    title: str


def customer_colours() -> dict[str, str]:
    """One colour per customer, the same on every page: by the customer's position by id."""
    names = session().execute(select(Customer.legal_name).order_by(Customer.id)).scalars()
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def strip(u: PairUsage, colours: dict[str, str]) -> list[Block]:
    blocks = []
    for o in u.occupants:
        who = o.customer or "internal"
        expiry = f", held until {o.hold_expires_at:%Y-%m-%d %H:%M} UTC" if o.hold_expires_at else ""
        blocks.append(
            Block(
                first_slot=o.first_slot,
                slots=o.end_slot - o.first_slot,
                state=o.state,
                colour=colours.get(o.customer or "", INTERNAL),
                title=(
                    f"slots {o.first_slot}–{o.end_slot - 1} ({u.thz(o.first_slot):.4f}–"
                    f"{u.thz(o.end_slot):.4f} THz) · {o.state} · {who}{expiry}"
                ),
            )
        )
    return blocks


def legend(usage: list[PairUsage], colours: dict[str, str]) -> list[tuple[str, str]]:
    """The customers whose allocations are on this map, with their colours."""
    present = {o.customer for u in usage for o in u.occupants if o.state == "allocated"}
    items = [(name, colour) for name, colour in colours.items() if name in present]
    if None in present:
        items.append(("internal / no customer", INTERNAL))
    return items


@bp.get("/")
@login_required()
def dashboard() -> Any:
    segments = all_segments(session())
    usage = pair_usage(session(), segments, now())
    by_segment: dict[str, list[PairUsage]] = {}
    for u in usage:
        by_segment.setdefault(u.segment_code, []).append(u)
    colours = customer_colours()
    return render_template(
        "inventory/dashboard.html",
        segments=segments,
        by_segment=by_segment,
        strip=strip,
        colours=colours,
        legend=legend(usage, colours),
    )


class AvailabilityForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False

    route = SelectField("Route")
    protection = SelectField("Protection", choices=list(PROTECTIONS))
    product = SelectField("Product")
    width_ghz = DecimalField(
        "Width (GHz, spectrum only)", places=1, validators=[Optional(), NumberRange(min=0)]
    )


class HoldForm(FlaskForm):  # type: ignore[misc]
    """Holds what the availability query above it asked for; route to width travel hidden."""

    route = SelectField("Route")
    protection = SelectField("Protection", choices=list(PROTECTIONS))
    product = SelectField("Product")
    width_ghz = DecimalField("Width (GHz)", places=1, validators=[Optional()])
    fiber_pair = IntegerField("Fiber pair", validators=[Optional()])
    first_slot = IntegerField("First slot", validators=[Optional()])
    customer_id = SelectField("Customer", coerce=int)
    hold_days = IntegerField("Hold for (days)", validators=[NumberRange(min=1, max=90)])


def _choices(form: Any) -> None:
    # Routes that have a 1+1 twin (the main routes) first: the page opens on the main route.
    routes = session().execute(
        select(Route.code, Route.name).order_by(Route.protection_route_id.is_(None), Route.id)
    )
    form.route.choices = [(code, name) for code, name in routes]
    form.product.choices = [(p.code, p.name) for p in list_products(session())]
    if hasattr(form, "customer_id"):
        customers = (
            session()
            .execute(select(Customer.id, Customer.legal_name).order_by(Customer.legal_name))
            .all()
        )
        form.customer_id.choices = [(0, "— internal / no customer —")] + [
            (cid, name) for cid, name in customers
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
        codes = [code for code, _ in form.product.choices]
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
    hold: HoldForm | None = None, status: int = 200, conflict: Any = None
) -> Any:
    form = _query_form(hold)
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
            error = e.message
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
        hold.customer_id.data = 0
        hold.hold_days.data = current_app.config["HOLD_DAYS_DEFAULT"]
    colours = customer_colours()
    reservations = recent_reservations(session(), now(), limit=20)
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
        suggested=_suggested_slots(result, all_segments(session())),
        reservations=reservations,
        owners=owners(session(), [r.id for r in reservations]),
        customers={
            cid: name for cid, name in session().execute(select(Customer.id, Customer.legal_name))
        },
        action_form=ActionForm(),
        now=now(),
    ), status


@bp.get("/availability")
@login_required()
def availability_page() -> Any:
    return _availability_page()


@bp.post("/availability/hold")
@login_required("sales", "admin")
def hold() -> Any:
    form = HoldForm()
    _choices(form)
    if not form.validate():
        flash("The hold was not made: correct the fields marked below.", "error")
        return _availability_page(hold=form, status=422)
    at = now()
    request_ = SpectrumRequest(
        route=form.route.data,
        protection=form.protection.data,
        product=form.product.data,
        width_ghz=form.width_ghz.data,
        fiber_pair=form.fiber_pair.data,
        first_slot=form.first_slot.data,
    )
    with saving("The hold was not made") as outcome:
        reservation = reserve_spectrum(
            session(),
            request_,
            hold_until=at + timedelta(days=form.hold_days.data),
            customer_id=form.customer_id.data or None,
            purpose="hold from availability page",
            actor=actor(),
            now=at,
        )
    if isinstance(outcome.error, SpectrumConflictError):
        return _availability_page(hold=form, status=409, conflict=outcome.error.alternative)
    if outcome.error is not None:
        apply_errors(form, outcome.error.errors)
        return _availability_page(hold=form, status=outcome.status)
    where = ", ".join(
        f"{a.fiber_pair.segment.code} fiber pair {a.fiber_pair.number} slots "
        f"{a.first_slot}–{a.end_slot - 1}"
        for a in reservation.allocations
    )
    flash(
        f"Reservation {reservation.id} holds {where} "
        f"until {reservation.allocations[0].hold_expires_at:%Y-%m-%d %H:%M} UTC.",
        "success",
    )
    # Back to the same query (width included: a spectrum query without it is not a query).
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
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for("inventory.availability_page"))
    with saving(refused.format(id=reservation_id)) as outcome:
        fn(session(), reservation_id, seller=seller(), now=now())
    if not outcome.refused:
        flash(done.format(id=reservation_id), "success")
    return redirect(url_for("inventory.availability_page"))


@bp.post("/reservations/<int:reservation_id>/release")
@login_required("sales", "admin")
def release(reservation_id: int) -> Any:
    return _act(
        reservation_id,
        release_manual_reservation,
        "Reservation {id} released.",
        "Reservation {id} was not released",
    )
