"""month end runs: a run is one issuer's month, queued and billed in chunks by jobs

States 'queued' and 'cancelled' join 'running', 'finished' and 'failed'; a run records its phase
(billing, issuing, done), a heartbeat per chunk (a run without a job and with a stale heartbeat
is abandoned), who asked it to stop, its customers total and done, where issuing stands and how
long an issuing chunk held the number series at most. At most one run of an issuer and month is
queued or running (a partial UNIQUE index, on both databases). Existing rows keep their state.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('running', 'finished', 'failed')"
NEW_STATES = "state IN ('queued', 'running', 'finished', 'failed', 'cancelled')"
ACTIVE = "state IN ('queued', 'running')"


def upgrade() -> None:
    with op.batch_alter_table("billing_runs") as batch:
        batch.drop_constraint(op.f("ck_billing_runs_state_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_billing_runs_state_valid"), NEW_STATES)
        batch.add_column(sa.Column("phase", sa.String(10), nullable=False, server_default="done"))
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested_by", sa.String(200), nullable=False, server_default="")
        )
        for name in (
            "customers_total",
            "customers_done",
            "issued_through_id",
            "series_hold_max_ms",
            "issuing_chunks",
        ):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.create_check_constraint(
            op.f("ck_billing_runs_phase_valid"), "phase IN ('billing', 'issuing', 'done')"
        )
    op.create_index(
        "uq_billing_runs_active_month",
        "billing_runs",
        ["issuer_party_id", "period_start"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_billing_runs_active_month", table_name="billing_runs")
    op.execute("UPDATE billing_runs SET state = 'failed' WHERE state IN ('queued', 'cancelled')")
    with op.batch_alter_table("billing_runs") as batch:
        batch.drop_constraint(op.f("ck_billing_runs_phase_valid"), type_="check")
        for name in (
            "issuing_chunks",
            "series_hold_max_ms",
            "issued_through_id",
            "customers_done",
            "customers_total",
            "cancel_requested_by",
            "cancel_requested_at",
            "heartbeat_at",
            "phase",
        ):
            batch.drop_column(name)
        batch.drop_constraint(op.f("ck_billing_runs_state_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_billing_runs_state_valid"), OLD_STATES)
