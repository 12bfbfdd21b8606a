"""The audit log in words (SPEC 10: "Each invoice, payment, statement, contract and service shows
its history in words, with names"): one sentence per entry, such as "Aysel Mammadova (AZT
finance) issued invoice AZT-INV-2026-000012 for USD 5,600.00".

Values in, values out: an entry and the names its ids stand for (billing.reports.history loads
them). Every action the code records has a sentence in SENTENCES; an unknown one still reads as
a sentence ("… did "frobnicate" on invoice AZT-…"), never as a dump of its JSON."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.money import Money, format_money

# What staff, portal and API actors are written as when they act (billing.access User.label,
# the portal's and the API's labels): the email or key prefix is looked up for a name.
_STAFF = re.compile(
    r"(?P<email>[^\s()]+@[^\s()]+) \((?P<role>admin|sales|finance|noc), (?P<party>[A-Z]+)\)"
)
_PORTAL = re.compile(
    r"(?:portal (?P<email1>\S+@\S+))|(?:(?P<email2>\S+@\S+) \(portal, (?P<customer>.+)\))"
)
_API_KEY = re.compile(r"api key (?P<prefix>\S+?)…? \((?P<customer>.+)\)")
# Actors that are not people, in words.
MACHINES = {
    "seed": "The demo data set-up",
    "system": "The platform",
    "job: month-end": "The month-end job",
    "job:render_documents": "The document renderer",
    "schedule": "The scheduler",
    "reminders": "The reminder sender",
    "webhooks": "The webhook sender",
    "Stripe webhook": "Stripe, by webhook,",
    "tests": "A test",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """What a sentence reads of one audit entry."""

    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Names:
    """What ids stand for: staff by email ("Aysel Mammadova", role, party), entities by (type,
    id) ("invoice AZT-INV-2026-000012"), customers and parties by id."""

    people: Mapping[str, str] = field(default_factory=dict)  # email -> "Name (AZT finance)"
    entities: Mapping[tuple[str, str], str] = field(default_factory=dict)
    customers: Mapping[int, str] = field(default_factory=dict)
    parties: Mapping[int, str] = field(default_factory=dict)

    def entity(self, entity_type: str, entity_id: object) -> str:
        found = self.entities.get((entity_type, str(entity_id)))
        return found or f"{entity_type.replace('_', ' ')} {entity_id}"

    def customer(self, customer_id: object) -> str:
        try:
            return self.customers.get(int(str(customer_id)), f"customer {customer_id}")
        except ValueError:
            return str(customer_id)

    def party(self, party_id: object) -> str:
        try:
            return self.parties.get(int(str(party_id)), f"party {party_id}")
        except ValueError:
            return str(party_id)


def actor_words(actor: str, names: Names) -> str:
    """Who acted, as a person or a machine reads: "Aysel Mammadova (AZT finance)"."""
    if match := _STAFF.fullmatch(actor):
        email, role, party = match.group("email", "role", "party")
        known = names.people.get(email)
        return known or f"{email} ({party} {role})"
    if match := _PORTAL.fullmatch(actor):
        email = match.group("email1") or match.group("email2")
        person = names.people.get(email, email)
        customer = match.group("customer")
        return f"{person} (portal{', ' + customer if customer else ''})"
    if match := _API_KEY.fullmatch(actor):
        return f"The API key {match.group('prefix')}… of {match.group('customer')}"
    if actor.startswith("login from "):
        return f"A login attempt from {actor.removeprefix('login from ')}"
    if actor.startswith("contact "):
        return f"The billing contact {actor.removeprefix('contact ')}"
    if actor.startswith("schedule: "):
        return f"The scheduled {actor.removeprefix('schedule: ')}"
    if actor.startswith("job:"):
        return f"The {actor.removeprefix('job:').strip().replace('_', ' ')} job"
    if actor in MACHINES:
        return MACHINES[actor]
    return names.people.get(actor, actor or "Someone")


# --- Pieces of sentences ---


def _get(values: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    return (values or {}).get(key, default)


def _amount(
    values: Mapping[str, Any] | None, amount: str = "amount", currency: str = "currency"
) -> str:
    """An amount and its currency from a snapshot, written as money: USD 5,600.00."""
    raw: Any = _get(values, amount)
    code: Any = _get(values, currency)
    if isinstance(raw, Mapping):  # Money.as_json()
        code = raw.get("currency")
        raw = raw.get("amount")
    try:
        return format_money(Money(Decimal(str(raw)), str(code)), with_code=True)
    except (InvalidOperation, ValueError, TypeError, KeyError):
        return f"{raw} {code}" if raw is not None else "an amount"


_ISO_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:\+00:00|Z)?")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def _when(value: Any) -> str:
    """An instant as people read it: 2026-12-09 09:00 UTC (stored as ISO 8601, in UTC)."""
    match = _ISO_INSTANT.fullmatch(str(value))
    return f"{match.group(1)} {match.group(2)} UTC" if match else str(value)


def _month(value: Any) -> str:
    """A billing month as people read it: 2026-11 is November 2026."""
    match = _MONTH.fullmatch(str(value))
    if match and 1 <= int(match.group(2)) <= 12:
        return f"{_MONTHS[int(match.group(2)) - 1]} {match.group(1)}"
    return str(value)


def _quoted(text: Any) -> str:
    return f"“{text}”" if text not in (None, "") else ""


def _because(text: Any, word: str = "reason") -> str:
    return f" ({word}: {_quoted(text)})" if text not in (None, "") else ""


def _changes(e: Entry) -> str:
    """ "payment terms from 30 to 45 days, country from DE to AT": what a before/after pair
    changed, in words; or nothing."""
    before, after = e.before or {}, e.after or {}
    parts = []
    for key in after:
        if key in before and before[key] != after[key]:
            unit = " days" if key == "payment_terms_days" else ""
            parts.append(
                f"{_field(key)} from {_value(key, before[key])} to {_value(key, after[key])}{unit}"
            )
    return ", ".join(parts)


def _field(key: str) -> str:
    return {
        "payment_terms_days": "payment terms",
        "owner_party_id": "owner",
        "hold_until": "hold",
        "effective_to": "end date",
    }.get(key, key.replace("_", " "))


def _value(key: str, value: Any) -> str:
    if value in (None, ""):
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return f"{len(value)} item{'' if len(value) == 1 else 's'}"
    return _when(value)


def _changed(e: Entry, n: Names) -> str:
    """ "changed customer Silk Route Carrier GmbH: payment terms from 30 to 45 days"."""
    changes = _changes(e)
    return f"changed {n.entity(e.entity_type, e.entity_id)}" + (f": {changes}" if changes else "")


Sentence = Callable[[Entry, Names], str]


def _this(e: Entry, n: Names) -> str:
    return n.entity(e.entity_type, e.entity_id)


def _service_move(verb: str) -> Sentence:
    def sentence(e: Entry, n: Names) -> str:
        when = _get(e.after, "effective_date")
        note = _get(e.after, "note")
        dated = f" with effect from {when}" if when else ""
        return f"{verb} service {e.entity_id}{dated}{_because(note, 'note')}"

    return sentence


def _service_scheduled(verb: str) -> Sentence:
    def sentence(e: Entry, n: Names) -> str:
        when = _get(e.after, "effective_date")
        return f"scheduled service {e.entity_id} to {verb} on {when}"

    return sentence


def _mail(kind: str) -> Sentence:
    words = {
        "invoice": "an invoice",
        "credit_note": "a credit note",
        "statement": "a settlement statement",
        "reminder": "a payment reminder",
        "test": "a test mail",
        "webhook_disabled": "a notice that a webhook endpoint was disabled",
    }[kind]

    def sentence(e: Entry, n: Names) -> str:
        to = _get(e.after, "to")
        recipients = ", ".join(to) if isinstance(to, list) else (to or "its recipients")
        return f"mailed {words} to {recipients}{_because(_get(e.after, 'subject'), 'subject')}"

    return sentence


def _statement(e: Entry, n: Names) -> str:
    return n.entity("settlement_statement", e.entity_id)


SENTENCES: dict[str, Sentence] = {
    # Invoices, their lines, credit notes, disputes, reminders
    "invoice.issue": lambda e, n: f"issued {_this(e, n)} for {_amount(e.after, 'total')}",
    "invoice.credit": lambda e, n: (
        f"credited {_this(e, n)} with credit note {_get(e.after, 'credit_note')} for "
        f"{_amount(e.after, 'total')}{_because(_get(e.after, 'reason'))}"
    ),
    "invoice.legal_reference": lambda e, n: (
        f"recorded the legal reference {_quoted(_get(e.after, 'reference'))} of {_this(e, n)} "
        f"as {str(_get(e.after, 'status', '')).replace('_', ' ')}"
    ),
    "invoice.pdf_stored": lambda e, n: f"stored the PDF of {_this(e, n)}",
    "invoice.delete_draft": lambda e, n: (
        f"deleted the draft invoice of {_get(e.before, 'customer', 'a customer')} "
        f"({_get(e.before, 'lines', 0)} lines)"
    ),
    "invoice.dispute": lambda e, n: (
        f"opened a dispute on {_this(e, n)}{_because(_get(e.after, 'reason'))}"
    ),
    "invoice.resolve_dispute": lambda e, n: (
        f"resolved the dispute on {_this(e, n)}{_because(_get(e.after, 'resolution'), 'resolution')}"
    ),
    "invoice.reminder_sent": lambda e, n: (
        f"sent the payment reminder “{_get(e.after, 'step', '')}” for {_this(e, n)} to "
        f"{', '.join(_get(e.after, 'to') or []) or 'no one'}"
    ),
    "invoice.bulk_issue": lambda e, n: (
        f"asked to issue {_get(e.after, 'drafts', 'several')} selected drafts together"
    ),
    "invoice_line.add": lambda e, n: (
        f"added the line “{_get(e.after, 'description', '')}” of {_amount(e.after)} to "
        f"{_this(e, n)}{_because(_get(e.after, 'reason'))}"
    ),
    "invoice_line.edit": lambda e, n: (
        f"changed the line “{_get(e.after, 'description', '')}” of {_this(e, n)}"
        + (f": {_changes(e)}" if _changes(e) else "")
        + _because(_get(e.after, "note"))
    ),
    "invoice_line.delete": lambda e, n: (
        f"removed the line “{_get(e.before, 'description', '')}” of {_amount(e.before)} from "
        f"{_this(e, n)}"
    ),
    # Payments
    "payment.record": lambda e, n: (
        f"recorded {_payment_kind(e)} of {_amount(e.after)}"
        + (f" from {_get(e.after, 'customer')}" if _get(e.after, "customer") else "")
        + (f" for invoice {_get(e.after, 'invoice')}" if _get(e.after, "invoice") else "")
        + (f", value date {_get(e.after, 'value_date')}" if _get(e.after, "value_date") else "")
        + (
            f", flagged for review{_because(_get(e.after, 'flag_reason'))}"
            if _get(e.after, "state") == "flagged"
            else ""
        )
    ),
    "payment.apply": lambda e, n: (
        f"applied {_amount(e.after)} of {n.entity('payment', _get(e.after, 'payment'))} to "
        f"{_this(e, n)}"
    ),
    "payment.refund": lambda e, n: (
        f"refunded {_amount(e.after)} of {_this(e, n)}{_because(_get(e.after, 'reason'))}"
    ),
    "payment.refund_flagged": lambda e, n: (
        f"sent a refund of {_amount(e.after)} on {_this(e, n)} that could not be applied; the "
        f"payment is flagged for review{_because(_get(e.after, 'flag_reason'))}"
    ),
    "payment.accept_flagged": lambda e, n: (
        f"accepted flagged {_this(e, n)} as the customer's credit balance"
    ),
    "payment.to_credit_balance": lambda e, n: (
        f"moved {_amount(e.after)} of {_this(e, n)} paid on invoice {_get(e.after, 'invoice')} "
        f"to the customer's credit balance (credited beyond what the invoice still owed)"
    ),
    "stripe.event": lambda e, n: (
        f"sent the event {e.entity_id} ({_get(e.after, 'type', 'unknown type')}): "
        f"{_get(e.after, 'outcome', 'recorded')}"
    ),
    # Billing runs
    "billing_run.start": lambda e, n: (
        f"started the billing run of {_month(_get(e.after, 'period'))} for "
        f"{'every issuer' if _get(e.after, 'issuer') in (None, 'all') else _get(e.after, 'issuer')}"
        + (", issuing its drafts" if _get(e.after, "issue") else "")
    ),
    "billing_run.finish": lambda e, n: (
        f"finished {_this(e, n)}: {_get(e.after, 'charges', 0)} charges on "
        f"{_get(e.after, 'invoices', 0)} invoices, {_get(e.after, 'issued', 0)} issued"
    ),
    "billing_run.issue_requested": lambda e, n: f"asked {_this(e, n)} to issue its drafts",
    "billing_run.resume": lambda e, n: f"resumed {_this(e, n)}",
    "billing_run.cancel": lambda e, n: f"asked to cancel {_this(e, n)}",
    "billing_run.cancelled": lambda e, n: (
        f"cancelled {_this(e, n)} after {_get(e.after, 'customers_done', 0)} customers"
    ),
    # Settlement
    "settlement.built": lambda e, n: f"built {_statement(e, n)}",
    "settlement.rebuilt": lambda e, n: f"rebuilt {_statement(e, n)}",
    "settlement.approved": lambda e, n: (
        f"approved {_statement(e, n)} for {_get(e.after, 'approved_for', 'their party')}"
    ),
    "settlement.settled": lambda e, n: (
        f"marked {_statement(e, n)} settled, payment reference "
        f"{_quoted(_get(e.after, 'payment_reference'))}"
    ),
    # Customers, contacts, quotes, contracts, services
    "customer.create": lambda e, n: (
        f"created customer {_get(e.after, 'legal_name') or _this(e, n)}"
    ),
    "customer.update": _changed,
    "billing_contact.create": lambda e, n: (
        f"added the billing contact {_get(e.after, 'email', '')} for "
        f"{n.customer(_get(e.after, 'customer_id'))}"
    ),
    "billing_contact.update": lambda e, n: (
        f"changed the billing contact {_get(e.after, 'email', '')}"
        + (f": {_changes(e)}" if _changes(e) else "")
    ),
    "billing_contact.delete": lambda e, n: (
        f"removed the billing contact {_get(e.before, 'email', '')}"
    ),
    "billing_contact.unsubscribe": lambda e, n: "unsubscribed from payment reminders",
    "quote.create": lambda e, n: f"made {_this(e, n)}",
    "quote.accept": lambda e, n: (
        f"accepted {_this(e, n)}, making contract {_get(e.after, 'contract')} with services "
        f"{', '.join(_get(e.after, 'services') or []) or 'none'}"
    ),
    "quote.cancel": lambda e, n: f"cancelled {_this(e, n)}",
    "contract.payment_plan": lambda e, n: (
        f"set the payment plan of {_this(e, n)} to "
        f"{len(_get(e.after, 'instalments') or [])} instalments"
    ),
    "service.activate": _service_move("activated"),
    "service.suspend": _service_move("suspended"),
    "service.resume": _service_move("resumed"),
    "service.terminate": _service_move("terminated"),
    "service.activate_scheduled": _service_scheduled("become active"),
    "service.terminate_scheduled": _service_scheduled("end"),
    "service.scheduled_date": lambda e, n: (
        f"moved service {e.entity_id} from {_get(e.before, 'state')} to "
        f"{_get(e.after, 'state')} on its scheduled date"
    ),
    "service.early_termination_charge": lambda e, n: (
        f"charged service {e.entity_id} {_amount(e.after)} for ending "
        f"{_get(e.after, 'months_remaining')} months before its term"
    ),
    "service.early_termination_waived": lambda e, n: (
        f"waived the early-termination charge of {_amount(e.before)} on service "
        f"{e.entity_id}{_because(_get(e.after, 'reason'))}"
    ),
    # Spectrum
    "spectrum.hold": lambda e, n: (
        f"held {_get(e.after, 'product', '')} spectrum on the {_get(e.after, 'route', '')} route "
        f"for {n.customer(_get(e.after, 'customer_id'))} until {_when(_get(e.after, 'hold_until'))}"
    ),
    "spectrum.sale": lambda e, n: (
        f"reserved {_get(e.after, 'product', '')} spectrum on the {_get(e.after, 'route', '')} "
        f"route for {n.customer(_get(e.after, 'customer_id'))}"
    ),
    "spectrum.own_use": lambda e, n: (
        f"reserved spectrum on the {_get(e.after, 'route', '')} route for the operators' own "
        f"use{_because(_get(e.after, 'reason'))}"
    ),
    "spectrum.confirm": lambda e, n: f"allocated the spectrum of {_this(e, n)}",
    "spectrum.extend": lambda e, n: (
        f"extended {_this(e, n)} until {_when(_get(e.after, 'hold_until'))}"
    ),
    "spectrum.quoted": lambda e, n: (
        f"kept {_this(e, n)} for a quote until {_when(_get(e.after, 'hold_until'))}"
    ),
    "spectrum.release": lambda e, n: f"released {_this(e, n)}",
    "spectrum.expired": lambda e, n: f"let {_this(e, n)} expire",
    # Reference data
    "agreement.add_version": lambda e, n: (
        f"added the agreement version {_quoted(_get(e.after, 'name'))} from "
        f"{_get(e.after, 'effective_from')}"
    ),
    "price_book.create": lambda e, n: (
        f"created the price book {_quoted(_get(e.after, 'name'))} from "
        f"{_get(e.after, 'effective_from')} with {_get(e.after, 'entries', 0)} prices"
    ),
    "price_book.update": _changed,
    "fx_rate.add": lambda e, n: (
        f"added the {_get(e.after, 'base')}/{_get(e.after, 'quote')} rate "
        f"{_get(e.after, 'rate')} of {_get(e.after, 'rate_date')}"
    ),
    "fx_rate.change": lambda e, n: (
        f"changed the {_get(e.after, 'base')}/{_get(e.after, 'quote')} rate of "
        f"{_get(e.after, 'rate_date')}" + (f": {_changes(e)}" if _changes(e) else "")
    ),
    "tax_rule.add": lambda e, n: (
        f"added the tax rule {_quoted(_get(e.after, 'name'))} of {_get(e.after, 'issuer')} "
        f"for customers in {_get(e.after, 'customer_country')}: "
        f"{_get(e.after, 'rate_percent')}%"
    ),
    "tax_rule.end": lambda e, n: f"ended tax rule {e.entity_id} on {_get(e.after, 'effective_to')}",
    "tax_rule.delete": lambda e, n: (
        f"deleted the tax rule {_quoted(_get(e.before, 'name'))} of {_get(e.before, 'issuer')}"
    ),
    "tax_rule.notes": lambda e, n: (
        f"changed the legal notes of tax rule {e.entity_id} in other languages"
        + (f" ({', '.join(sorted(e.after))} now)" if e.after else " (none now)")
    ),
    "reminder_step.add": lambda e, n: (
        f"added the reminder step {_quoted(_get(e.after, 'label'))} for "
        f"{_get(e.after, 'party', 'a party')}"
    ),
    "reminder_step.update": lambda e, n: (
        f"changed the reminder step {_quoted(_get(e.after, 'label') or e.entity_id)}"
        + (f": {_changes(e)}" if _changes(e) else "")
    ),
    "reminder_step.remove": lambda e, n: (
        f"removed the reminder step {_quoted(_get(e.before, 'label') or e.entity_id)}"
    ),
    # Users and keys
    "user.create": lambda e, n: (
        f"created the {_get(e.after, 'role', '')} user {_get(e.after, 'email', '')}"
    ),
    "user.login": lambda e, n: "logged in",
    "user.logout": lambda e, n: "logged out",
    "user.login_throttled": lambda e, n: (
        f"was refused: too many logins for {_get(e.after, 'email', 'an account')}"
    ),
    "party.update": lambda e, n: (
        f"changed the operator details of {_this(e, n)}: "
        f"{', '.join(sorted(k for k in (e.after or {}) if (e.before or {}).get(k) != (e.after or {}).get(k))) or 'nothing'}"
    ),
    "user.deactivate": lambda e, n: f"deactivated {_this(e, n)}",
    "user.reactivate": lambda e, n: f"reactivated {_this(e, n)}",
    "user.password_reset": lambda e, n: f"set a new password for {_this(e, n)}",
    "user.language": lambda e, n: (
        f"chose {_quoted(_get(e.after, 'language'))} as the language of their pages"
    ),
    "api_key.create": lambda e, n: (
        f"created the API key {_quoted(_get(e.after, 'name'))} for "
        f"{n.customer(_get(e.after, 'customer_id'))}"
    ),
    "api_key.revoke": lambda e, n: f"revoked {_this(e, n)}",
    # Mail, webhooks, schedules, jobs
    "mail.resend": lambda e, n: (
        f"sent the mail {_quoted(_get(e.after, 'subject'))} again to "
        f"{', '.join(_get(e.after, 'to') or []) or 'its recipients'}"
    ),
    **{
        f"mail.{kind}": _mail(kind)
        for kind in ("invoice", "credit_note", "statement", "reminder", "test", "webhook_disabled")
    },  # fmt: skip
    "webhook_endpoint.create": lambda e, n: (
        f"added the webhook endpoint {_get(e.after, 'url', e.entity_id)}"
    ),
    "webhook_endpoint.delete": lambda e, n: (
        f"deleted the webhook endpoint {_get(e.before, 'url', e.entity_id)}"
    ),
    "webhook_endpoint.enable": lambda e, n: (
        f"switched the webhook endpoint {_get(e.after, 'url', e.entity_id)} on"
    ),
    "webhook_endpoint.disable": lambda e, n: (
        f"switched the webhook endpoint {_get(e.after, 'url', e.entity_id)} off after three "
        "days of failed deliveries"
    ),
    "webhook_delivery.replay": lambda e, n: f"sent webhook delivery {e.entity_id} again",
    "webhook_delivery.failed": lambda e, n: (
        f"gave up webhook delivery {e.entity_id} after {_get(e.after, 'attempts', 0)} "
        f"attempts{_because(_get(e.after, 'error'), 'error')}"
    ),
    "webhook_delivery.succeeded": lambda e, n: f"delivered webhook {e.entity_id}",
    "schedule.change": _changed,
    "schedule.dispatch": lambda e, n: f"started schedule {e.entity_id} for {_get(e.after, 'slot')}",
    "schedule.ran": lambda e, n: (
        f"ran schedule {e.entity_id}: {_get(e.after, 'last_result') or 'done'}"
    ),
    "schedule.failed": lambda e, n: (
        f"ran schedule {e.entity_id}, which failed: {_get(e.after, 'last_result') or 'no detail'}"
    ),
    # Service levels (SPEC 7)
    "outage.record": lambda e, n: (
        f"recorded an outage of segment {_get(e.after, 'segment')} from {_when(_get(e.after, 'start'))}"
        + (f" to {_when(_get(e.after, 'end'))}" if _get(e.after, "end") else ", still going on")
        + _because(_get(e.after, "cause"), "cause")
        + (f", ticket {_get(e.after, 'ticket')}" if _get(e.after, "ticket") else "")
    ),
    "outage.update": lambda e, n: (
        f"changed the outage {_quoted(_get(e.after, 'ticket') or e.entity_id)}"
        + (f": {_changes(e)}" if _changes(e) else "")
    ),
    "outage.delete": lambda e, n: (
        f"removed the outage {_quoted(_get(e.before, 'ticket') or e.entity_id)} of segment "
        f"{_get(e.before, 'segment')}{_because(_get(e.before, 'reason'))}"
    ),
    "sla_policy.add": lambda e, n: (
        f"added the service-level target {_get(e.after, 'target_percent')}% for "
        f"{_get(e.after, 'protection')} services from {_get(e.after, 'effective_from')}"
    ),
    "sla_credit.waive": lambda e, n: (
        f"waived the SLA credit of service {e.entity_id} for {_month(_get(e.after, 'period'))}"
        f"{_because(_get(e.after, 'reason'))}"
    ),
    "sla_credit.grant": lambda e, n: (
        f"granted service {e.entity_id} an SLA credit of {_get(e.after, 'credit_percent')}% for "
        f"{_month(_get(e.after, 'period'))}{_because(_get(e.after, 'reason'))}"
    ),
    "sla_credit.undecide": lambda e, n: (
        f"took back the SLA decision ({_get(e.before, 'kind')}) on service {e.entity_id} for "
        f"{_month(_get(e.before, 'period'))}"
    ),
    "service.chronic_failure": lambda e, n: (
        f"flagged service {e.entity_id} as chronically failing: below its availability target "
        f"from {_month(_get(e.after, 'first_month'))} to {_month(_get(e.after, 'last_month'))}, "
        f"so contract {_get(e.after, 'contract')} may end it without the early-termination charge"
    ),
    "service.chronic_failure_continues": lambda e, n: (
        f"noted that service {e.entity_id} stayed below its availability target through "
        f"{_month(_get(e.after, 'last_month'))}"
    ),
    "job.retry": lambda e, n: f"retried the failed job {_get(e.after, 'task', e.entity_id)}",
    "seed.demo": lambda e, n: (
        f"loaded the demo data ({_get(e.after, 'users_added', 0)} users added)"
    ),
}


def _payment_kind(e: Entry) -> str:
    return (
        "a card payment"
        if "invoice" in (e.after or {}) and "customer" not in (e.after or {})
        else "a bank payment"
    )


def describe(entry: Entry, names: Names) -> str:
    """One sentence: who did what to which, with names. An action without a sentence here still
    reads as one, naming the action and its object."""
    who = actor_words(entry.actor, names)
    sentence = SENTENCES.get(entry.action)
    if sentence is None:
        what = entry.action.split(".", 1)[-1].replace("_", " ")
        return f"{who} did “{what}” on {names.entity(entry.entity_type, entry.entity_id)}."
    try:
        said = sentence(entry, names)
    except (KeyError, TypeError, ValueError, AttributeError):
        # A snapshot older or newer than its sentence: still a sentence, never a dump.
        what = entry.action.split(".", 1)[-1].replace("_", " ")
        said = f"did “{what}” on {names.entity(entry.entity_type, entry.entity_id)}"
    return f"{who} {said}."
