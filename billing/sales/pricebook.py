"""The versioned price book: list prices in USD, found by product, protection, model and term."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.audit import record
from billing.calendar import local_date
from billing.errors import N_, ConflictError, InvalidRequestError, NotFoundError
from billing.inventory.models import Product
from billing.money import Money
from billing.parties.models import Party
from billing.sales.models import PriceBookEntry, PriceBookVersion

LEASE_TERMS = (12, 60)  # months
IRU_TERMS = (120, 300)  # months: 10–25 years, whole years


def check_term(model: str, term_months: int) -> None:
    if model == "lease":
        low, high = LEASE_TERMS
        if not low <= term_months <= high:
            raise InvalidRequestError(
                N_("a lease runs 12 to 60 months"),
                {"term_months": [N_("a lease runs 12 to 60 months")]},
            )
    elif model == "iru":
        low, high = IRU_TERMS
        if not low <= term_months <= high or term_months % 12:
            raise InvalidRequestError(
                N_("an IRU runs 10 to 25 whole years"),
                {"term_months": [N_("an IRU runs 10 to 25 whole years (120–300 months)")]},
            )
    else:
        raise InvalidRequestError(N_("model must be lease or iru"), {"model": [N_("lease or iru")]})


def price_book_today(session: Session, now: datetime) -> date:
    """The price book's today: the latest business date of any selling party (SPEC 3).

    A version is in force once any seller has reached its first day: from then quotes may have
    copied its prices, so it no longer changes, and no new version may start before that day.
    """
    zones = session.execute(select(Party.time_zone).distinct()).scalars().all()
    return max((local_date(now, zone) for zone in zones), default=local_date(now, "UTC"))


def version_on(session: Session, day: date) -> PriceBookVersion:
    version = session.execute(
        select(PriceBookVersion)
        .where(PriceBookVersion.effective_from <= day)
        .order_by(PriceBookVersion.effective_from.desc())
        .limit(1)
    ).scalar_one_or_none()
    if version is None:
        raise ConflictError(N_("no price book is in force on %(day)s"), day=day)
    return version


@dataclass(frozen=True)
class ListPrice:
    version: PriceBookVersion
    entry: PriceBookEntry
    units: int  # how many priced units one circuit is (slots for spectrum, else 1)

    @property
    def mrc(self) -> Decimal | None:
        return None if self.entry.mrc is None else self.entry.mrc * self.units

    @property
    def nrc(self) -> Decimal | None:
        return None if self.entry.nrc is None else self.entry.nrc * self.units

    @property
    def iru_fee(self) -> Decimal | None:
        return None if self.entry.iru_fee is None else self.entry.iru_fee * self.units


def list_price(
    session: Session,
    *,
    product: Product,
    protection: str,
    model: str,
    term_months: int,
    width_slots: int,
    day: date,
) -> ListPrice:
    check_term(model, term_months)
    if model == "lease" and not product.lease_allowed:
        raise InvalidRequestError(
            N_("%(product)s is sold as an IRU only"),
            {"model": [N_("IRU only for this product")]},
            product=product.name,
        )
    if model == "iru" and not product.iru_allowed:
        raise InvalidRequestError(
            N_("%(product)s is not sold as an IRU"),
            {"model": [N_("lease only")]},
            product=product.name,
        )
    version = version_on(session, day)
    entry = session.execute(
        select(PriceBookEntry).where(
            PriceBookEntry.version_id == version.id,
            PriceBookEntry.product_id == product.id,
            PriceBookEntry.protection == protection,
            PriceBookEntry.model == model,
            PriceBookEntry.term_min_months <= term_months,
            PriceBookEntry.term_max_months >= term_months,
        )
    ).scalar_one_or_none()
    if entry is None:
        raise NotFoundError(
            N_(
                "the price book %(name)s has no %(model)s price for %(product)s "
                "(%(protection)s, %(months)s months)"
            ),
            {"product": [N_("no list price for this combination")]},
            name=version.name,
            model=model,
            product=product.code,
            protection=protection,
            months=term_months,
        )
    return ListPrice(version, entry, width_slots if entry.unit == "slot" else 1)


def list_versions(session: Session) -> list[PriceBookVersion]:
    return list(
        session.execute(
            select(PriceBookVersion)
            .options(selectinload(PriceBookVersion.entries).selectinload(PriceBookEntry.product))
            .order_by(PriceBookVersion.effective_from.desc())
        ).scalars()
    )


def create_version(
    session: Session,
    *,
    name: str,
    effective_from: date,
    max_discount_percent: Decimal,
    entries: list[dict[str, Any]],
    actor: str,
    now: datetime,
    copy_from: int | None = None,
    change_percent: Decimal = Decimal(0),
) -> PriceBookVersion:
    """A new version; its entries given, or copied from another version (its prices changed by
    `change_percent`, the O&M rate kept) and then overridden by the given ones."""
    if effective_from < price_book_today(session, now):
        raise InvalidRequestError(
            N_("a price book version cannot take effect in the past"),
            {"effective_from": [N_("today or later")]},
        )
    if not Decimal(0) <= max_discount_percent <= Decimal(100):
        raise InvalidRequestError(
            N_("max discount is a percentage"), {"max_discount_percent": ["0–100"]}
        )
    if session.execute(
        select(PriceBookVersion.id).where(PriceBookVersion.effective_from == effective_from)
    ).first():
        raise ConflictError(
            N_("a version already takes effect on %(day)s"),
            {"effective_from": [N_("taken")]},
            day=effective_from,
        )
    version = PriceBookVersion(
        name=name.strip() or f"Price book {effective_from}",
        effective_from=effective_from,
        max_discount_percent=max_discount_percent,
        created_at=now,
        created_by=actor,
    )
    session.add(version)
    rows = list(entries)
    if copy_from is not None:
        source = session.get(PriceBookVersion, copy_from)
        if source is None:
            raise NotFoundError(N_("no price book version %(id)s"), id=copy_from)
        rows = [_entry_values(e, source.currency, change_percent) for e in source.entries] + rows
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:  # later rows override copied ones
        seen[(row["product_id"], row["protection"], row["model"], row["term_min_months"])] = row
    for row in seen.values():
        version.entries.append(PriceBookEntry(**row))
    session.flush()
    record(
        session,
        actor=actor,
        action="price_book.create",
        entity_type="price_book_version",
        entity_id=version.id,
        now=now,
        after={
            "name": version.name,
            "effective_from": effective_from,
            "entries": len(version.entries),
        },
    )
    return version


def _entry_values(e: PriceBookEntry, currency: str, change_percent: Decimal) -> dict[str, Any]:
    return {
        "product_id": e.product_id,
        "protection": e.protection,
        "model": e.model,
        "term_min_months": e.term_min_months,
        "term_max_months": e.term_max_months,
        "unit": e.unit,
        "mrc": scaled(e.mrc, currency, change_percent),
        "nrc": scaled(e.nrc, currency, change_percent),
        "iru_fee": scaled(e.iru_fee, currency, change_percent),
        "om_rate_percent": e.om_rate_percent,
        "early_termination_percent": e.early_termination_percent,
    }


def scaled(amount: Decimal | None, currency: str, change_percent: Decimal) -> Decimal | None:
    """A list price changed by a percentage, rounded to the currency's minor unit."""
    if amount is None:
        return None
    return Money(amount, currency).percent(100 + change_percent).rounded().amount


def check_scheduled(version: PriceBookVersion, today: date) -> None:
    """Only a version not yet in force may change: quotes may have copied the others' prices."""
    if version.effective_from <= today:
        raise ConflictError(
            N_("“%(name)s” is in force since %(day)s: create a new version instead"),
            name=version.name,
            day=version.effective_from,
        )


@dataclass(frozen=True)
class EntryChange:
    entry: PriceBookEntry
    values: dict[str, Decimal]


def update_scheduled_version(
    session: Session,
    version: PriceBookVersion,
    *,
    changes: list[EntryChange],
    max_discount_percent: Decimal,
    actor: str,
    now: datetime,
) -> int:
    """Change the prices of a version not yet in force; returns how many entries changed."""
    check_scheduled(version, price_book_today(session, now))
    before: dict[str, Any] = {"max_discount_percent": version.max_discount_percent, "entries": {}}
    after: dict[str, Any] = {"max_discount_percent": max_discount_percent, "entries": {}}
    for change in changes:
        before["entries"][change.entry.id] = {k: getattr(change.entry, k) for k in change.values}
        after["entries"][change.entry.id] = change.values
        for key, value in change.values.items():
            setattr(change.entry, key, value)
    version.max_discount_percent = max_discount_percent
    session.flush()
    record(
        session,
        actor=actor,
        action="price_book.update",
        entity_type="price_book_version",
        entity_id=version.id,
        now=now,
        before=before,
        after=after,
    )
    return len(changes)
