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
from billing.inventory.models import Route
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
    confirm_reservation,
    release_reservation,
    reserve_spectrum,
)
from billing.sales.models import Customer
from billing.web.auth import actor, login_required
from billing.web.forms import ActionForm

bp = Blueprint("inventory", __name__)

SLOT_PX = 2
PALETTE = ["#2563eb", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea", "#0d9488"]


@dataclass
class Block:
    x: int
    width: int
    state: str
    colour: str
    title: str


def strip(u: PairUsage) -> list[Block]:
    blocks = []
    for o in u.occupants:
        colour = "#f59e0b" if o.state == "hold" else PALETTE[o.reservation_id % len(PALETTE)]
        who = o.customer or "internal"
        expiry = f", held until {o.hold_expires_at:%Y-%m-%d %H:%M} UTC" if o.hold_expires_at else ""
        blocks.append(
            Block(
                x=o.first_slot * SLOT_PX,
                width=(o.end_slot - o.first_slot) * SLOT_PX,
                state=o.state,
                colour=colour,
                title=(
                    f"slots {o.first_slot}–{o.end_slot - 1} ({u.thz(o.first_slot):.4f}–"
                    f"{u.thz(o.end_slot):.4f} THz) · {o.state} · {who}{expiry}"
                ),
            )
        )
    return blocks


@bp.get("/")
@login_required()
def dashboard() -> Any:
    segments = all_segments(session())
    usage = pair_usage(session(), segments, now())
    by_segment: dict[str, list[PairUsage]] = {}
    for u in usage:
        by_segment.setdefault(u.segment_code, []).append(u)
    return render_template(
        "inventory/dashboard.html",
        segments=segments,
        by_segment=by_segment,
        strip=strip,
        slot_px=SLOT_PX,
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
    route = SelectField("Route")
    protection = SelectField("Protection", choices=list(PROTECTIONS))
    product = SelectField("Product")
    width_ghz = DecimalField("Width (GHz)", places=1, validators=[Optional()])
    fiber_pair = IntegerField("Fiber pair", validators=[Optional()])
    first_slot = IntegerField("First slot", validators=[Optional()])
    customer_id = SelectField("Customer", coerce=int)
    hold_days = IntegerField("Hold for (days)", validators=[NumberRange(min=1, max=90)])


def _choices(form: Any) -> None:
    routes = session().execute(select(Route.code, Route.name).order_by(Route.id)).all()
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


def _availability_page(
    hold: HoldForm | None = None, status: int = 200, conflict: Any = None
) -> Any:
    form = AvailabilityForm(request.args, meta={"csrf": False})
    _choices(form)
    if not request.args.get("route") and form.route.choices:
        form.route.data = form.route.choices[0][0]
    if not request.args.get("product") and form.product.choices:
        form.product.data = "WL100G"
    result = None
    error = None
    width = form.width_ghz.data if form.validate() else None
    if form.route.data and form.product.data:
        try:
            result = availability(
                session(),
                route=form.route.data,
                protection=form.protection.data or "unprotected",
                product=form.product.data,
                width_ghz=width,
                now=now(),
            )
        except DomainError as e:
            error = e.message
            status = status if status != 200 else e.status
    if hold is None:
        hold = HoldForm(formdata=None)
        _choices(hold)
        hold.route.data = form.route.data
        hold.protection.data = form.protection.data
        hold.product.data = form.product.data
        hold.width_ghz.data = width
        hold.hold_days.data = current_app.config["HOLD_DAYS_DEFAULT"]
        if result and result.suggestion:
            hold.fiber_pair.data = result.suggestion[0].fiber_pair_number
            hold.first_slot.data = result.suggestion[0].first_slot
    return render_template(
        "inventory/availability.html",
        form=form,
        hold=hold,
        result=result,
        error=error,
        conflict=conflict,
        strip=strip,
        slot_px=SLOT_PX,
        reservations=recent_reservations(session(), now(), limit=20),
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
    try:
        reservation = reserve_spectrum(
            session(),
            request_,
            hold_until=at + timedelta(days=form.hold_days.data),
            customer_id=form.customer_id.data or None,
            purpose="hold from availability page",
            actor=actor(),
            now=at,
        )
        session().commit()
    except SpectrumConflictError as e:
        session().rollback()
        flash(e.message, "error")
        return _availability_page(hold=form, status=409, conflict=e.alternative)
    except DomainError as e:
        session().rollback()
        flash(e.message, "error")
        for field, messages in e.errors.items():
            if hasattr(form, field) and isinstance(messages, list):
                getattr(form, field).errors = list(messages)
        return _availability_page(hold=form, status=e.status)
    first = reservation.allocations[0]
    flash(
        f"Held slots {first.first_slot}–{first.end_slot - 1} (reservation {reservation.id}) "
        f"until {reservation.allocations[0].hold_expires_at:%Y-%m-%d %H:%M} UTC.",
        "success",
    )
    return redirect(
        url_for(
            "inventory.availability_page",
            route=form.route.data,
            protection=form.protection.data,
            product=form.product.data,
        )
    )


def _act(reservation_id: int, fn: Any, done: str) -> Any:
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for("inventory.availability_page"))
    try:
        fn(session(), reservation_id, actor=actor(), now=now())
        session().commit()
        flash(done.format(id=reservation_id), "success")
    except DomainError as e:
        session().rollback()
        flash(e.message, "error")
    return redirect(url_for("inventory.availability_page"))


@bp.post("/reservations/<int:reservation_id>/confirm")
@login_required("sales", "admin")
def confirm(reservation_id: int) -> Any:
    return _act(reservation_id, confirm_reservation, "Reservation {id} is now allocated.")


@bp.post("/reservations/<int:reservation_id>/release")
@login_required("sales", "admin")
def release(reservation_id: int) -> Any:
    return _act(reservation_id, release_reservation, "Reservation {id} released.")
