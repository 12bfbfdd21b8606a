"""party time zone: the business calendar of each operator (SPEC 3)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows start on UTC; the demo seed sets the operators' own zones.
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_parties_time_zone_not_empty"), "time_zone <> ''")


def downgrade() -> None:
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_parties_time_zone_not_empty"), type_="check")
        batch_op.drop_column("time_zone")
