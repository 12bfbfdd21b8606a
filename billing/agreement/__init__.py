"""The cooperation agreement between the operators and the revenue split of every line (SPEC 5)."""
