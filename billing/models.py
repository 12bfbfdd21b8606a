"""Every mapped class, imported in dependency order so the metadata is complete."""

from billing.access.models import ApiKey, AuditEntry, Role, User
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
from billing.sales.models import Customer

__all__ = [
    "Allocation",
    "ApiKey",
    "AuditEntry",
    "Customer",
    "FiberPair",
    "LandingStation",
    "Party",
    "Product",
    "Role",
    "Route",
    "Segment",
    "SpectrumReservation",
    "User",
]
