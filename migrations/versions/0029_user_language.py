"""user language: each staff and portal login's chosen UI language (SPEC 14); none chosen
(existing rows) follows the browser's Accept-Language

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(2), nullable=True))
        batch.create_check_constraint(
            op.f("ck_users_ui_language_valid"),
            "language IS NULL OR language IN ('en', 'ru', 'az', 'kk')",
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_ui_language_valid"), type_="check")
        batch.drop_column("language")
