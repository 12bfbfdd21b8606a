"""api_contract: updated_at on quotes, contracts, services and invoices (the API's updated_since)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 03:30:00

Each row's last change, stamped by the app's clock as its unit of work flushes (billing.db.
Stamped). Rows already there take the instant they were made (or signed, or issued).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table, and what its existing rows were last changed at, as far as they tell.
STAMPED = {
    "quotes": "COALESCE(accepted_at, created_at)",
    "contracts": "signed_at",
    "services": "created_at",
    "invoices": "COALESCE(issued_at, created_at)",
}


def upgrade() -> None:
    for table, last_change in STAMPED.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
            batch.create_index(op.f(f"ix_{table}_updated_at"), ["updated_at"])
        op.execute(sa.text(f"UPDATE {table} SET updated_at = {last_change}"))  # noqa: S608


def downgrade() -> None:
    for table in STAMPED:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_updated_at"))
            batch.drop_column("updated_at")
