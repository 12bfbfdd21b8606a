"""Payments (SPEC 6): bank transfers, credit balances, refunds, Stripe Checkout and its webhooks."""
