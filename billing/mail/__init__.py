"""Email to billing contacts and the other party (SPEC 13): contacts, composed mails, the outbox and the delivery log."""
