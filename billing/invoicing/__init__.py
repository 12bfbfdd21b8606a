"""Billing (SPEC 4): charges and proration, tax and FX rules; runs and invoices build on them."""
