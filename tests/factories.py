"""Build what a test needs through the real services, on any database.

Every factory takes a session and the time it acts at (`now`, from the test's clock) and never
commits: the test decides. None assumes an id, a number or a name from the demo seed: names are
made unique, parties and products are found by code. They need only the reference data (the
parties, the cable system and the products: `seed_reference`, the `seed` fixture's "reference"),
and work as well on top of the demo.

    s = session
    svc = active_service(s, now=clock.now(), mrc=Decimal("12000.00"),
                         ready_for_service=date(2026, 11, 17))
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.access.models import User
from billing.access.services import create_user, get_party
from billing.calendar import local_date, zone
from billing.db import Database
from billing.errors import ConflictError
from billing.events import Event
from billing.inventory.models import Product, ProductKind
from billing.inventory.queries import get_product
from billing.invoicing.issuing import issue_invoice
from billing.invoicing.models import Invoice
from billing.invoicing.rendering import render_invoices
from billing.invoicing.runs import parse_period, run_billing
from billing.invoicing.services import seed_tax_rules
from billing.invoicing.tax import DEMO_TAX_RULES
from billing.parties.customers import Seller, create_customer
from billing.parties.models import Customer
from billing.sales.lifecycle import transition_service
from billing.sales.models import Contract, PriceBookEntry, PriceBookVersion, Quote, Service
from billing.sales.pricebook import IRU_TERMS, LEASE_TERMS, create_version, version_on
from billing.sales.quotes import DEFAULT_VALID_DAYS, LineRequest, accept_quote, create_quote
from billing.seed import seed_demo_agreement
from tests.helpers import FAST_HASH, PASSWORD

ACTOR = "factory"
# The list prices of a price book built without any given: round figures, per circuit or slot.
DEFAULT_MRC = Decimal("1000.00")
DEFAULT_NRC = Decimal("500.00")
DEFAULT_IRU_FEE = Decimal("100000.00")
DEFAULT_OM_RATE = Decimal("4")

_serial = itertools.count(1)


def unique(stem: str) -> str:
    """`stem` with a number no other call in this test run returns."""
    return f"{stem} {next(_serial)}"


def seller_of(user: User) -> Seller:
    """The user as the sales pages see them: an administrator may act for any party."""
    return Seller(label=user.label, party_id=None if user.role == "admin" else user.party_id)


def party_seller(session: Session, party: str = "AZT") -> Seller:
    """Someone selling for `party`, without a user behind it (service-level tests)."""
    return Seller(f"{ACTOR} ({party})", get_party(session, party).id)


def staff_user(
    session: Session,
    *,
    now: datetime,
    party: str = "AZT",
    role: str = "sales",
    email: str | None = None,
    name: str = "",
    password: str = PASSWORD,
) -> User:
    """A staff user of `party` who logs in with `password` (tests.helpers.login)."""
    serial = next(_serial)
    return create_user(
        session,
        email=email or f"{role}-{serial}@{party.lower()}.example",
        name=name or f"{party} {role.title()} {serial}",
        password=password,
        role=role,
        party_code=party,
        actor=ACTOR,
        now=now,
        hash_method=FAST_HASH,
    )


def customer(
    session: Session,
    *,
    now: datetime,
    owner: str = "AZT",
    currency: str = "USD",
    country: str = "DE",
    legal_name: str | None = None,
    seller: Seller | None = None,
    **values: Any,
) -> Customer:
    """A wholesale customer of `owner`, made as its sales team would (any other field in values)."""
    return create_customer(
        session,
        {
            "legal_name": legal_name or unique("Carrier"),
            "country": country,
            "billing_currency": currency,
            "owner_party": owner,
            **values,
        },
        seller=seller or party_seller(session, owner),
        now=now,
    )


_customer = customer  # for the factories below, whose `customer` argument hides it


@dataclass(frozen=True)
class Price:
    """One price-book entry: a product × model × protection × term band and its list prices.

    Prices left out get the defaults above for the model; `terms` defaults to every term the
    model allows (one band).
    """

    product: str
    model: str = "lease"
    protection: str = "unprotected"
    terms: tuple[int, int] | None = None
    mrc: Decimal | None = None
    nrc: Decimal | None = None
    iru_fee: Decimal | None = None
    om_rate_percent: Decimal | None = None

    def entry(self, product: Product) -> dict[str, Any]:
        low, high = self.terms or (LEASE_TERMS if self.model == "lease" else IRU_TERMS)
        lease = self.model == "lease"
        return {
            "product_id": product.id,
            "protection": self.protection,
            "model": self.model,
            "term_min_months": low,
            "term_max_months": high,
            "unit": "slot" if product.kind == ProductKind.SPECTRUM else "circuit",
            "mrc": _or(self.mrc, DEFAULT_MRC) if lease else None,
            "nrc": _or(self.nrc, DEFAULT_NRC) if lease else None,
            "iru_fee": None if lease else _or(self.iru_fee, DEFAULT_IRU_FEE),
            "om_rate_percent": None if lease else _or(self.om_rate_percent, DEFAULT_OM_RATE),
        }


def _or(amount: Decimal | None, default: Decimal) -> Decimal:
    return default if amount is None else amount


def every_product_priced(session: Session) -> list[Price]:
    """A default price for every product, both protections, each model it is sold under."""
    return [
        Price(product.code, model, protection)
        for product in session.execute(select(Product).order_by(Product.listing_order)).scalars()
        for protection in ("unprotected", "protected")
        for model, allowed in (("lease", product.lease_allowed), ("iru", product.iru_allowed))
        if allowed
    ]


def price_book_version(
    session: Session,
    *,
    now: datetime,
    prices: list[Price] | None = None,
    effective_from: date | None = None,
    max_discount_percent: Decimal = Decimal("15"),
    name: str | None = None,
) -> PriceBookVersion:
    """A price-book version in force from `effective_from` (default: today), with these prices
    (default: every product priced). One taking effect before `now` is made as if on its first
    day, because the service refuses to start a version in the past."""
    effective_from = effective_from or now.date()
    # Made on its first day at 00:00 UTC at the latest: a party east of UTC may already be a day
    # ahead of `now`'s UTC date, and no version may start before any seller's today.
    made_at = min(now, _start_of(effective_from, "UTC"))
    products = {p.code: p for p in session.execute(select(Product)).scalars()}
    return create_version(
        session,
        name=name or unique("Price book"),
        effective_from=effective_from,
        max_discount_percent=max_discount_percent,
        entries=[
            price.entry(products[price.product])
            for price in (every_product_priced(session) if prices is None else prices)
        ],
        actor=ACTOR,
        now=made_at,
    )


def _start_of(day: date, time_zone: str) -> datetime:
    """The first instant of `day` where `time_zone` keeps its clocks, in UTC."""
    return datetime.combine(day, time(), zone(time_zone)).astimezone(UTC)


def _in_force(session: Session, day: date) -> PriceBookVersion | None:
    try:
        return version_on(session, day)
    except ConflictError:
        return None


def set_list_price(
    session: Session,
    *,
    at: datetime,
    product: str,
    protection: str = "unprotected",
    model: str = "lease",
    term_months: int = 12,
    mrc: Decimal | None = None,
    nrc: Decimal | None = None,
    iru_fee: Decimal | None = None,
) -> PriceBookEntry:
    """Make these the list prices quoted from `at` on, for one product and term: in a version
    taking effect that day (copied from the one in force, or every product priced), so quotes
    made earlier keep the prices they copied."""
    day = at.date()
    made_at = min(at, _start_of(day, "UTC"))  # see price_book_version
    version = session.execute(
        select(PriceBookVersion).where(PriceBookVersion.effective_from == day)
    ).scalar_one_or_none()
    if version is None:
        current = _in_force(session, day)
        version = create_version(
            session,
            name=unique("Price book"),
            effective_from=day,
            max_discount_percent=current.max_discount_percent if current else Decimal("15"),
            entries=[]
            if current
            else [p.entry(get_product(session, p.product)) for p in every_product_priced(session)],
            actor=ACTOR,
            now=made_at,
            copy_from=current.id if current else None,
        )
    sold = get_product(session, product)
    entry = next(
        (
            e
            for e in version.entries
            if (e.product_id, e.protection, e.model) == (sold.id, protection, model)
            and e.term_min_months <= term_months <= e.term_max_months
        ),
        None,
    )
    if entry is None:
        entry = PriceBookEntry(**Price(product, model, protection).entry(sold))
        version.entries.append(entry)
    for field, amount in (("mrc", mrc), ("nrc", nrc), ("iru_fee", iru_fee)):
        if amount is not None:
            setattr(entry, field, amount)
    session.flush()
    return entry


def _ensure_price_book(session: Session, now: datetime) -> None:
    if _in_force(session, now.date()) is None:
        price_book_version(session, now=now)


def quote(
    session: Session,
    *,
    now: datetime,
    lines: list[LineRequest] | None = None,
    customer: Customer | None = None,
    seller: Seller | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    notes: str = "",
) -> Quote:
    """An open quote holding its spectrum (default: one 12-month 100G lease for a new AZT
    customer). Prices come from the price book in force, made with defaults if there is none."""
    if customer is None:
        customer = _customer(session, now=now)
    _ensure_price_book(session, now)
    return create_quote(
        session,
        customer_id=customer.id,
        lines=lines or [LineRequest("WL100G")],
        seller=seller or Seller(ACTOR, customer.owner_party_id),
        now=now,
        valid_days=valid_days,
        notes=notes,
    )


def contract(
    session: Session,
    *,
    now: datetime,
    lines: list[LineRequest] | None = None,
    customer: Customer | None = None,
    seller: Seller | None = None,
) -> Contract:
    """A quote (as `quote` makes it) accepted at `now`: a contract with one pending service per
    unit, its spectrum allocated."""
    offer = quote(session, now=now, lines=lines, customer=customer, seller=seller)
    return accept_quote(session, offer.id, seller=seller or Seller(ACTOR, offer.party_id), now=now)


def active_service(
    session: Session,
    *,
    now: datetime,
    mrc: Decimal | None = None,
    nrc: Decimal | None = None,
    ready_for_service: date | None = None,
    product: str = "WL100G",
    protection: str = "unprotected",
    term_months: int = 12,
    width_ghz: Decimal | None = None,
    model: str = "lease",
    customer: Customer | None = None,
    owner: str = "AZT",
    seller: Seller | None = None,
    signed_at: datetime | None = None,
    note: str = "back-dated by tests.factories",
) -> Service:
    """A service sold on its own contract and activated at `now`, ready for service on
    `ready_for_service` (default: the selling party's today), at this MRC and NRC (default: the
    list price), for `customer` (default: a new customer of `owner`).

    The contract is signed at `signed_at`: by default `now`, or the start of the ready-for-service
    day in the selling party's time zone if that is earlier (a service cannot be ready before its
    contract). `mrc` and `nrc` become the list price of one priced unit (a circuit; one 12.5 GHz
    slot for spectrum) at signing, through a price-book version taking effect that day.
    A date ahead of today is scheduled, as the lifecycle does: the service stays pending until
    that day; one in the past carries `note` (the lifecycle asks why).
    """
    time_zone = (customer.owner_party if customer else get_party(session, owner)).time_zone
    today = local_date(now, time_zone)
    ready = ready_for_service or today
    if signed_at is None:
        signed_at = now if ready >= today else _start_of(ready, time_zone)
    if customer is None:
        customer = _customer(session, now=signed_at, owner=owner)
    if mrc is not None or nrc is not None:
        set_list_price(
            session,
            at=signed_at,
            product=product,
            protection=protection,
            term_months=term_months,
            mrc=mrc,
            nrc=nrc,
        )
    sold = contract(
        session,
        now=signed_at,
        lines=[
            LineRequest(
                product,
                protection=protection,
                model=model,
                term_months=term_months,
                width_ghz=width_ghz,
            )
        ],
        customer=customer,
        seller=seller,
    )
    return transition_service(
        session,
        sold.services[0].circuit_id,
        "activate",
        effective_date=ready,
        seller=seller or Seller(ACTOR, sold.party_id),
        now=now,
        note=note if ready < today else "",
    )


def demo_tax_rules(session: Session, *, now: datetime) -> None:
    """SPEC 4's demo tax rules for both parties (the demo seed has them; "reference" does not)."""
    for code in ("AZT", "KTC"):
        seed_tax_rules(session, get_party(session, code), DEMO_TAX_RULES, now=now)


def demo_agreement(session: Session, *, now: datetime) -> None:
    """SPEC 5's demo cooperation agreement from 2026-01-01 (50/50, commission 5%, NRC whole):
    the demo seed has it; "reference" does not, and issuing needs one in effect."""
    seed_demo_agreement(session, now=now)


def events_recorded(db: Database, type_prefix: str = "") -> list[tuple[str, str]]:
    """The events recorded so far (SPEC 13), as (type, subject id), oldest first."""
    with db.transaction() as s:
        rows = s.execute(
            select(Event.type, Event.subject_id)
            .where(Event.type.startswith(type_prefix))
            .order_by(Event.id)
        )
        return [(type_, subject) for type_, subject in rows]


def bill_and_issue(
    db: Database, clock: Any, customer_id: int, period: str = "2026-11", issuer: str = "AZT"
) -> Invoice:
    """Bill `period` for `issuer` and issue `customer_id`'s draft through the issuing path, its
    PDF rendered for real; answers the issued invoice."""
    summary = run_billing(
        db.transaction,
        period=parse_period(period),
        issuer_code=issuer,
        actor=Seller("tests", None),
        clock=clock.now,
    )
    with db.transaction() as s:
        draft = s.scalars(
            select(Invoice.id).where(
                Invoice.customer_id == customer_id, Invoice.id.in_(summary.invoice_ids)
            )
        ).one()
        invoice = issue_invoice(
            s, draft, actor=Seller("tests", None), now=clock.now(), render=render_invoices
        )
        assert invoice.number is not None and invoice.pdf is not None
        return invoice
