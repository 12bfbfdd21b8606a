"""Every mapped class, imported in dependency order so the metadata is complete."""

from billing.access.models import ApiKey, AuditEntry, IdempotencyRecord, Role, User
from billing.inventory.models import (
    Allocation,
    FiberPair,
    LandingStation,
    Party,
    Product,
    Route,
    Segment,
    SpectrumReservation,
)
from billing.sales.models import (
    Contract,
    Customer,
    PriceBookEntry,
    PriceBookVersion,
    Quote,
    QuoteHold,
    QuoteLine,
    Service,
    ServiceEvent,
)
from billing.sequences import Sequence

__all__ = [
    "Allocation",
    "ApiKey",
    "AuditEntry",
    "Contract",
    "Customer",
    "FiberPair",
    "IdempotencyRecord",
    "LandingStation",
    "Party",
    "PriceBookEntry",
    "PriceBookVersion",
    "Product",
    "Quote",
    "QuoteHold",
    "QuoteLine",
    "Role",
    "Route",
    "Segment",
    "Sequence",
    "Service",
    "ServiceEvent",
    "SpectrumReservation",
    "User",
]
