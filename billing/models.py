"""Every mapped class, imported in dependency order so the metadata is complete."""

from billing.access.models import ApiKey, IdempotencyRecord, Role, User
from billing.agreement.models import AgreementShare, AgreementVersion
from billing.audit import AuditEntry
from billing.events import Event
from billing.inventory.models import (
    Allocation,
    FiberPair,
    LandingStation,
    Product,
    Route,
    Segment,
    SpectrumReservation,
)
from billing.invoicing.models import (
    BillingRun,
    BulkIssue,
    FxRateRecord,
    Invoice,
    InvoiceDispute,
    InvoiceLine,
    InvoiceTax,
    TaxRuleRecord,
)
from billing.mail.models import BillingContact, Mail, MailAttempt
from billing.outbound.models import WebhookDelivery, WebhookEndpoint
from billing.parties.models import Customer, Party
from billing.payments.models import Payment, PaymentApplication, Refund, StripeEvent
from billing.reminders.models import InvoiceReminder, ReminderStep
from billing.sales.models import (
    Contract,
    ContractInstalment,
    EarlyTerminationCharge,
    PriceBookEntry,
    PriceBookVersion,
    Quote,
    QuoteHold,
    QuoteLine,
    Service,
    ServiceEvent,
)
from billing.scheduling.models import JobFailure, Schedule
from billing.sequences import Sequence
from billing.settlement.models import (
    SettlementStatement,
    StatementApproval,
    StatementFigure,
    StatementWithheld,
)
from billing.sla.models import ChronicFailure, Outage, SlaDecision, SlaPolicy, SlaTier

__all__ = [
    "ChronicFailure",
    "Outage",
    "SlaDecision",
    "SlaPolicy",
    "SlaTier",
    "InvoiceReminder",
    "ReminderStep",
    "AgreementShare",
    "AgreementVersion",
    "Allocation",
    "ApiKey",
    "AuditEntry",
    "Event",
    "BillingContact",
    "BillingRun",
    "BulkIssue",
    "Contract",
    "ContractInstalment",
    "Customer",
    "EarlyTerminationCharge",
    "FiberPair",
    "FxRateRecord",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceDispute",
    "InvoiceLine",
    "InvoiceTax",
    "JobFailure",
    "LandingStation",
    "Mail",
    "MailAttempt",
    "Party",
    "Payment",
    "PaymentApplication",
    "PriceBookEntry",
    "PriceBookVersion",
    "Product",
    "Quote",
    "QuoteHold",
    "QuoteLine",
    "Refund",
    "Role",
    "Route",
    "Schedule",
    "Segment",
    "Sequence",
    "Service",
    "ServiceEvent",
    "SettlementStatement",
    "SpectrumReservation",
    "StatementApproval",
    "StatementFigure",
    "StatementWithheld",
    "StripeEvent",
    "TaxRuleRecord",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
