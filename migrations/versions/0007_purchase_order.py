"""purchase order: the customer's own reference on a contract, given on accept

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a constraint: a plain ADD COLUMN on both databases, so SQLite
    # keeps its table (and the rows that point at it) instead of rebuilding it.
    op.add_column("contracts", sa.Column("purchase_order", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE contracts DROP COLUMN purchase_order")
