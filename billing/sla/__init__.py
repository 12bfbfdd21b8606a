"""Service levels (SPEC 7): outages per segment, availability per service and month, targets and
credit tiers as data, and finance's decisions on credits. The credits' amounts are billed by
invoicing, which reads the percentages from here."""
