"""invoice terms and bulk issue: the payment terms, contract numbers, billing contact and account
currency an invoice prints, frozen at issue (issue 17); documents issued before get the terms and
currency of their customer and the contracts their lines' services belong to; their billing
contact stays unknown (NULL). Bulk issues: drafts selected to be issued together by jobs

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("payment_terms_days", sa.Integer(), nullable=True))
    op.add_column("invoices", sa.Column("contract_numbers", sa.Text(), nullable=True))
    op.add_column("invoices", sa.Column("billing_contact_name", sa.String(200), nullable=True))
    op.add_column("invoices", sa.Column("billing_contact_email", sa.String(200), nullable=True))
    op.add_column("invoices", sa.Column("account_currency", sa.String(3), nullable=True))
    op.create_table(
        "bulk_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("actor_party_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("invoice_ids", sa.JSON(), nullable=False),
        sa.Column("done_through_id", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("left", sa.Text(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'finished')", name=op.f("ck_bulk_issues_state_valid")
        ),
        sa.CheckConstraint(
            "done >= 0 AND issued >= 0 AND issued <= done",
            name=op.f("ck_bulk_issues_counts_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_party_id"], ["parties.id"], name=op.f("fk_bulk_issues_actor_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_issues")),
    )
    conn = op.get_bind()
    # Issued documents (drafts take theirs at issue): the customer's terms and currency today are
    # the best record of what they were; nothing changed them before this revision's code did.
    conn.execute(
        sa.text(
            "UPDATE invoices SET "
            "payment_terms_days = (SELECT c.payment_terms_days FROM customers c"
            " WHERE c.id = invoices.customer_id), "
            "account_currency = (SELECT c.billing_currency FROM customers c"
            " WHERE c.id = invoices.customer_id) "
            "WHERE status <> 'draft'"
        )
    )
    # The contracts behind each issued document's lines, one number a line, in number order.
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT l.invoice_id, k.number FROM invoice_lines l"
            " JOIN invoices i ON i.id = l.invoice_id"
            " JOIN services s ON s.id = l.service_id"
            " JOIN contracts k ON k.id = s.contract_id"
            " WHERE i.status <> 'draft'"
        )
    ).all()
    numbers: dict[int, set[str]] = {}
    for invoice_id, number in rows:
        numbers.setdefault(invoice_id, set()).add(number)
    for invoice_id, found in numbers.items():
        conn.execute(
            sa.text("UPDATE invoices SET contract_numbers = :numbers WHERE id = :id"),
            {"numbers": "\n".join(sorted(found)), "id": invoice_id},
        )


def downgrade() -> None:
    op.drop_table("bulk_issues")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ too): a batch copy of the invoices table
    # would have to carry its partial indexes over for nothing.
    for column in (
        "account_currency",
        "billing_contact_email",
        "billing_contact_name",
        "contract_numbers",
        "payment_terms_days",
    ):
        op.drop_column("invoices", column)
