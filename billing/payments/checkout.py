"""Paying an invoice by card through a Stripe Checkout Session (SPEC 6).

The session is asked for with an idempotency key derived from the invoice number and the amount
due, so asking twice (a double click, a retried API call) gives the same session; once something
is paid the amount due changes, and so does the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from stripe.params.checkout import SessionCreateParams

from billing.errors import N_, ConflictError
from billing.invoicing.models import OPEN_STATUSES, Invoice
from billing.money import Money


class CardPaymentError(ConflictError):
    """Card payment is off, or this invoice cannot be paid by card now (409)."""


@dataclass(frozen=True)
class CheckoutLink:
    url: str
    id: str
    expires_at: datetime


def idempotency_key(invoice: Invoice) -> str:
    due = Money(invoice.amount_due, invoice.currency)
    return f"checkout-{invoice.number}-{due.minor}-{invoice.currency}"


def start_checkout(
    client: stripe.StripeClient | None, invoice: Invoice, *, success_url: str, cancel_url: str
) -> CheckoutLink:
    """A Checkout Session for what is due on `invoice`; `client` None: card payment is off."""
    if client is None:
        raise CardPaymentError(
            N_("card payment is not available; pay by bank transfer"),
            type="card_payment_disabled",
        )
    due = Money(invoice.amount_due, invoice.currency)
    if invoice.number is None or invoice.status not in OPEN_STATUSES or due.amount <= 0:
        if not invoice.number:
            raise CardPaymentError(N_("this invoice has nothing due to pay"), type="nothing_due")
        raise CardPaymentError(
            N_("%(number)s has nothing due to pay"), type="nothing_due", number=invoice.number
        )
    metadata = {"invoice_number": invoice.number}
    # payment_method_types is missing from stripe 16's typed params; the API takes it.
    params: SessionCreateParams = {  # type: ignore[typeddict-unknown-key]
        "mode": "payment",
        "payment_method_types": ["card"],
        "client_reference_id": invoice.number,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": due.minor,
                    "product_data": {"name": f"Invoice {invoice.number}"},
                },
            }
        ],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    try:
        checkout = client.v1.checkout.sessions.create(
            params=params, options={"idempotency_key": idempotency_key(invoice)}
        )
    except stripe.StripeError as error:
        if not error.user_message:
            raise CardPaymentError(
                N_("Stripe did not start the payment: try again later"),
                type="payment_provider_error",
            ) from None
        # Stripe's own words (English) stay a value.
        raise CardPaymentError(
            N_("Stripe did not start the payment: %(reason)s"),
            type="payment_provider_error",
            reason=error.user_message,
        ) from None
    if not checkout.url:
        raise CardPaymentError(
            N_("Stripe gave no payment page; try again later"), type="payment_provider_error"
        )
    return CheckoutLink(checkout.url, checkout.id, datetime.fromtimestamp(checkout.expires_at, UTC))
