"""Schedules (SPEC 12): periodic work as data an admin edits (month-end per issuer, the FX import
from a URL), when each is due, and what its last run did. The queue that runs them is billing/jobs."""
