"""Staff users, customers' API keys and the audit log (SPEC 8)."""
