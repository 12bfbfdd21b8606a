"""Payment reminders (dunning, SPEC 13): steps as data per issuer, each sent once per invoice."""
