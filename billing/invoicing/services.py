"""Storing exchange rates (a central bank's file, or one rate entered by hand), tax rules
(SPEC 4) and a contract's IRU payment plan (SPEC 3).

Services add and change rows and write the audit log; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.audit import record
from billing.errors import (
    N_,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    Text,
)
from billing.invoicing.charges import ChargeKind, Instalment, check_payment_plan
from billing.invoicing.fx import CBAR, NBK, FxFile, FxRate, parse_cbar, parse_nbk, round_rate
from billing.invoicing.models import (
    LEGAL_REFERENCE_STATUSES,
    RATE_DIGITS,
    RATE_PLACES,
    FxRateRecord,
    Invoice,
    InvoiceDispute,
    InvoiceLine,
    TaxRuleNote,
    TaxRuleRecord,
)
from billing.invoicing.queries import disputes_of, get_invoice, get_tax_rule, tax_rules
from billing.invoicing.tax import (
    ELSEWHERE,
    TaxRule,
    category_errors,
    check_rules,
    default_category,
)
from billing.money import minor_unit
from billing.parties.customers import Seller, is_country
from billing.parties.models import Party
from billing.sales.models import Contract, ContractInstalment, Service

MANUAL = "manual"
_PARSERS = {"cbar": (CBAR, parse_cbar), "nbk": (NBK, parse_nbk)}
_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
_LIMIT = Decimal(10) ** (RATE_DIGITS - RATE_PLACES)


@dataclass(frozen=True, slots=True)
class FxImport:
    """What an import did: rates added, rates changed, rates already so, codes left out (why)."""

    source: str
    on: date
    added: int
    changed: int
    unchanged: int
    skipped: tuple[str, ...]


def import_fx_file(
    session: Session, source: str, content: bytes, *, actor: str, now: datetime
) -> FxImport:
    """Store the day's rates of a CBAR or NBK file; a rate already stored for the same day and
    source is updated when the file says otherwise. A malformed file raises FxFileError and
    nothing is stored."""
    if source not in _PARSERS:
        raise InvalidRequestError(
            N_("unknown rate source %(source)s"),
            {"source": [N_("Choose cbar or nbk.")]},
            source=repr(source),
        )
    _, parse = _PARSERS[source]
    file: FxFile = parse(content)
    for rate in file.rates:
        _stored_value(rate.base, rate.rate)
    added = changed = unchanged = 0
    for rate in file.rates:
        outcome, _ = _upsert(session, rate, source, actor=actor, now=now)
        added += outcome == "added"
        changed += outcome == "changed"
        unchanged += outcome == "unchanged"
    return FxImport(source, file.on, added, changed, unchanged, file.skipped)


def record_fx_rate(
    session: Session,
    *,
    base: str,
    quote: str,
    rate: Decimal,
    on: date,
    actor: str,
    now: datetime,
) -> FxRateRecord:
    """A rate entered by hand: `rate` units of `quote` per one `base` on `on`. Entering the same
    pair and day again replaces the earlier manual rate."""
    errors: dict[str, list[str]] = {}
    base, quote = base.strip().upper(), quote.strip().upper()
    for field, code in (("base", base), ("quote", quote)):
        try:
            minor_unit(code)
        except ValueError:
            errors[field] = [
                Text(N_("%(code)s is not an ISO 4217 currency."), code=code)
                if code
                else N_("An empty code is not an ISO 4217 currency.")
            ]
    if not errors and base == quote:
        errors["quote"] = [N_("A rate is between two different currencies.")]
    if not (rate.is_finite() and rate > 0):
        errors["rate"] = [N_("A rate is a positive number.")]
    elif _quantised(rate) <= 0:
        errors["rate"] = [
            Text(
                N_(
                    "A rate is below %(limit)s and at least %(quantum)s (it is kept to "
                    "%(places)s decimal places)."
                ),
                limit=f"{_LIMIT:,}",
                quantum=str(_QUANTUM),
                places=RATE_PLACES,
            )
        ]
    if errors:
        raise InvalidRequestError(N_("the rate is not valid"), errors)
    _, row = _upsert(session, FxRate(base, quote, rate, on, MANUAL), MANUAL, actor=actor, now=now)
    return row


def _quantised(rate: Decimal) -> Decimal:
    """`rate` kept to RATE_PLACES decimals; zero when it does not fit the column at all (a
    quantize of a huge value would overflow the decimal context)."""
    if not (rate.is_finite() and 0 < rate < _LIMIT):
        return Decimal(0)
    return round_rate(rate, RATE_PLACES)


def _stored_value(code: str, rate: Decimal) -> Decimal:
    value = _quantised(rate)
    if value <= 0:
        raise InvalidRequestError(
            N_(
                "the rate of %(code)s does not fit a stored rate (below %(limit)s, at least "
                "%(quantum)s): %(rate)s"
            ),
            code=code,
            limit=f"{_LIMIT:,}",
            quantum=str(_QUANTUM),
            rate=str(rate),
        )
    return value


def _find(session: Session, base: str, quote: str, on: date, source: str) -> FxRateRecord | None:
    return session.execute(
        select(FxRateRecord).where(
            FxRateRecord.base == base,
            FxRateRecord.quote == quote,
            FxRateRecord.rate_date == on,
            FxRateRecord.source == source,
        )
    ).scalar_one_or_none()


def _upsert(
    session: Session, rate: FxRate, source: str, *, actor: str, now: datetime
) -> tuple[str, FxRateRecord]:
    value = _stored_value(rate.base, rate.rate)
    row = _find(session, rate.base, rate.quote, rate.on, source)
    if row is None:
        row = FxRateRecord(
            base=rate.base,
            quote=rate.quote,
            rate=value,
            rate_date=rate.on,
            source=source,
            created_at=now,
            created_by=actor,
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor,
            action="fx_rate.add",
            entity_type="fx_rate",
            entity_id=row.id,
            now=now,
            after=_snapshot(row),
        )
        return "added", row
    if row.rate == value:
        return "unchanged", row
    before = _snapshot(row)
    row.rate = value
    row.created_at = now
    row.created_by = actor
    session.flush()
    record(
        session,
        actor=actor,
        action="fx_rate.change",
        entity_type="fx_rate",
        entity_id=row.id,
        now=now,
        before=before,
        after=_snapshot(row),
    )
    return "changed", row


def _snapshot(row: FxRateRecord) -> dict[str, object]:
    return {
        "base": row.base,
        "quote": row.quote,
        "rate": row.rate,
        "rate_date": row.rate_date,
        "source": row.source,
    }


# -- tax rules --------------------------------------------------------------------------------


def _tax_rule_errors(country: str, name: str, legal_note: str) -> dict[str, list[str]]:
    """What is wrong with a rule's texts, checked before a TaxRule is made of them (which
    refuses them with a bare ValueError: a 500 for "Germany")."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [N_("Name the rate as the invoice prints it, e.g. VAT 18%.")]
    if not legal_note.strip():
        errors["legal_note"] = [N_("Give the legal note printed on the invoice.")]
    if country != ELSEWHERE and not is_country(country):
        errors["customer_country"] = [
            Text(
                N_(
                    "%(country)s is neither an ISO 3166-1 country code nor %(elsewhere)s "
                    "(two letters: DE for Germany)."
                ),
                country=repr(country),
                elsewhere=repr(ELSEWHERE),
            )
        ]
    return errors


def add_tax_rule(
    session: Session,
    *,
    issuer: Party,
    customer_country: str,
    rate_percent: Decimal,
    name: str,
    legal_note: str,
    effective_from: date | None,
    effective_to: date | None,
    actor: Seller,
    now: datetime,
    category_code: str = "",
    exemption_reason_code: str = "",
    exemption_reason: str = "",
) -> TaxRuleRecord:
    """A new rule for the issuer's supplies to a country (or 'elsewhere') over a date range; it
    may not overlap another rule of the same issuer and country. Its VAT category (UNCL5305)
    with the exemption reason e-invoices state; none given, tax.default_category reads it."""
    if not actor.may_sell_for(issuer.id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff keep its tax rules"), issuer=issuer.code
        )
    country = customer_country.strip()
    country = country.lower() if country.lower() == ELSEWHERE else country.upper()
    errors: dict[str, list[str]] = {}
    if not (rate_percent.is_finite() and 0 <= rate_percent <= 100):
        errors["rate_percent"] = [N_("A rate is between 0 and 100 percent.")]
    elif rate_percent.quantize(Decimal("0.001")) != rate_percent:
        errors["rate_percent"] = [N_("A rate has at most three decimals.")]
    if effective_from and effective_to and effective_to < effective_from:
        errors["effective_to"] = [N_("A rule ends on or after the day it takes effect.")]
    errors.update(_tax_rule_errors(country, name, legal_note))
    category = category_code.strip().upper()
    vatex = exemption_reason_code.strip().upper()
    reason = exemption_reason.strip()
    if not errors and not category:
        category, vatex, reason = default_category(rate_percent, name.strip(), legal_note.strip())
    if "rate_percent" not in errors:
        errors.update(category_errors(rate_percent, category, vatex, reason))
    if errors:
        raise InvalidRequestError(N_("the tax rule is not valid"), errors)
    rule = TaxRule(
        issuer.code,
        country,
        rate_percent,
        name.strip(),
        legal_note.strip(),
        effective_from,
        effective_to,
        category,
        vatex,
        reason,
    )
    check_rules([*tax_rules(session, issuer.id), rule])
    row = TaxRuleRecord(
        issuer_party_id=issuer.id,
        customer_country=country,
        rate_percent=rate_percent,
        name=rule.name,
        legal_note=rule.legal_note,
        effective_from=effective_from,
        effective_to=effective_to,
        category_code=rule.category_code,
        exemption_reason_code=rule.exemption_reason_code,
        exemption_reason=rule.exemption_reason,
        created_at=now,
        created_by=actor.label,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor.label,
        action="tax_rule.add",
        entity_type="tax_rule",
        entity_id=row.id,
        now=now,
        after={
            "issuer": issuer.code,
            "customer_country": country,
            "rate_percent": str(rate_percent),
            "name": rule.name,
            "category_code": rule.category_code,
            "exemption_reason_code": rule.exemption_reason_code,
            "exemption_reason": rule.exemption_reason,
            "effective_from": str(effective_from or ""),
            "effective_to": str(effective_to or ""),
        },
    )
    return row


def end_tax_rule(
    session: Session, rule_id: int, *, last_day: date, actor: Seller, now: datetime
) -> TaxRuleRecord:
    """Close a rule on its last day (a new rate then takes over with a rule of its own)."""
    row = get_tax_rule(session, rule_id)
    if not actor.may_sell_for(row.issuer_party_id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff keep its tax rules"), issuer=row.issuer.code
        )
    if row.effective_from is not None and last_day < row.effective_from:
        raise InvalidRequestError(
            N_("a rule ends on or after the day it takes effect"),
            {
                "effective_to": [
                    Text(N_("Choose %(day)s or later."), day=row.effective_from.isoformat())
                ]
            },
        )
    before = str(row.effective_to or "")
    row.effective_to = last_day
    check_rules(tax_rules(session, row.issuer_party_id))
    record(
        session,
        actor=actor.label,
        action="tax_rule.end",
        entity_type="tax_rule",
        entity_id=row.id,
        now=now,
        before={"effective_to": before},
        after={"effective_to": last_day.isoformat()},
    )
    return row


# The invoice languages a legal note is kept in beside English (SPEC 14).
NOTE_LANGUAGES = ("ru", "az", "kk")
NOTE_MAX = 2000


def set_tax_rule_notes(
    session: Session, rule_id: int, notes: dict[str, str], *, actor: Seller, now: datetime
) -> TaxRuleRecord:
    """The rule's legal note in each invoice language other than English: an empty text removes
    that language's. Invoices already issued keep the notes they printed (frozen at issue)."""
    row = get_tax_rule(session, rule_id)
    if not actor.may_sell_for(row.issuer_party_id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff keep its tax rules"), issuer=row.issuer.code
        )
    errors = {
        f"note_{code}": [Text(N_("at most %(count)s characters"), count=NOTE_MAX)]
        for code, text in notes.items()
        if code in NOTE_LANGUAGES and len(text.strip()) > NOTE_MAX
    }
    unknown = sorted(set(notes) - set(NOTE_LANGUAGES))
    if unknown:
        errors["language"] = [
            Text(
                N_("not an invoice language beside English: %(codes)s"),
                codes=", ".join(unknown),
            )
        ]
    if errors:
        raise InvalidRequestError(N_("the legal notes are not valid"), errors)
    before = {n.language: n.note for n in row.notes}
    kept = {n.language: n for n in row.notes}
    for code in NOTE_LANGUAGES:
        if code not in notes:
            continue
        text = notes[code].strip()
        if not text and code in kept:
            row.notes.remove(kept[code])
        elif text and code in kept:
            kept[code].note = text
        elif text:
            row.notes.append(TaxRuleNote(language=code, note=text))
    session.flush()
    after = {n.language: n.note for n in row.notes}
    if after != before:
        record(
            session,
            actor=actor.label,
            action="tax_rule.notes",
            entity_type="tax_rule",
            entity_id=row.id,
            now=now,
            before=before,
            after=after,
        )
    return row


def delete_tax_rule(session: Session, rule_id: int, *, actor: Seller, now: datetime) -> None:
    """Delete a rule no issued document used; a used rule is ended instead, never deleted."""
    row = get_tax_rule(session, rule_id)
    if not actor.may_sell_for(row.issuer_party_id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff keep its tax rules"), issuer=row.issuer.code
        )
    used = session.execute(
        select(InvoiceLine.id).where(InvoiceLine.tax_rule_id == row.id).limit(1)
    ).first()
    if used is not None:
        raise ConflictError(
            N_("issued invoices used this rule: end it on a date instead of deleting it")
        )
    record(
        session,
        actor=actor.label,
        action="tax_rule.delete",
        entity_type="tax_rule",
        entity_id=row.id,
        now=now,
        before={
            "issuer": row.issuer.code,
            "customer_country": row.customer_country,
            "rate_percent": str(row.rate_percent),
            "name": row.name,
        },
    )
    session.delete(row)
    session.flush()


def seed_tax_rules(
    session: Session, issuer: Party, rules: Iterable[TaxRule], *, now: datetime
) -> int:
    """Store these rules for an issuer that has none yet (the demo defaults); answers how many."""
    if tax_rules(session, issuer.id):
        return 0
    count = 0
    for rule in rules:
        if rule.issuer != issuer.code:
            continue
        session.add(
            TaxRuleRecord(
                issuer_party_id=issuer.id,
                customer_country=rule.customer_country,
                rate_percent=rule.rate_percent,
                name=rule.name,
                legal_note=rule.legal_note,
                effective_from=rule.effective_from,
                effective_to=rule.effective_to,
                category_code=rule.category_code,
                exemption_reason_code=rule.exemption_reason_code,
                exemption_reason=rule.exemption_reason,
                created_at=now,
                created_by="seed",
                notes=[TaxRuleNote(language=code, note=note) for code, note in rule.local_notes],
            )
        )
        count += 1
    session.flush()
    return count


# -- IRU payment plans ------------------------------------------------------------------------


def _plan_snapshot(plan: Iterable[ContractInstalment | Instalment]) -> list[str]:
    return [
        f"{i.percent.normalize():f}% "
        + (
            f"on {i.due_date.isoformat()}"
            if i.due_date
            else f"{i.months_after_rfs} months after RFS"
        )
        for i in plan
    ]


def set_payment_plan(
    session: Session,
    contract_id: int,
    instalments: Sequence[Instalment],
    *,
    actor: Seller,
    now: datetime,
) -> Contract:
    """Replace the payment plan of a contract's IRU fee (SPEC 3): percents adding up to 100, each
    due on a date or months after ready-for-service. Once an instalment was billed, the plan is
    what the invoices were made from and can no longer change."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFoundError(N_("no contract %(id)s"), id=contract_id)
    if not actor.may_sell_for(contract.party_id):
        raise PermissionDeniedError(
            N_("only %(party)s's staff change this contract"), party=contract.party.code
        )
    if not any(s.model == "iru" for s in contract.services):
        raise InvalidRequestError(
            N_("contract %(number)s has no IRU service to pay for"), number=contract.number
        )
    check_payment_plan(instalments)
    billed = session.execute(
        select(InvoiceLine.id)
        .join(Service, Service.id == InvoiceLine.service_id)
        .where(
            Service.contract_id == contract.id,
            InvoiceLine.charge_kind == ChargeKind.IRU_FEE.value,
        )
        .limit(1)
    ).first()
    if billed is not None:
        raise ConflictError(
            N_(
                "an IRU fee instalment of contract %(number)s was billed already: "
                "its payment plan can no longer change"
            ),
            number=contract.number,
        )
    before = _plan_snapshot(contract.instalments)
    contract.instalments.clear()
    session.flush()  # the old rows go before the new ones take their positions
    contract.instalments.extend(
        ContractInstalment(
            position=position,
            percent=i.percent,
            due_date=i.due_date,
            months_after_rfs=i.months_after_rfs,
        )
        for position, i in enumerate(instalments, start=1)
    )
    session.flush()
    record(
        session,
        actor=actor.label,
        action="contract.payment_plan",
        entity_type="contract",
        entity_id=contract.id,
        now=now,
        before={"instalments": before},
        after={"instalments": _plan_snapshot(instalments)},
    )
    return contract


# -- disputes (SPEC 5) -------------------------------------------------------------------------

DISPUTE_TEXT_MAX = 2000


class DisputeError(InvalidRequestError):
    pass


# Per field: the error when it is empty, its field message, the error when it is too long.
_DISPUTE_TEXTS = {
    "reason": (
        N_("The reason is required"),
        N_("Give the reason."),
        N_("The reason is too long"),
    ),
    "resolution": (
        N_("The resolution is required"),
        N_("Give the resolution."),
        N_("The resolution is too long"),
    ),
}


def _dispute_text(value: str, field: str) -> str:
    required, give, too_long = _DISPUTE_TEXTS[field]
    text = value.strip()
    if not text:
        raise DisputeError(required, {field: [give]})
    if len(text) > DISPUTE_TEXT_MAX:
        raise DisputeError(
            too_long,
            {field: [Text(N_("At most %(count)s characters."), count=DISPUTE_TEXT_MAX)]},
        )
    return text


def _disputable(session: Session, invoice_id: int, actor: Seller) -> Invoice:
    invoice = get_invoice(session, invoice_id, for_update=True)
    if not actor.may_sell_for(invoice.issuer_party_id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff act on %(issuer)s's invoices"),
            issuer=invoice.issuer.code,
        )
    if invoice.is_draft or invoice.is_credit_note:
        raise DisputeError(N_("only an issued invoice can be disputed"))
    return invoice


# National e-invoice clearance (SPEC 14): entered by hand until a connector exists.
LEGAL_REFERENCE_LENGTH = 64


def set_legal_reference(
    session: Session,
    invoice_id: int,
    *,
    reference: str,
    status: str,
    actor: Seller,
    now: datetime,
) -> Invoice:
    """Record the number the issuer's tax authority gave an issued invoice or credit note in its
    clearance system (EVHF/e-Qaimə for AZT, IS ESF for KTC) and where its submission stands.
    Only the issuer's finance staff; an accepted document has its number."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    if not actor.may_sell_for(invoice.issuer_party_id):
        raise PermissionDeniedError(
            N_("only %(issuer)s's finance staff act on %(issuer)s's invoices"),
            issuer=invoice.issuer.code,
        )
    if invoice.is_draft:
        raise ConflictError(N_("a draft has no legal reference: issue it first"))
    text = reference.strip()
    errors: dict[str, list[str]] = {}
    if status not in LEGAL_REFERENCE_STATUSES:
        errors["status"] = [
            Text(N_("Choose one of %(choices)s."), choices=", ".join(LEGAL_REFERENCE_STATUSES))
        ]
    if len(text) > LEGAL_REFERENCE_LENGTH:
        errors["reference"] = [
            Text(N_("At most %(count)s characters."), count=LEGAL_REFERENCE_LENGTH)
        ]
    elif any(not c.isprintable() for c in text):
        errors["reference"] = [N_("Letters, digits and punctuation only, on one line.")]
    elif status == "accepted" and not text:
        errors["reference"] = [N_("An accepted document has the number the authority gave it.")]
    if errors:
        raise InvalidRequestError(N_("the legal reference was not recorded"), errors)
    before = {"reference": invoice.legal_reference, "status": invoice.legal_reference_status}
    after = {"reference": text, "status": status}
    if before == after:
        return invoice
    invoice.legal_reference = text
    invoice.legal_reference_status = status
    session.flush()
    record(
        session,
        actor=actor.label,
        action="invoice.legal_reference",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        before=before,
        after={**after, "number": invoice.number},
    )
    return invoice


def flag_dispute(
    session: Session, invoice_id: int, *, reason: str, actor: Seller, now: datetime
) -> Invoice:
    """Flag an issued invoice as disputed: withheld from settlement until resolved."""
    text = _dispute_text(reason, "reason")
    invoice = _disputable(session, invoice_id, actor)
    if invoice.disputed_at is not None:
        raise ConflictError(N_("%(number)s is already disputed"), number=invoice.number)
    invoice.disputed_at = now
    invoice.dispute_reason = text
    session.add(
        InvoiceDispute(invoice_id=invoice.id, opened_at=now, opened_by=actor.label, reason=text)
    )
    session.flush()
    record(
        session,
        actor=actor.label,
        action="invoice.dispute",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        before={"disputed": False},
        after={"disputed": True, "number": invoice.number, "reason": text},
    )
    return invoice


def resolve_dispute(
    session: Session, invoice_id: int, *, resolution: str, actor: Seller, now: datetime
) -> Invoice:
    """Close an invoice's open dispute with how it was resolved."""
    text = _dispute_text(resolution, "resolution")
    invoice = _disputable(session, invoice_id, actor)
    open_disputes = [d for d in disputes_of(session, invoice.id) if d.resolved_at is None]
    if invoice.disputed_at is None or not open_disputes:
        raise ConflictError(N_("%(number)s is not disputed"), number=invoice.number)
    dispute = open_disputes[-1]
    dispute.resolved_at = now
    dispute.resolved_by = actor.label
    dispute.resolution = text
    before_reason = invoice.dispute_reason
    invoice.disputed_at = None
    invoice.dispute_reason = None
    session.flush()
    record(
        session,
        actor=actor.label,
        action="invoice.resolve_dispute",
        entity_type="invoice",
        entity_id=invoice.id,
        now=now,
        before={"disputed": True, "reason": before_reason},
        after={"disputed": False, "number": invoice.number, "resolution": text},
    )
    return invoice
