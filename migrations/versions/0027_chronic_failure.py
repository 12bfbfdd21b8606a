"""chronic failure: a service below its availability target three closed months running,
recorded on the service and its contract (SPEC 7)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chronic_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("last_month", sa.Date(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "last_month > first_month", name=op.f("ck_chronic_failures_chronic_months_order")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_chronic_failures_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_chronic_failures_contract_id_contracts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chronic_failures")),
        sa.UniqueConstraint("service_id", "first_month", name="uq_chronic_failure"),
    )
    op.create_index(op.f("ix_chronic_failures_service_id"), "chronic_failures", ["service_id"])
    op.create_index(op.f("ix_chronic_failures_contract_id"), "chronic_failures", ["contract_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_chronic_failures_contract_id"), table_name="chronic_failures")
    op.drop_index(op.f("ix_chronic_failures_service_id"), table_name="chronic_failures")
    op.drop_table("chronic_failures")
