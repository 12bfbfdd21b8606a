"""The cable system and its spectrum: reference data, allocations, availability."""
