"""Reports that read across invoicing and payments: the finance dashboard's figures (SPEC 10)."""
