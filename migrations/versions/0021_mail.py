"""mail: customers' billing contacts (each customer's contact_email becomes its first), the mails
composed for them and their delivery attempts (SPEC 13)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 03:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("invoices", sa.Boolean(), nullable=False),
        sa.Column("credit_notes", sa.Boolean(), nullable=False),
        sa.Column("reminders", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "language IN ('en', 'ru', 'az', 'kk')", name=op.f("ck_billing_contacts_language_valid")
        ),
        sa.CheckConstraint("email <> ''", name=op.f("ck_billing_contacts_email_not_empty")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_billing_contacts_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_contacts")),
        sa.UniqueConstraint("customer_id", "email", name="uq_billing_contacts_customer_email"),
    )
    op.create_index(op.f("ix_billing_contacts_customer_id"), "billing_contacts", ["customer_id"])

    op.create_table(
        "mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("statement_id", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("list_unsubscribe", sa.String(500), nullable=True),
        sa.Column("message_id", sa.String(300), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('invoice', 'credit_note', 'statement', 'reminder', 'test', "
            "'webhook_disabled')",
            name=op.f("ck_mails_kind_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed')", name=op.f("ck_mails_status_valid")
        ),
        sa.CheckConstraint(
            "(status = 'sent') = (sent_at IS NOT NULL)", name=op.f("ck_mails_sent_at_iff_sent")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_mails_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_mails_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_mails_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_mails_statement_id_settlement_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mails")),
        sa.UniqueConstraint("public_id", name=op.f("uq_mails_public_id")),
    )
    for column in ("kind", "party_id", "customer_id", "invoice_id", "statement_id", "status"):
        op.create_index(op.f(f"ix_mails_{column}"), "mails", [column])
    op.create_index(op.f("ix_mails_created_at"), "mails", ["created_at"])

    op.create_table(
        "mail_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('sent', 'retry', 'failed')", name=op.f("ck_mail_attempts_outcome_valid")
        ),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["mails.id"], name=op.f("fk_mail_attempts_mail_id_mails")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_attempts")),
    )
    op.create_index(op.f("ix_mail_attempts_mail_id"), "mail_attempts", ["mail_id"])

    _contacts_from_contact_email()


def _contacts_from_contact_email() -> None:
    """Each customer's contact email becomes its first billing contact: named as the customer,
    in English, receiving every document."""
    conn = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer()),
        sa.column("legal_name", sa.String()),
        sa.column("contact_email", sa.String()),
    )
    contacts = sa.table(
        "billing_contacts",
        sa.column("customer_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("language", sa.String()),
        sa.column("invoices", sa.Boolean()),
        sa.column("credit_notes", sa.Boolean()),
        sa.column("reminders", sa.Boolean()),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    # The migration's own instant: a data migration has no clock to be handed.
    at = datetime.now(UTC)
    rows = [
        {
            "customer_id": customer_id,
            "name": (name or "")[:200],
            "email": email.strip(),
            "language": "en",
            "invoices": True,
            "credit_notes": True,
            "reminders": True,
            "created_at": at,
            "updated_at": at,
        }
        for customer_id, name, email in conn.execute(
            sa.select(customers.c.id, customers.c.legal_name, customers.c.contact_email)
        )
        if email and email.strip()
    ]
    if rows:
        op.bulk_insert(contacts, rows)


def downgrade() -> None:
    op.drop_table("mail_attempts")
    op.drop_table("mails")
    op.drop_table("billing_contacts")
