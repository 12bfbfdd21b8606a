"""`flask seed demo`'s year of history (SPEC 10): about 30 customers in Azerbaijan, Kazakhstan,
Europe and Asia, and twelve months of sales, billing runs, issued invoices, payments (some late,
some still open), a credit note, a dispute and settled statements, so a newcomer sees full
dashboards, ageing and trends on whatever day it is run.

Everything is made through the platform's own services with the clock of the day it happened
(quotes, contracts, activations, runs, issuing, payments, settlements), in the order it happened,
so the documents, the numbers, the audit log and the splits are what real use would have left.
Choices are drawn from a seeded generator: two platforms seeded on the same day hold the same
history. Only a platform with no sale yet gets it.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from itertools import count
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.calendar import billing_period, local_date
from billing.db import Database
from billing.invoicing.issuing import Renderer
from billing.invoicing.models import Invoice
from billing.invoicing.runs import run_billing
from billing.invoicing.services import flag_dispute, record_fx_rate
from billing.mail.services import add_contact, list_contacts
from billing.money import Money
from billing.parties.customers import Seller, create_customer
from billing.parties.identifiers import vat_id_error
from billing.parties.models import Customer, Party
from billing.payments.issuing import credit_invoice, issue_drafts_of_run
from billing.payments.services import record_bank_payment
from billing.sales.lifecycle import transition_service
from billing.sales.models import Quote
from billing.sales.quotes import LineRequest, accept_quote, create_quote
from billing.settlement.services import approve_statement, build_statement, mark_settled
from billing.sla.outages import record_outage

HISTORY_MONTHS = 12
SEED = 2026

# Who did what, as the demo logins (billing/seed.py DEMO_USERS): the audit log and the pages'
# history then name people, not "seed".
AZT_SALES, KTC_SALES = "sales@azertelecom.az", "sales@kazakhtelecom.kz"
AZT_FINANCE, KTC_FINANCE = "finance@azertelecom.az", "finance@kazakhtelecom.kz"
ADMIN = "admin@azertelecom.az"
NOC = "noc@azertelecom.az"

# How a customer pays: days from the due date (negative: before it) to the transfer's value
# date, and the share of invoices it leaves unpaid.
PAYERS: dict[str, tuple[int, int, float]] = {
    "prompt": (-12, 0, 0.0),
    "steady": (-5, 6, 0.0),
    "late": (8, 45, 0.05),
    "stopped": (0, 0, 1.0),  # pays nothing from its `stops` month on
}

# (legal name, country, tax id, billing address, currency, owner, contact email, terms, payer)
HISTORY_CUSTOMERS: tuple[tuple[str, str, str, str, str, str, str, int, str], ...] = (
    ("Baku Digital Exchange LLC", "AZ", "1701234561", "Nizami str. 90, AZ1010 Baku, Azerbaijan",
     "AZN", "AZT", "billing@bakudx.example", 30, "prompt"),
    ("Ganja Online MMC", "AZ", "2001987652", "Ataturk ave. 12, AZ2000 Ganja, Azerbaijan",
     "AZN", "AZT", "accounts@ganjaonline.example", 15, "late"),
    ("Caspian Cloud LLC", "AZ", "1405566771", "Port Baku Towers, AZ1010 Baku, Azerbaijan",
     "USD", "AZT", "ap@caspiancloud.example", 30, "steady"),
    ("Steppe Networks LLP", "KZ", "BIN 150840023456", "Dostyk ave. 210, 050051 Almaty, Kazakhstan",
     "KZT", "KTC", "finance@steppenet.example", 30, "steady"),
    ("Astana Data Hub JSC", "KZ", "BIN 181240034567", "Mangilik El ave. 55, Z05T3D0 Astana, Kazakhstan",
     "KZT", "KTC", "invoices@astanadh.example", 45, "prompt"),
    ("Mangystau Telecom LLP", "KZ", "BIN 090340045678", "14th microdistrict 3, 130000 Aktau, Kazakhstan",
     "KZT", "KTC", "buh@mangystau-tel.example", 30, "late"),
    ("Kazakh Cloud Services LLP", "KZ", "BIN 200140056789", "Al-Farabi ave. 77, 050040 Almaty, Kazakhstan",
     "USD", "KTC", "ap@kzcloud.example", 30, "steady"),
    ("Baltic Fibre Transit UAB", "LT", "LT100012345617", "Konstitucijos pr. 21, LT-08130 Vilnius, Lithuania",
     "EUR", "AZT", "invoices@balticfibre.example", 30, "prompt"),
    ("Danube Carrier Services GmbH", "AT", "ATU71234567", "Wiedner Hauptstrasse 15, 1040 Vienna, Austria",
     "EUR", "AZT", "ap@danubecarrier.example", 30, "steady"),
    ("Nordic Capacity AB", "SE", "SE556123456701", "Kungsgatan 8, 111 43 Stockholm, Sweden",
     "EUR", "KTC", "billing@nordiccap.example", 30, "prompt"),
    ("Vistula Exchange Sp. z o.o.", "PL", "PL5213456789", "ul. Prosta 51, 00-838 Warsaw, Poland",
     "EUR", "AZT", "faktury@vistulax.example", 30, "late"),
    ("Amstel Peering B.V.", "NL", "NL861234567B01", "Science Park 120, 1098 XG Amsterdam, Netherlands",
     "EUR", "KTC", "ap@amstelpeering.example", 30, "steady"),
    ("Iberia Wholesale Networks SL", "ES", "ESB87654321", "Calle de Alcala 200, 28028 Madrid, Spain",
     "EUR", "AZT", "cuentas@iberiawholesale.example", 60, "steady"),
    ("Rhine Backbone AG", "DE", "DE298765432", "Rheinallee 3, 55116 Mainz, Germany",
     "EUR", "KTC", "rechnung@rhinebackbone.example", 30, "prompt"),
    ("Kartli Transit Network LLC", "GE", "405123456", "Rustaveli ave. 40, 0108 Tbilisi, Georgia",
     "USD", "AZT", "finance@kartlitransit.example", 30, "late"),
    ("Bosphorus Carrier Hub A.S.", "TR", "TR7890012345", "Levent Cad. 9, 34330 Istanbul, Turkey",
     "USD", "AZT", "muhasebe@bosphorushub.example", 30, "stopped"),
    ("Tashkent Telecom Exchange JV", "UZ", "UZ301234567", "Amir Temur ave. 24, 100000 Tashkent, Uzbekistan",
     "USD", "KTC", "billing@tashkentix.example", 30, "late"),
    ("Ala-Too Fiber LLC", "KG", "KG01234567890", "Chui ave. 120, 720040 Bishkek, Kyrgyzstan",
     "USD", "KTC", "ap@alatoofiber.example", 30, "steady"),
    ("Pamir Link LLC", "TJ", "TJ020012345", "Rudaki ave. 37, 734025 Dushanbe, Tajikistan",
     "USD", "KTC", "finance@pamirlink.example", 30, "late"),
    ("Tianshan Silk Cable Co., Ltd.", "CN", "CN91650100MA7712345X",
     "Xinhua North Rd. 165, Urumqi 830002, China", "USD", "KTC", "ap@tianshancable.example", 45,
     "prompt"),
    ("Gateway of India Carrier Pvt Ltd", "IN", "IN27AABCG1234F1Z5",
     "Nariman Point 5, Mumbai 400021, India", "USD", "AZT", "ap@gatewaycarrier.example", 30,
     "steady"),
    ("Lion City Carrier Hub Pte. Ltd.", "SG", "SG201912345K", "1 Raffles Place, Singapore 048616",
     "USD", "AZT", "finance@lioncityhub.example", 30, "prompt"),
    ("Kanto Overland K.K.", "JP", "JP1234567890123", "2-1-1 Otemachi, Chiyoda, Tokyo 100-0004, Japan",
     "USD", "KTC", "keiri@kantooverland.example", 30, "prompt"),
    ("Han River Backhaul Co., Ltd.", "KR", "KR1208712345", "Teheran-ro 152, Seoul 06236, South Korea",
     "USD", "KTC", "ap@hanriverbh.example", 30, "steady"),
    ("Gulf Data Route FZ-LLC", "AE", "AE100234567800003", "Dubai Internet City, Dubai, UAE",
     "USD", "AZT", "accounts@gulfdataroute.example", 30, "late"),
    ("Indus Transit Network Pvt Ltd", "PK", "PK1234567-8", "Blue Area, Islamabad 44000, Pakistan",
     "USD", "AZT", "finance@industransit.example", 30, "steady"),
    ("Khan Tengri Telecom LLC", "MN", "MN5123456", "Peace ave. 17, Ulaanbaatar 14240, Mongolia",
     "USD", "KTC", "billing@khantengri.example", 30, "steady"),
)  # fmt: skip

# A Kazakh customer that reads its invoices in Kazakh (the others of KZ take Russian).
HISTORY_LANGUAGES = {"Mangystau Telecom LLP": {"invoice_language": "kk"}}


def split_address(address: str) -> dict[str, str]:
    """ "Dostyk ave. 210, 050051 Almaty, Kazakhstan" in the fields e-invoices need: street,
    postal code and city (the country is the customer's own)."""
    parts = [p.strip() for p in address.split(",")]
    if len(parts) > 2:
        parts = parts[:-1]  # the country, in words
    locality = parts[-1].split() if len(parts) > 1 else []
    street = ", ".join(parts[:-1]) if len(parts) > 1 else parts[0]
    postal: list[str] = []
    city: list[str] = []
    for token in locality:
        if any(c.isdigit() for c in token) or (postal and token.isupper() and len(token) == 2):
            if not city or not postal:
                postal.append(token)
                continue
        city.append(token)
    return {"street": street, "postal_code": " ".join(postal), "city": " ".join(city)}


def demo_vat_id(tax_id: str, country: str) -> str:
    """The VAT id with its country prefix, where the demo's tax id makes one."""
    digits = "".join(c for c in tax_id if c.isalnum()).removeprefix("BIN")
    candidate = digits if digits[:2] == country else f"{country}{digits}"
    return candidate if vat_id_error(candidate, country) is None else ""


# The three customers of the base demo (billing/seed.py DEMO_CUSTOMERS) and how they pay.
BASE_PAYERS = {
    "Silk Route Carrier GmbH": "prompt",
    "Caspian Transit LLP": "steady",
    "Anatolia Backbone A.S.": "late",
}
# What the base demo's customers bought (a protected pair of 100G leases, a 400G IRU).
BASE_PURCHASES: dict[str, tuple[str, str, str, int, int, Decimal | None]] = {
    "Silk Route Carrier GmbH": ("WL100G", "protected", "lease", 36, 2, None),
    "Caspian Transit LLP": ("WL400G", "unprotected", "iru", 180, 1, None),
}
# Which month (from the start of the history) the customer that stopped paying stopped.
STOPS_MONTH = 7

# What each customer bought: (month of the history, product, protection, model, term months,
# quantity, spectrum GHz). Several customers buy twice; the later purchases give the trend.
PRODUCT_CHOICES: tuple[tuple[str, str, str, int, int, Decimal | None], ...] = (
    ("WL10G", "unprotected", "lease", 12, 1, None),
    ("WL10G", "unprotected", "lease", 24, 2, None),
    ("WL100G", "unprotected", "lease", 24, 1, None),
    ("WL100G", "protected", "lease", 36, 1, None),
    ("WL100G", "unprotected", "lease", 36, 2, None),
    ("WL400G", "unprotected", "lease", 36, 1, None),
    ("WL400G", "protected", "lease", 24, 1, None),
    ("SPECTRUM", "unprotected", "lease", 24, 1, Decimal("100")),
    ("SPECTRUM", "unprotected", "lease", 36, 1, Decimal("150")),
)

# Demo exchange rates on the first of each month (illustrative, entered by hand: import the
# central banks' files for real ones with `flask fx import`). AZN is pegged to USD.
USD_AZN = Decimal("1.7000")
EUR_AZN = (
    "1.9650", "1.9410", "1.9230", "1.9480", "1.9720", "1.9870",
    "1.9990", "1.9760", "1.9580", "1.9690", "1.9820", "1.9745", "1.9660",
)  # fmt: skip
USD_KZT = (
    "497.20", "501.85", "505.10", "509.40", "512.75", "506.30",
    "503.15", "508.90", "514.60", "519.25", "516.80", "511.40", "505.00",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HistorySummary:
    customers: int
    services: int
    invoices: int
    payments: int
    statements: int
    start: date


def history_start(now: datetime, time_zone: str = "Asia/Baku") -> date:
    """The first day of the month twelve months before this one (the history's first month)."""
    today = local_date(now, time_zone)
    return _add_months(date(today.year, today.month, 1), -HISTORY_MONTHS)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(order=True)
class _Step:
    at: datetime
    seq: int
    action: Callable[[datetime], None] = field(compare=False)


@dataclass
class _Counts:
    services: int = 0
    invoices: int = 0
    payments: int = 0
    statements: int = 0


class _History:
    """The year, replayed: a queue of dated steps, run in time order, each in its own unit of
    work; steps later than `now` are left out (the future has not happened)."""

    def __init__(self, db: Database, now: datetime, render: Renderer) -> None:
        self.db, self.now, self.render = db, now, render
        self.rng = random.Random(SEED)  # noqa: S311 - demo data, not security
        self.queue: list[_Step] = []
        self.seq = count()
        self.counts = _Counts()
        self.start = history_start(now)
        with db.transaction() as s:
            self.parties = {p.code: (p.id, p.time_zone) for p in s.scalars(select(Party))}
        self.payer: dict[int, str] = {}
        self.customer_names: dict[int, str] = {}
        self.customer_owner: dict[int, str] = {}

    # -- time ---------------------------------------------------------------------------------

    def month(self, index: int) -> date:
        return _add_months(self.start, index)

    def at(self, day: date, hour: int, minute: int = 0, party: str = "AZT") -> datetime:
        zone = ZoneInfo(self.parties[party][1])
        return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)

    def later(self, when: datetime, action: Callable[[datetime], None]) -> None:
        if when <= self.now:
            heapq.heappush(self.queue, _Step(when, next(self.seq), action))

    def run(self) -> None:
        while self.queue:
            step = heapq.heappop(self.queue)
            step.action(step.at)

    def seller(self, email: str, party: str | None) -> Seller:
        return Seller(email, None if party is None else self.parties[party][0])

    # -- the plan -----------------------------------------------------------------------------

    def plan(self) -> None:
        with self.db.transaction() as s:
            customers = self._customers(s)
        self._plan_rates()
        self._plan_sales(customers)
        for index in range(1, HISTORY_MONTHS + 1):
            month = self.month(index)
            self.later(self.at(month, 10, party="AZT"), partial(self._bill, month=month))
        self._plan_settlements()
        self._plan_outages()

    def _customers(self, s: Session) -> list[int]:
        seller = self.seller(ADMIN, None)
        created = self.at(self.start, 9)
        ids: list[int] = []
        for name, payer in BASE_PAYERS.items():
            customer = s.execute(select(Customer).where(Customer.legal_name == name)).scalar()
            if customer is not None:
                ids.append(customer.id)
                self.payer[customer.id] = payer
        for (
            name,
            country,
            tax_id,
            address,
            currency,
            owner,
            email,
            terms,
            payer,
        ) in HISTORY_CUSTOMERS:
            customer = s.execute(select(Customer).where(Customer.legal_name == name)).scalar()
            if customer is None:
                customer = create_customer(
                    s,
                    {
                        "legal_name": name,
                        "country": country,
                        "tax_id": tax_id,
                        "billing_address": address,
                        "billing_currency": currency,
                        "payment_terms_days": terms,
                        "owner_party": owner,
                        "contact_email": email,
                        **split_address(address),
                        "vat_id": demo_vat_id(tax_id, country),
                        **HISTORY_LANGUAGES.get(name, {}),
                    },
                    seller=seller,
                    now=created,
                )
            if not list_contacts(s, customer.id):
                add_contact(
                    s,
                    customer.id,
                    {"name": f"{name} accounts payable", "email": email},
                    editor=seller,
                    now=created,
                )
            ids.append(customer.id)
            self.payer[customer.id] = payer
        for customer in s.scalars(select(Customer).where(Customer.id.in_(ids))):
            self.customer_names[customer.id] = customer.legal_name
            self.customer_owner[customer.id] = next(
                code for code, (pid, _) in self.parties.items() if pid == customer.owner_party_id
            )
        return ids

    def _plan_rates(self) -> None:
        for index in range(HISTORY_MONTHS + 1):
            month = self.month(index)
            rates = (
                ("USD", "AZN", USD_AZN),
                ("EUR", "AZN", Decimal(EUR_AZN[index])),
                ("USD", "KZT", Decimal(USD_KZT[index])),
                # The cross rate, as the National Bank publishes EUR too.
                (
                    "EUR",
                    "KZT",
                    (Decimal(USD_KZT[index]) * Decimal(EUR_AZN[index]) / USD_AZN).quantize(
                        Decimal("0.01")
                    ),
                ),
            )
            self.later(self.at(month, 8, party="AZT"), partial(self._rates, day=month, rates=rates))

    def _rates(self, at: datetime, day: date, rates: tuple[tuple[str, str, Decimal], ...]) -> None:
        with self.db.transaction() as s:
            for base, quote, rate in rates:
                record_fx_rate(
                    s, base=base, quote=quote, rate=rate, on=day, actor=AZT_FINANCE, now=at
                )

    def _plan_sales(self, customers: list[int]) -> None:
        """Each customer buys in one of the first ten months; a third buy again later; the
        base demo's three buy as `flask seed demo` always showed (a protected 100G pair, a 400G
        IRU, a spectrum quote still open)."""
        for position, customer_id in enumerate(customers):
            first = position * 10 // len(customers)
            choice = BASE_PURCHASES.get(
                self.customer_names[customer_id],
                PRODUCT_CHOICES[self.rng.randrange(len(PRODUCT_CHOICES))],
            )
            self._plan_sale(customer_id, first, choice)
            if self.rng.random() < 0.35 and first < 8:
                again = PRODUCT_CHOICES[self.rng.randrange(len(PRODUCT_CHOICES))]
                self._plan_sale(customer_id, self.rng.randrange(first + 2, 11), again)
        # One customer leaves: its first service ends in the ninth month.
        self.leaver = customers[4]
        # This month's open quote, as the base demo always had.
        anatolia = next(
            (c for c in customers if self.customer_names.get(c) == "Anatolia Backbone A.S."), None
        )
        if anatolia is not None:
            today = local_date(self.now, "Asia/Baku")
            self.later(
                min(self.now, self.at(today, 9)) - timedelta(hours=2),
                lambda t: self._quote_only(t, anatolia),
            )

    def _plan_sale(
        self,
        customer_id: int,
        month_index: int,
        choice: tuple[str, str, str, int, int, Decimal | None],
    ) -> None:
        owner = self.customer_owner[customer_id]
        day = self.month(month_index) + timedelta(days=self.rng.randrange(2, 20))
        quoted = self.at(day, self.rng.randrange(9, 17), self.rng.randrange(60), party=owner)
        accepted = quoted + timedelta(days=self.rng.randrange(1, 6), hours=2)
        active = accepted + timedelta(days=self.rng.randrange(3, 12))
        product, protection, model, term, quantity, width = choice
        line = LineRequest(
            product,
            protection=protection,
            model=model,
            term_months=term,
            quantity=quantity,
            width_ghz=width,
        )
        po = f"PO-{day:%y%m}-{self.rng.randrange(1000, 9999)}" if self.rng.random() < 0.6 else None
        self.later(
            quoted, lambda t: self._sell(t, customer_id, line, accepted, active, po, month_index)
        )

    def _sell(
        self,
        at: datetime,
        customer_id: int,
        line: LineRequest,
        accepted: datetime,
        active: datetime,
        po: str | None,
        month_index: int,
    ) -> None:
        owner = self.customer_owner[customer_id]
        sales = self.seller(AZT_SALES if owner == "AZT" else KTC_SALES, owner)
        with self.db.transaction() as s:
            quote = create_quote(s, customer_id=customer_id, lines=[line], seller=sales, now=at)
            quote_id = quote.id

        def accept(t: datetime) -> None:
            with self.db.transaction() as s:
                contract = accept_quote(s, quote_id, seller=sales, now=t, purchase_order=po)
                circuits = [service.circuit_id for service in contract.services]
            self.later(active, lambda t2: self._activate(t2, circuits, owner, customer_id))
            if customer_id == self.leaver and month_index < 9:
                self.later(
                    self.at(self.month(9) + timedelta(days=14), 12, party=owner),
                    lambda t3: self._terminate(t3, circuits, owner),
                )

        self.later(accepted, accept)

    def _activate(self, at: datetime, circuits: list[str], owner: str, customer_id: int) -> None:
        sales = self.seller(AZT_SALES if owner == "AZT" else KTC_SALES, owner)
        zone = self.parties[owner][1]
        with self.db.transaction() as s:
            for circuit in circuits:
                transition_service(
                    s,
                    circuit,
                    "activate",
                    effective_date=local_date(at, zone),
                    seller=sales,
                    now=at,
                    note="Ready for service: acceptance tests passed",
                )
        self.counts.services += len(circuits)

    def _terminate(self, at: datetime, circuits: list[str], owner: str) -> None:
        sales = self.seller(AZT_SALES if owner == "AZT" else KTC_SALES, owner)
        with self.db.transaction() as s:
            for circuit in circuits:
                transition_service(
                    s,
                    circuit,
                    "terminate",
                    effective_date=local_date(at, self.parties[owner][1]),
                    seller=sales,
                    now=at,
                    note="Customer moved the traffic to its own IRU",
                )

    def _quote_only(self, at: datetime, customer_id: int) -> None:
        sales = self.seller(AZT_SALES, "AZT")
        line = LineRequest("SPECTRUM", width_ghz=Decimal("150"), term_months=24)
        with self.db.transaction() as s:
            create_quote(s, customer_id=customer_id, lines=[line], seller=sales, now=at)

    # -- month-end ----------------------------------------------------------------------------

    def _bill(self, at: datetime, month: date) -> None:
        """The month's run for both issuers, issued; then each invoice's payment is planned."""
        admin = self.seller(ADMIN, None)
        summary = run_billing(
            self.db.transaction,
            period=billing_period(month),
            issuer_code=None,
            actor=admin,
            clock=lambda: at,
        )
        if not summary.invoice_ids:
            return
        issuing = at + timedelta(hours=1)
        with self.db.transaction() as s:
            issue_drafts_of_run(
                s, summary.invoice_ids, actor=admin, now=issuing, render=self.render
            )
            issued = list(
                s.scalars(
                    select(Invoice)
                    .where(Invoice.id.in_(summary.invoice_ids), Invoice.number.is_not(None))
                    .order_by(Invoice.id)
                )
            )
            for invoice in issued:
                self._plan_payment(invoice, month)
            self.counts.invoices += len(issued)
        index = (month.year - self.start.year) * 12 + month.month - self.start.month
        if index == HISTORY_MONTHS - 3 and issued:
            self._plan_credit_note(issued, at)
        if index == HISTORY_MONTHS - 1 and issued:
            self._plan_dispute(issued, at)

    def _plan_payment(self, invoice: Invoice, month: date) -> None:
        payer = self.payer.get(invoice.customer_id, "steady")
        index = (month.year - self.start.year) * 12 + month.month - self.start.month
        if payer == "stopped" and index >= STOPS_MONTH:
            return
        low, high, unpaid = PAYERS[payer]
        if self.rng.random() < unpaid:
            return
        if invoice.due_date is None:
            return
        value_date = invoice.due_date + timedelta(days=self.rng.randint(low, high))
        issued_on = invoice.issue_date or invoice.due_date
        value_date = max(value_date, issued_on + timedelta(days=2))
        party = next(c for c, (pid, _) in self.parties.items() if pid == invoice.issuer_party_id)
        # The bank statement is read the next working morning.
        booked = self.at(value_date + timedelta(days=1), 10, party=party)
        amount = Money(invoice.total, invoice.currency)
        if payer == "late" and self.rng.random() < 0.15:  # half now, the rest never came
            amount = (amount * Decimal("0.5")).rounded()
        self.later(
            booked,
            partial(
                self._pay,
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                party=party,
                amount=amount,
                day=value_date,
            ),
        )

    def _pay(
        self, at: datetime, invoice_id: int, customer_id: int, party: str, amount: Money, day: date
    ) -> None:
        finance = self.seller(AZT_FINANCE if party == "AZT" else KTC_FINANCE, party)
        with self.db.transaction() as s:
            invoice = s.get(Invoice, invoice_id)
            if invoice is None or invoice.amount_due <= 0 or invoice.disputed_at is not None:
                return
            pay = min(amount.amount, invoice.amount_due)
            record_bank_payment(
                s,
                customer_id=customer_id,
                issuer_id=self.parties[party][0],
                amount=Money(pay, amount.currency),
                value_date=day,
                reference=f"{invoice.number} / {self.customer_names[customer_id][:30]}",
                applications={invoice_id: pay},
                actor=finance,
                now=at,
            )
        self.counts.payments += 1

    def _plan_credit_note(self, issued: list[Invoice], at: datetime) -> None:
        """An outage credit agreed with a customer, on one line of a recent invoice."""
        invoice = issued[len(issued) // 3]
        line = invoice.lines[0]
        amount = (Money(line.amount or Decimal(0), invoice.currency) * Decimal("0.10")).rounded()
        party = next(c for c, (pid, _) in self.parties.items() if pid == invoice.issuer_party_id)
        finance = self.seller(AZT_FINANCE if party == "AZT" else KTC_FINANCE, party)

        def credit(t: datetime, invoice_id: int = invoice.id, line_id: int = line.id) -> None:
            with self.db.transaction() as s:
                credit_invoice(
                    s,
                    invoice_id,
                    amounts={line_id: amount.amount},
                    reason="Service credit agreed for the 9-hour outage on S1 (ticket INC-4127)",
                    actor=finance,
                    now=t,
                    render=self.render,
                )

        self.later(at + timedelta(days=6, hours=3), credit)

    def _plan_dispute(self, issued: list[Invoice], at: datetime) -> None:
        """A customer disputes last month's invoice: it stays open and out of settlement."""
        invoice = issued[-2] if len(issued) > 1 else issued[-1]
        party = next(c for c, (pid, _) in self.parties.items() if pid == invoice.issuer_party_id)
        finance = self.seller(AZT_FINANCE if party == "AZT" else KTC_FINANCE, party)

        def dispute(t: datetime, invoice_id: int = invoice.id) -> None:
            with self.db.transaction() as s:
                flag_dispute(
                    s,
                    invoice_id,
                    reason="The customer says the installation charge was waived in the quote",
                    actor=finance,
                    now=t,
                )

        self.later(at + timedelta(days=4, hours=5), dispute)

    # -- outages (SPEC 7) ------------------------------------------------------------------

    def _plan_outages(self) -> None:
        """A cable cut on the main route (6 hours: its unprotected services miss 99.5 % and earn
        a 10 % credit on the next run), a month with cuts on both routes at once for half an
        hour (the protected services miss 99.95 %), a few short ones, and one on the reserve
        route still open this morning."""
        cuts = [
            (3, 11, "S1", 2, 40, "Power failure at Siyazan landing station", "INC-2101"),
            (7, 9, "S1", 360, 0, "Cable cut by a vessel's anchor, 42 km off Aktau", "INC-2417"),
            (9, 17, "S1", 45, 0, "Repeater alarm, traffic rerouted", "INC-2533"),
            (9, 17, "S2", 180, -30, "Planned repair overran, Buzovna beach manhole", "INC-2534"),
            (10, 4, "S2", 25, 0, "Line card failure at Kuryk", "INC-2610"),
        ]
        for month_index, day, segment, minutes, shift, cause, ticket in cuts:
            start = self.at(self.month(month_index) + timedelta(days=day - 1), 3) + timedelta(
                minutes=shift
            )
            end = start + timedelta(minutes=minutes)
            self.later(
                end + timedelta(hours=1),
                partial(
                    self._outage, segment=segment, start=start, end=end, cause=cause, ticket=ticket
                ),
            )
        opened = self.now - timedelta(hours=3)
        self.later(
            self.now,
            partial(
                self._outage,
                segment="S2",
                start=opened,
                end=None,
                cause="Loss of signal on the reserve route, crew dispatched",
                ticket="INC-2750",
            ),
        )

    def _outage(
        self,
        at: datetime,
        *,
        segment: str,
        start: datetime,
        end: datetime | None,
        cause: str,
        ticket: str,
    ) -> None:
        with self.db.transaction() as s:
            record_outage(
                s,
                {
                    "segment": segment,
                    "start": start.isoformat(),
                    "end": "" if end is None else end.isoformat(),
                    "cause": cause,
                    "ticket": ticket,
                },
                actor=NOC,
                now=at,
            )

    # -- settlement ---------------------------------------------------------------------------

    def _plan_settlements(self) -> None:
        """Each month is settled in the next: built on the 3rd, approved by AZT on the 5th and
        KTC on the 8th, settled on the 20th (so early in a month, last month's statement waits
        for KTC's approval)."""
        for index in range(HISTORY_MONTHS):
            month = self.month(index)
            following = self.month(index + 1)
            self.later(
                self.at(following + timedelta(days=2), 11, party="AZT"),
                partial(self._settle, month=month, following=following),
            )

    def _settle(self, at: datetime, month: date, following: date) -> None:
        azt = self.seller(AZT_FINANCE, "AZT")
        ktc = self.seller(KTC_FINANCE, "KTC")
        with self.db.transaction() as s:
            statement = build_statement(s, billing_period(month), "invoiced", actor=azt, now=at)
            statement_id = statement.id
            if statement.state != "draft":
                return
        self.counts.statements += 1

        def approve(t: datetime, who: Seller) -> None:
            with self.db.transaction() as s:
                approve_statement(s, statement_id, actor=who, now=t)

        def settle(t: datetime) -> None:
            with self.db.transaction() as s:
                payer = _payer(s, statement_id)
                who = ktc if payer == "KTC" else azt
                mark_settled(
                    s, statement_id, f"SWIFT {following:%Y%m}20-{month:%m}", actor=who, now=t
                )

        self.later(at + timedelta(days=2, hours=1), lambda t: approve(t, azt))
        self.later(at + timedelta(days=5, hours=3), lambda t: approve(t, ktc))
        self.later(self.at(following + timedelta(days=19), 15, party="AZT"), settle)


def _payer(s: Session, statement_id: int) -> str:
    from billing.settlement.models import SettlementStatement

    statement = s.get(SettlementStatement, statement_id)
    if statement is None or statement.payer is None:
        return "AZT"
    return str(statement.payer.code)


def seed_history(db: Database, *, now: datetime, render: Renderer) -> HistorySummary | None:
    """The year before `now`, on a platform that has sold nothing yet (else None)."""
    with db.transaction() as s:
        if s.execute(select(Quote.id).limit(1)).first() is not None:
            return None
    history = _History(db, now, render)
    history.plan()
    history.run()
    return HistorySummary(
        customers=len(history.customer_names),
        services=history.counts.services,
        invoices=history.counts.invoices,
        payments=history.counts.payments,
        statements=history.counts.statements,
        start=history.start,
    )
