"""Settlement between the operators and revenue recognition (SPEC 5): reads issued invoices."""
