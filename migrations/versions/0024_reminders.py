"""reminders: steps per issuer (each issuer gets the standard four: 3 days before due, then 1, 7
and 21 days overdue), the steps each invoice reached, and a daily reminders schedule kind
(SPEC 13)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 03:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, time

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime
from billing.reminders.steps import STANDARD_STEPS

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    steps = op.create_table(
        "reminder_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "offset_days BETWEEN -30 AND 365", name=op.f("ck_reminder_steps_offset_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_reminder_steps_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_steps")),
        sa.UniqueConstraint("party_id", "offset_days", name="uq_reminder_steps_party_offset"),
    )
    op.create_index(op.f("ix_reminder_steps_party_id"), "reminder_steps", ["party_id"])
    op.create_table(
        "invoice_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("mails", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "state IN ('sent', 'skipped')", name=op.f("ck_invoice_reminders_state_valid")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_reminders_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["reminder_steps.id"],
            name=op.f("fk_invoice_reminders_step_id_reminder_steps"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_reminders")),
        sa.UniqueConstraint("invoice_id", "step_id", name="uq_invoice_reminders_invoice_step"),
    )
    op.create_index(op.f("ix_invoice_reminders_invoice_id"), "invoice_reminders", ["invoice_id"])
    op.create_index(op.f("ix_invoice_reminders_step_id"), "invoice_reminders", ["step_id"])
    with op.batch_alter_table("schedules") as batch:
        batch.drop_constraint(op.f("ck_schedules_kind_valid"), type_="check")
        batch.create_check_constraint(
            op.f("ck_schedules_kind_valid"), "kind IN ('month_end', 'fx_import', 'reminders')"
        )
        batch.create_check_constraint(
            op.f("ck_schedules_reminders_have_issuer"),
            "kind <> 'reminders' OR party_id IS NOT NULL",
        )

    # Existing issuers get the standard steps and their reminders schedule (09:00 local), off
    # like every schedule until an administrator switches it on.
    connection = op.get_bind()
    now = datetime.now(UTC)
    parties = connection.execute(
        sa.text("SELECT id FROM parties WHERE code IN ('AZT', 'KTC') ORDER BY id")
    ).scalars()
    schedules = sa.table(
        "schedules",
        sa.column("kind", sa.String),
        sa.column("party_id", sa.Integer),
        sa.column("url", sa.Text),
        sa.column("local_time", sa.Time),
        sa.column("issue", sa.Boolean),
        sa.column("enabled", sa.Boolean),
        sa.column("last_result", sa.Text),
    )
    for party_id in list(parties):
        op.bulk_insert(
            steps,
            [
                {
                    "party_id": party_id,
                    "offset_days": step.offset_days,
                    "subject": step.subject,
                    "body": step.body,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for step in STANDARD_STEPS
            ],
        )
        op.bulk_insert(
            schedules,
            [
                {
                    "kind": "reminders",
                    "party_id": party_id,
                    "url": "",
                    "local_time": time(9),
                    "issue": False,
                    "enabled": False,
                    "last_result": "",
                }
            ],
        )


def downgrade() -> None:
    op.execute("DELETE FROM schedules WHERE kind = 'reminders'")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_constraint(op.f("ck_schedules_reminders_have_issuer"), type_="check")
        batch.drop_constraint(op.f("ck_schedules_kind_valid"), type_="check")
        batch.create_check_constraint(
            op.f("ck_schedules_kind_valid"), "kind IN ('month_end', 'fx_import')"
        )
    op.drop_index(op.f("ix_invoice_reminders_step_id"), table_name="invoice_reminders")
    op.drop_index(op.f("ix_invoice_reminders_invoice_id"), table_name="invoice_reminders")
    op.drop_table("invoice_reminders")
    op.drop_index(op.f("ix_reminder_steps_party_id"), table_name="reminder_steps")
    op.drop_table("reminder_steps")
