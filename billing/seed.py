"""`flask seed demo`: the Trans-Caspian defaults (SPEC 1), loadable any number of times."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.access.models import User
from billing.access.services import create_portal_login, create_user
from billing.agreement.models import AgreementVersion
from billing.agreement.services import add_version
from billing.audit import record
from billing.calendar import local_date
from billing.inventory.models import FiberPair, LandingStation, Product, Route, Segment
from billing.invoicing.services import seed_tax_rules
from billing.invoicing.tax import DEMO_TAX_RULES
from billing.mail.services import add_contact, list_contacts
from billing.parties.customers import Seller
from billing.parties.models import Customer, Party
from billing.reminders.services import ensure_standard_steps
from billing.sales.models import PriceBookEntry, PriceBookVersion
from billing.scheduling.services import ensure_schedules
from billing.sla.services import seed_sla_policies

DEMO_PASSWORD = "caspian-demo-2026"  # noqa: S105 - printed by `make run` for the demo login

PARTIES: list[dict[str, Any]] = [
    dict(
        code="AZT",
        legal_name="AzerTelecom LLC",
        country="AZ",
        local_currency="AZN",
        document_prefix="AZT",
        address="Bakikhanov str. 38, AZ1065 Baku, Azerbaijan",
        tax_id="1400057421",
        time_zone="Asia/Baku",
        bank_details="Kapital Bank OJSC, Baku · SWIFT AIIBAZ2X · IBAN AZ62AIIB38060019440020411200",
        listing_order=1,
        # The same, in the fields e-invoices need (SPEC 14).
        street="Bakikhanov str. 38",
        city="Baku",
        postal_code="AZ1065",
        vat_id="AZ1400057421",
        iban="AZ62AIIB38060019440020411200",
        bic="AIIBAZ2X",
    ),
    dict(
        code="KTC",
        legal_name="Kazakhtelecom JSC",
        country="KZ",
        local_currency="KZT",
        document_prefix="KTC",
        address="Sauran str. 12, Z05T3E2 Astana, Kazakhstan",
        tax_id="BIN 981140001551",
        time_zone="Asia/Almaty",
        bank_details="Halyk Bank JSC, Almaty · SWIFT HSBKKZKX · IBAN KZ986010111000012345",
        listing_order=2,
        street="Sauran str. 12",
        city="Astana",
        postal_code="Z05T3E2",
        vat_id="KZ981140001551",
        iban="KZ986010111000012345",
        bic="HSBKKZKX",
    ),
]
STATIONS = [
    ("AKT", "Aktau", "KZ"),
    ("KUR", "Kuryk", "KZ"),
    ("SIY", "Siyazan", "AZ"),
    ("BUZ", "Buzovna", "AZ"),
]
PRODUCTS: list[dict[str, Any]] = [
    dict(
        code="WL10G",
        name="10G wavelength",
        kind="wavelength",
        width_ghz=Decimal("50"),
        circuit_prefix="WL",
        listing_order=1,
    ),
    dict(
        code="WL100G",
        name="100G wavelength",
        kind="wavelength",
        width_ghz=Decimal("50"),
        circuit_prefix="WL",
        listing_order=2,
    ),
    dict(
        code="WL400G",
        name="400G wavelength",
        kind="wavelength",
        width_ghz=Decimal("75"),
        circuit_prefix="WL",
        listing_order=3,
    ),
    dict(
        code="WL800G",
        name="800G wavelength",
        kind="wavelength",
        width_ghz=Decimal("150"),
        circuit_prefix="WL",
        listing_order=4,
    ),
    dict(
        code="SPECTRUM",
        name="Spectrum (N × 12.5 GHz)",
        kind="spectrum",
        width_ghz=None,
        circuit_prefix="SP",
        listing_order=5,
    ),
    dict(
        code="FIBER_PAIR",
        name="Fiber pair",
        kind="fiber_pair",
        width_ghz=None,
        circuit_prefix="FP",
        lease_allowed=False,
        listing_order=6,
    ),
]
DEMO_USERS = [
    ("admin@azertelecom.az", "AZT Administrator", "admin", "AZT"),
    ("sales@azertelecom.az", "AZT Sales", "sales", "AZT"),
    ("finance@azertelecom.az", "AZT Finance", "finance", "AZT"),
    ("sales@kazakhtelecom.kz", "KTC Sales", "sales", "KTC"),
    ("finance@kazakhtelecom.kz", "KTC Finance", "finance", "KTC"),
    ("noc@azertelecom.az", "AZT Operations", "noc", "AZT"),
]
DEMO_CUSTOMERS: list[dict[str, Any]] = [
    dict(
        legal_name="Silk Route Carrier GmbH",
        country="DE",
        tax_id="DE312345678",
        billing_address="Kaiserstrasse 10, 60311 Frankfurt am Main, Germany",
        street="Kaiserstrasse 10",
        city="Frankfurt am Main",
        postal_code="60311",
        vat_id="DE312345678",
        billing_currency="EUR",
        owner="AZT",
        contact_email="noc@silkroute.example",
    ),
    dict(
        legal_name="Caspian Transit LLP",
        country="KZ",
        tax_id="BIN 120540012345",
        billing_address="Abai ave. 52, 050000 Almaty, Kazakhstan",
        street="Abai ave. 52",
        city="Almaty",
        postal_code="050000",
        vat_id="KZ120540012345",
        # Russian beside English: a Kazakh customer's default (SPEC 14).
        invoice_language="ru",
        billing_currency="KZT",
        owner="KTC",
        contact_email="capacity@caspiantransit.example",
    ),
    dict(
        legal_name="Anatolia Backbone A.S.",
        country="TR",
        tax_id="TR4560012345",
        billing_address="Buyukdere Cad. 100, 34394 Istanbul, Turkey",
        street="Buyukdere Cad. 100",
        city="Istanbul",
        postal_code="34394",
        vat_id="TR4560012345",
        billing_currency="USD",
        owner="AZT",
        contact_email="wholesale@anatolia.example",
    ),
]
FIBER_PAIRS_PER_SEGMENT = 4
# The demo's list prices and cooperation agreement are those of 2026. They take effect on
# 1 January 2026, or on 1 January of the year it is (AZT's local date) when that is earlier, so
# that `flask seed demo` and `make run` work on any date.
DEMO_YEAR = 2026
PROTECTED_FACTOR = Decimal("1.8")
# Demo list prices in USD (to be replaced by each sales team's own): lease MRC per term band
# (12–23, 24–35, 36–60 months), NRC, and IRU fee per band (10–14, 15–25 years).
LEASE_BANDS = ((12, 23), (24, 35), (36, 60))
IRU_BANDS = ((120, 179), (180, 300))
DEMO_PRICES: dict[str, dict[str, Any]] = {
    "WL10G": {"mrc": ("1800", "1600", "1400"), "nrc": "2500", "iru": ("180000", "225000")},
    "WL100G": {"mrc": ("6000", "5400", "4800"), "nrc": "5000", "iru": ("600000", "750000")},
    "WL400G": {"mrc": ("14000", "12600", "11200"), "nrc": "9000", "iru": ("1400000", "1750000")},
    "WL800G": {"mrc": ("24000", "21600", "19200"), "nrc": "12000", "iru": ("2400000", "3000000")},
    "SPECTRUM": {
        "mrc": ("1500", "1350", "1200"),
        "nrc": "1000",
        "iru": ("150000", "187500"),
        "unit": "slot",
    },
    "FIBER_PAIR": {"iru": ("25000000", "30000000")},
}
OM_RATE = Decimal("4")


def _upsert(session: Session, model: Any, key: dict[str, Any], values: dict[str, Any]) -> Any:
    row = session.execute(select(model).filter_by(**key)).scalar_one_or_none()
    if row is None:
        row = model(**key, **values)
        session.add(row)
        session.flush()
    return row


def seed_reference(session: Session) -> dict[str, Party]:
    """The parties, the cable system and the products: what every platform needs, demo or not.

    Insert what is missing; returns the parties by code.
    """
    parties = {
        p["code"]: _upsert(
            session, Party, {"code": p["code"]}, {k: v for k, v in p.items() if k != "code"}
        )
        for p in PARTIES
    }
    for p in PARTIES:
        # Parties seeded before migration 0004 got its 'UTC' default: give them their own zone.
        if parties[p["code"]].time_zone == "UTC":
            parties[p["code"]].time_zone = p["time_zone"]
    stations = {
        code: _upsert(session, LandingStation, {"code": code}, {"name": name, "country": country})
        for code, name, country in STATIONS
    }
    reserve = _upsert(
        session, Route, {"code": "reserve"}, {"name": "Reserve route (Kuryk – Buzovna)"}
    )
    main = _upsert(
        session,
        Route,
        {"code": "main"},
        {"name": "Main route (Aktau – Siyazan)", "protection_route_id": reserve.id},
    )
    for code, name, a, b, km, route in (
        ("S1", "Aktau – Siyazan", "AKT", "SIY", Decimal("345"), main),
        ("S2", "Kuryk – Buzovna", "KUR", "BUZ", Decimal("330"), reserve),
    ):
        seg = _upsert(
            session,
            Segment,
            {"code": code},
            {
                "name": name,
                "a_station_id": stations[a].id,
                "b_station_id": stations[b].id,
                "length_km": km,
                "route_id": route.id,
                "route_position": 1,
            },
        )
        for number in range(1, FIBER_PAIRS_PER_SEGMENT + 1):
            _upsert(
                session,
                FiberPair,
                {"segment_id": seg.id, "number": number},
                {
                    "band_start_thz": Decimal("191.325"),
                    "slot_width_ghz": Decimal("12.5"),
                    "slot_count": 384,
                },
            )
    for p in PRODUCTS:
        _upsert(session, Product, {"code": p["code"]}, {k: v for k, v in p.items() if k != "code"})
    session.flush()
    # Month-end and the FX imports as schedules, switched off (SPEC 12).
    ensure_schedules(session)
    return parties


def seed_demo(
    session: Session,
    *,
    now: datetime,
    with_users: bool = True,
    hash_method: str = "scrypt",
    since: date | None = None,
) -> dict[str, int]:
    """Insert what is missing; never overwrite what an administrator has changed.

    The demo price book and agreement take effect on `since` when it is earlier than
    `demo_start` (the year of history `flask seed demo` adds begins there)."""
    before_users = len(session.execute(select(User.id)).all())
    parties = seed_reference(session)
    for c in DEMO_CUSTOMERS:
        values = {k: v for k, v in c.items() if k not in ("legal_name", "owner")}
        _upsert(
            session,
            Customer,
            {"legal_name": c["legal_name"]},
            {**values, "owner_party_id": parties[c["owner"]].id, "created_at": now},
        )
    _seed_billing_contacts(session, now)
    # Each issuer's payment reminders: the standard four steps (SPEC 13).
    for code in ("AZT", "KTC"):
        ensure_standard_steps(session, parties[code], now=now)
    _seed_price_book(session, now, since)
    seed_demo_agreement(session, now=now, since=since)
    # SPEC 7's demo availability targets and credit tiers.
    seed_sla_policies(session, effective_from=demo_start(session, now, since), now=now)
    # SPEC 4's demo tax rules, to be confirmed by each finance team on the tax-rules page.
    for issuer in parties.values():
        seed_tax_rules(session, issuer, DEMO_TAX_RULES, now=now)
    if with_users:
        for email, name, role, party in DEMO_USERS:
            if session.execute(select(User.id).where(User.email == email)).first() is None:
                create_user(
                    session,
                    email=email,
                    name=name,
                    password=DEMO_PASSWORD,
                    role=role,
                    party_code=party,
                    actor="seed",
                    now=now,
                    hash_method=hash_method,
                )
    added_users = len(session.execute(select(User.id)).all()) - before_users
    record(
        session,
        actor="seed",
        action="seed.demo",
        entity_type="system",
        entity_id="demo",
        now=now,
        after={"users_added": added_users},
    )
    return {"users_added": added_users}


DEMO_PORTAL_LOGIN = ("portal@silkroute.example", "Silk Route accounts payable")
DEMO_PORTAL_CUSTOMER = "Silk Route Carrier GmbH"


def seed_demo_portal_login(session: Session, *, now: datetime) -> bool:
    """A portal login for the first demo customer, with the demo password, so a newcomer sees
    the portal as a customer does (`flask seed demo` only: the tests' seed leaves it out).
    Answers whether it was added."""
    email, name = DEMO_PORTAL_LOGIN
    if session.execute(select(User.id).where(User.email == email)).first() is not None:
        return False
    customer = session.execute(
        select(Customer).where(Customer.legal_name == DEMO_PORTAL_CUSTOMER)
    ).scalar_one_or_none()
    if customer is None:
        return False
    create_portal_login(
        session,
        customer_id=customer.id,
        email=email,
        name=name,
        password=DEMO_PASSWORD,
        actor="seed",
        now=now,
    )
    return True


def _seed_billing_contacts(session: Session, now: datetime) -> None:
    """Each demo customer's contact email is its billing contact (SPEC 13), added through the
    service; a customer that has contacts already is left as it is."""
    for c in DEMO_CUSTOMERS:
        customer = session.execute(
            select(Customer).where(Customer.legal_name == c["legal_name"])
        ).scalar_one()
        if not list_contacts(session, customer.id):
            add_contact(
                session,
                customer.id,
                {"name": f"{c['legal_name']} accounts", "email": c["contact_email"]},
                editor=Seller("seed", None),
                now=now,
            )


def demo_start(session: Session, now: datetime, since: date | None = None) -> date:
    """The day the demo price book and agreement take effect (see DEMO_YEAR), or `since` when
    it is earlier."""
    time_zone = session.execute(select(Party.time_zone).where(Party.code == "AZT")).scalar()
    today = local_date(now, time_zone or "UTC")
    start = date(min(DEMO_YEAR, today.year), 1, 1)
    return start if since is None else min(start, since)


def seed_demo_agreement(session: Session, *, now: datetime, since: date | None = None) -> None:
    """SPEC 5's demo agreement: 50/50 on S1 and S2, the seller's commission 5%, NRC kept whole.

    Only on a platform that has no agreement version yet."""
    start = demo_start(session, now, since)
    if session.execute(select(AgreementVersion.id).limit(1)).first() is not None:
        return
    add_version(
        session,
        name="Cooperation agreement (demo)",
        effective_from=start,
        commission_percent=Decimal(5),
        shares={code: {"AZT": Decimal(50), "KTC": Decimal(50)} for code in ("S1", "S2")},
        actor=Seller("seed", None),
        now=now,
    )


def _seed_price_book(session: Session, now: datetime, since: date | None) -> None:
    """The demo list prices, on a platform that has no price book yet."""
    start = demo_start(session, now, since)
    if session.execute(select(PriceBookVersion.id).limit(1)).first() is not None:
        return
    version = PriceBookVersion(
        name=f"List prices {start.year}",
        effective_from=start,
        currency="USD",
        max_discount_percent=Decimal("15"),
        created_at=now,
        created_by="seed",
    )
    session.add(version)
    products = {p.code: p for p in session.execute(select(Product)).scalars()}
    for code, prices in DEMO_PRICES.items():
        unit = prices.get("unit", "circuit")
        for protection, factor in (("unprotected", Decimal(1)), ("protected", PROTECTED_FACTOR)):
            for (low, high), mrc in zip(LEASE_BANDS, prices.get("mrc", ()), strict=False):
                version.entries.append(
                    PriceBookEntry(
                        product_id=products[code].id,
                        protection=protection,
                        model="lease",
                        term_min_months=low,
                        term_max_months=high,
                        unit=unit,
                        mrc=Decimal(mrc) * factor,
                        nrc=Decimal(prices["nrc"]) * factor,
                    )
                )
            for (low, high), fee in zip(IRU_BANDS, prices["iru"], strict=True):
                version.entries.append(
                    PriceBookEntry(
                        product_id=products[code].id,
                        protection=protection,
                        model="iru",
                        term_min_months=low,
                        term_max_months=high,
                        unit=unit,
                        iru_fee=Decimal(fee) * factor,
                        om_rate_percent=OM_RATE,
                    )
                )
    session.flush()
