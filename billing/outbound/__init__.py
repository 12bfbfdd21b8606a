"""Signed webhooks to customers' endpoints (SPEC 13): endpoints, deliveries, retries."""
