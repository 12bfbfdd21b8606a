"""schedules: month-end per issuer and the FX import as data an admin edits (off by default), and
the last error of each failed job (Procrastinate keeps no reason)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence
from datetime import time

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schedules = op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(8), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("day_of_month", sa.Integer(), nullable=True),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("issue", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_slot", UTCDateTime(), nullable=True),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('month_end', 'fx_import')", name=op.f("ck_schedules_kind_valid")
        ),
        sa.CheckConstraint(
            "kind <> 'month_end' OR (party_id IS NOT NULL AND day_of_month BETWEEN 1 AND 28)",
            name=op.f("ck_schedules_month_end_has_issuer_and_day"),
        ),
        sa.CheckConstraint(
            "kind <> 'fx_import' OR source IN ('cbar', 'nbk')",
            name=op.f("ck_schedules_fx_import_has_source"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_schedules_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("kind", "party_id", name="uq_schedules_kind_party"),
        sa.UniqueConstraint("kind", "source", name="uq_schedules_kind_source"),
    )
    op.create_table(
        "job_failures",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("task_name", sa.String(128), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_failures")),
    )
    # Off by default (SPEC 12): month-end of the issuers on the 1st at 06:00 local time, the
    # FX files daily at 10:00 local time once an admin gives their URL.
    parties = sa.table("parties", sa.column("id", sa.Integer), sa.column("code", sa.String))
    rows = [
        {"kind": "fx_import", "party_id": None, "source": source, "day_of_month": None}
        for source in ("cbar", "nbk")
    ]
    for party_id in (
        op.get_bind()
        .execute(
            sa.select(parties.c.id).where(parties.c.code.in_(("AZT", "KTC"))).order_by(parties.c.id)
        )
        .scalars()
    ):
        rows.append({"kind": "month_end", "party_id": party_id, "source": None, "day_of_month": 1})
    op.bulk_insert(
        schedules,
        [
            {
                **row,
                "url": "",
                "local_time": time(6) if row["kind"] == "month_end" else time(10),
                "issue": False,
                "enabled": False,
                "last_result": "",
            }
            for row in rows
        ],
    )


def downgrade() -> None:
    op.drop_table("job_failures")
    op.drop_table("schedules")
