"""Quotes that hold spectrum, and their acceptance into a contract with live services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from billing.audit import record
from billing.calendar import local_date
from billing.errors import (
    N_,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    Text,
)
from billing.inventory.models import Product, SpectrumReservation
from billing.inventory.queries import get_product, paths_for, width_in_slots
from billing.inventory.services import (
    SpectrumRequest,
    confirm_reservation,
    lock_fiber_pairs,
    lock_reservation_pairs,
    release_reservation,
    reserve_spectrum,
)
from billing.parties.customers import Seller, get_customer
from billing.parties.models import Customer
from billing.sales.models import (
    Contract,
    Quote,
    QuoteHold,
    QuoteLine,
    QuoteState,
    Service,
    ServiceEvent,
    ServiceState,
)
from billing.sales.pricebook import ListPrice, list_price
from billing.sales.pricing import (
    LinePrices,
    Prices,
    amount,
    line_prices,
    money,
    net_of_discount,
)
from billing.sales.queries import get_quote
from billing.sequences import next_value

DEFAULT_VALID_DAYS = 14
MAX_VALID_DAYS = 90
MAX_QUANTITY = 32
MAX_LINES = 20


@dataclass(frozen=True)
class LineRequest:
    product: str
    route: str = "main"
    protection: str = "unprotected"
    model: str = "lease"
    term_months: int = 12
    quantity: int = 1
    discount_percent: Decimal = Decimal(0)
    width_ghz: Decimal | None = None


@dataclass
class PricedLine:
    request: LineRequest
    product: Product
    width_slots: int
    width_ghz: Decimal
    price: ListPrice
    pair_ids: tuple[int, ...]  # every fiber pair of the line's path(s)
    day: date  # the seller's business date the price book was read on
    prices: LinePrices

    @property
    def om_rate_percent(self) -> Decimal | None:
        return self.prices.om_rate_percent


def selling_day(customer: Customer | None, now: datetime) -> date:
    """The business date of the party that sells to the customer: the price book's "today".

    Without a customer (a form not filled in yet) lines can only be checked: on the UTC date.
    """
    return local_date(now, "UTC" if customer is None else customer.owner_party.time_zone)


def _line_prices(line: LineRequest, price: ListPrice) -> LinePrices:
    currency = price.version.currency
    rate = price.entry.om_rate_percent if line.model == "iru" else None
    listed = Prices(price.mrc, price.nrc, price.iru_fee, rate)

    def net(list_amount: Decimal | None) -> Decimal | None:
        return amount(net_of_discount(money(list_amount, currency), line.discount_percent))

    return line_prices(
        currency,
        quantity=line.quantity,
        discount_percent=line.discount_percent,
        om_rate_percent=rate,
        listed=listed,
        net=Prices(net(price.mrc), net(price.nrc), net(price.iru_fee), rate),
    )


def price_line(session: Session, line: LineRequest, *, day: date) -> PricedLine:
    """Validate one line and price it from the price book in force on `day`. Holds nothing."""
    if not 1 <= line.quantity <= MAX_QUANTITY:
        raise InvalidRequestError(
            N_("quantity must be 1 to %(most)s"),
            {"quantity": [Text(N_("1 to %(most)s"), most=MAX_QUANTITY)]},
            most=MAX_QUANTITY,
        )
    product = get_product(session, line.product)
    paths = paths_for(session, line.route, line.protection)
    pairs = [fp for r in paths for s in r.segments for fp in s.fiber_pairs]
    width = width_in_slots(product, line.width_ghz, pairs)
    price = list_price(
        session,
        product=product,
        protection=line.protection,
        model=line.model,
        term_months=line.term_months,
        width_slots=width,
        day=day,
    )
    limit = price.version.max_discount_percent
    if not Decimal(0) <= line.discount_percent <= limit:
        raise InvalidRequestError(
            N_("discount must be 0 to %(limit)s%%"),
            {
                "discount_percent": [
                    Text(
                        N_("the allowed discount is 0 to %(limit)s%%"),
                        limit=f"{limit.normalize():f}",
                    )
                ]
            },
            limit=f"{limit.normalize():f}",
        )
    return PricedLine(
        request=line,
        product=product,
        width_slots=width,
        width_ghz=width * pairs[0].slot_width_ghz,
        price=price,
        pair_ids=tuple(fp.id for fp in pairs),
        day=day,
        prices=_line_prices(line, price),
    )


def _price_on(
    session: Session, lines: Sequence[LineRequest | PricedLine], day: date
) -> list[PricedLine]:
    """Each line priced on `day`: once, unless it was priced on another day. Errors name their
    line (`lines.<index>`)."""
    priced = []
    for index, line in enumerate(lines):
        if isinstance(line, PricedLine) and line.day == day:
            priced.append(line)
            continue
        request = line.request if isinstance(line, PricedLine) else line
        try:
            priced.append(price_line(session, request, day=day))
        except (InvalidRequestError, NotFoundError) as error:
            raise type(error)(error.message, {"lines": {str(index): error.errors}}) from None
    return priced


def _check_lines(lines: Sequence[LineRequest | PricedLine]) -> None:
    if not lines:
        raise InvalidRequestError(
            N_("a quote needs at least one line"), {"lines": [N_("at least one")]}
        )
    if len(lines) > MAX_LINES:
        raise InvalidRequestError(
            N_("at most %(count)s lines"),
            {"lines": [Text(N_("at most %(count)s"), count=MAX_LINES)]},
            count=MAX_LINES,
        )


def create_quote(
    session: Session,
    *,
    customer_id: int,
    lines: Sequence[LineRequest | PricedLine],
    seller: Seller,
    now: datetime,
    valid_days: int = DEFAULT_VALID_DAYS,
    notes: str = "",
    take_over: SpectrumReservation | None = None,
) -> Quote:
    """Price every line, hold the spectrum of every unit until the quote expires. All or nothing.

    With `take_over`, a live hold of the customer's, the quote's one line of one unit holds that
    very spectrum instead of asking for new.

    Lines come as requests or already priced (a preview's): a line priced on the seller's today
    is not priced again; one priced on another day (midnight passed) is, so a quote always carries
    the prices in force on the seller's business date.
    """
    _check_lines(lines)
    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise InvalidRequestError(
            N_("a quote is valid 1 to %(most)s days"),
            {"valid_days": [Text(N_("1 to %(most)s"), most=MAX_VALID_DAYS)]},
            most=MAX_VALID_DAYS,
        )
    customer = get_customer(session, customer_id)
    if not seller.may_sell_for(customer.owner_party_id):
        raise PermissionDeniedError(
            N_("%(customer)s is a %(party)s customer: you cannot quote it"),
            customer=customer.legal_name,
            party=customer.owner_party.code,
        )
    day = selling_day(customer, now)
    priced = _price_on(session, lines, day)
    version = priced[0].price.version
    valid_until = now + timedelta(days=valid_days)
    # Hold first: the database decides races for spectrum. The quote number comes last, so its
    # counter row is locked only for the end of the transaction.
    lock_fiber_pairs(session, [pair_id for p in priced for pair_id in p.pair_ids])
    holds: list[list[SpectrumReservation]] = []
    if take_over is not None:
        holds.append([_take_over(session, take_over, priced, customer, valid_until, seller, now)])
    for p in priced if take_over is None else []:
        holds.append(
            [
                reserve_spectrum(
                    session,
                    SpectrumRequest(
                        route=p.request.route,
                        protection=p.request.protection,
                        product=p.product.code,
                        width_ghz=p.request.width_ghz,
                    ),
                    hold_until=valid_until,
                    customer_id=customer.id,
                    purpose="quote",
                    actor=seller.label,
                    now=now,
                )
                for _unit in range(p.request.quantity)
            ]
        )
    # The year of the selling party's own calendar: a quote made on its 1 January is of the new
    # year even while it is still 31 December in UTC.
    number = f"Q-{day.year}-{next_value(session, f'quote-{day.year}'):06d}"
    quote = Quote(
        number=number,
        customer_id=customer.id,
        party_id=customer.owner_party_id,
        price_book_version_id=version.id,
        currency=version.currency,
        state=QuoteState.OPEN.value,
        valid_until=valid_until,
        notes=notes,
        created_at=now,
        created_by=seller.label,
    )
    session.add(quote)
    for position, (p, reservations) in enumerate(zip(priced, holds, strict=True), start=1):
        line = QuoteLine(
            position=position,
            product_id=p.product.id,
            route_id=reservations[0].route_id,
            protection=p.request.protection,
            model=p.request.model,
            term_months=p.request.term_months,
            quantity=p.request.quantity,
            width_ghz=p.width_ghz,
            width_slots=p.width_slots,
            discount_percent=p.request.discount_percent,
            price_book_entry_id=p.price.entry.id,
            list_mrc=amount(p.prices.list_unit.mrc),
            list_nrc=amount(p.prices.list_unit.nrc),
            list_iru_fee=amount(p.prices.list_unit.iru_fee),
            mrc=amount(p.prices.unit.mrc),
            nrc=amount(p.prices.unit.nrc),
            iru_fee=amount(p.prices.unit.iru_fee),
            om_rate_percent=p.om_rate_percent,
            early_termination_percent=(
                p.price.entry.early_termination_percent if p.request.model == "lease" else None
            ),
        )
        quote.lines.append(line)
        for unit, reservation in enumerate(reservations, start=1):
            reservation.purpose = f"{number} line {position} unit {unit}"
            line.holds.append(QuoteHold(unit=unit, reservation_id=reservation.id))
    session.flush()
    record(
        session,
        actor=seller.label,
        action="quote.create",
        entity_type="quote",
        entity_id=quote.id,
        now=now,
        after=quote_snapshot(quote),
    )
    return quote


def _take_over(
    session: Session,
    hold: SpectrumReservation,
    priced: list[PricedLine],
    customer: Customer,
    valid_until: datetime,
    seller: Seller,
    now: datetime,
) -> SpectrumReservation:
    """The hold, checked to be what the one line of one unit asks for, now held by the quote:
    until the quote expires."""
    line = priced[0]
    asked = (customer.id, line.product.id, line.request.protection, line.width_slots)
    held = (hold.customer_id, hold.product_id, hold.protection, hold.width_slots)
    if len(priced) != 1 or line.request.quantity != 1 or asked != held:
        raise InvalidRequestError(
            N_("a quote takes over a hold with one line of one unit, as held")
        )
    if not hold.allocations or any(
        a.state != "hold" or not a.is_live(now) for a in hold.allocations
    ):
        raise ConflictError(N_("spectrum reservation %(id)s is no longer held"), id=hold.id)
    was = [a.hold_expires_at for a in hold.allocations]
    for alloc in hold.allocations:
        alloc.hold_expires_at = valid_until
    record(
        session,
        actor=seller.label,
        action="spectrum.quoted",
        entity_type="spectrum_reservation",
        entity_id=hold.id,
        now=now,
        before={"hold_until": was[0]},
        after={"hold_until": valid_until},
    )
    return hold


def quote_snapshot(quote: Quote) -> dict[str, Any]:
    return {
        "number": quote.number,
        "customer_id": quote.customer_id,
        "state": quote.state,
        "valid_until": quote.valid_until,
        "lines": [
            {
                "product_id": ln.product_id,
                "protection": ln.protection,
                "model": ln.model,
                "term_months": ln.term_months,
                "quantity": ln.quantity,
                "discount_percent": ln.discount_percent,
                "mrc": ln.mrc,
                "nrc": ln.nrc,
                "iru_fee": ln.iru_fee,
            }
            for ln in quote.lines
        ],
    }


def _hold_ids(quote: Quote) -> list[int]:
    return [hold.reservation_id for line in quote.lines for hold in line.holds]


def _not_open(number: str, status: str) -> Text:
    """Why a quote that is not open can be neither accepted nor cancelled: "Q-… is cancelled"."""
    if status == QuoteState.ACCEPTED:
        return Text(N_("%(number)s is accepted"), number=number)
    if status == QuoteState.CANCELLED:
        return Text(N_("%(number)s is cancelled"), number=number)
    return Text(N_("%(number)s is %(status)s"), number=number, status=str(status))


def accept_quote(
    session: Session,
    quote_id: int,
    *,
    seller: Seller,
    now: datetime,
    customer_id: int | None = None,
    purchase_order: str | None = None,
) -> Contract:
    """Turn a valid quote into a contract and one pending service per unit, at once.

    `purchase_order` is the customer's own reference, kept on the contract (empty: none).

    The quote row is locked first, so of two concurrent accepts one waits and then finds the
    quote accepted; the unique quote_id on contracts backs that up.
    """
    quote = get_quote(session, quote_id, customer_id=customer_id, lock=True)
    lock_reservation_pairs(session, _hold_ids(quote))
    if not seller.may_sell_for(quote.party_id):
        raise PermissionDeniedError(
            N_("%(number)s is sold by %(party)s"), number=quote.number, party=quote.party.code
        )
    status = quote.status(now)
    if status == "accepted":
        raise ConflictError(N_("%(number)s is already accepted"), number=quote.number)
    if status == "expired":
        raise ConflictError(
            N_("%(number)s expired on %(when)s UTC"),
            number=quote.number,
            when=f"{quote.valid_until:%Y-%m-%d %H:%M}",
        )
    if status != "open":
        raise ConflictError(_not_open(quote.number, status))
    year = local_date(now, quote.party.time_zone).year  # the selling party's, as the quote's
    contract = Contract(
        number=f"C-{year}-{next_value(session, f'contract-{year}'):06d}",
        quote_id=quote.id,
        customer_id=quote.customer_id,
        party_id=quote.party_id,
        signed_at=now,
        created_by=seller.label,
        purchase_order=purchase_order or None,
    )
    session.add(contract)
    for line in quote.lines:
        for hold in line.holds:
            confirm_reservation(session, hold.reservation_id, actor=seller.label, now=now)
            prefix = line.product.circuit_prefix
            circuit = f"TCF-{prefix}-{next_value(session, f'circuit-{prefix}'):06d}"
            service = Service(
                circuit_id=circuit,
                contract=contract,
                customer_id=quote.customer_id,
                quote_line_id=line.id,
                product_id=line.product_id,
                reservation_id=hold.reservation_id,
                protection=line.protection,
                model=line.model,
                term_months=line.term_months,
                currency=quote.currency,
                mrc=line.mrc,
                nrc=line.nrc,
                iru_fee=line.iru_fee,
                om_rate_percent=line.om_rate_percent,
                early_termination_percent=line.early_termination_percent,
                state=ServiceState.PENDING.value,
                created_at=now,
            )
            session.add(service)
            service.events.append(
                ServiceEvent(
                    at=now,
                    from_state=None,
                    to_state=ServiceState.PENDING.value,
                    actor=seller.label,
                    note=f"ordered on {contract.number}",
                )
            )
    quote.state = QuoteState.ACCEPTED.value
    quote.accepted_at = now
    session.flush()
    record(
        session,
        actor=seller.label,
        action="quote.accept",
        entity_type="quote",
        entity_id=quote.id,
        now=now,
        before={"state": "open"},
        after={
            "state": "accepted",
            "contract": contract.number,
            "purchase_order": contract.purchase_order,
            "services": [s.circuit_id for s in contract.services],
        },
    )
    return contract


def cancel_quote(
    session: Session,
    quote_id: int,
    *,
    seller: Seller,
    now: datetime,
    customer_id: int | None = None,
) -> Quote:
    """Withdraw an open quote and free its spectrum at once; only `customer_id`'s when given
    (another's answers 404)."""
    quote = get_quote(session, quote_id, customer_id=customer_id, lock=True)
    lock_reservation_pairs(session, _hold_ids(quote))
    if not seller.may_sell_for(quote.party_id):
        raise PermissionDeniedError(
            N_("%(number)s is sold by %(party)s"), number=quote.number, party=quote.party.code
        )
    if quote.state != QuoteState.OPEN:
        raise ConflictError(_not_open(quote.number, quote.state))
    for line in quote.lines:
        for hold in line.holds:
            if any(a.is_live(now) for a in hold.reservation.allocations):
                release_reservation(session, hold.reservation_id, actor=seller.label, now=now)
    quote.state = QuoteState.CANCELLED.value
    session.flush()
    record(
        session,
        actor=seller.label,
        action="quote.cancel",
        entity_type="quote",
        entity_id=quote.id,
        now=now,
        before={"state": "open"},
        after={"state": "cancelled"},
    )
    return quote
