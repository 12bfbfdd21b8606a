"""fiber pair revision, bumped on every allocation change

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fiber_pairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION fiber_pair_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "IF TG_OP <> 'INSERT' THEN "
            "UPDATE fiber_pairs SET revision = revision + 1 WHERE id = OLD.fiber_pair_id; "
            "END IF; "
            "IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.fiber_pair_id <> NEW.fiber_pair_id) "
            "THEN UPDATE fiber_pairs SET revision = revision + 1 WHERE id = NEW.fiber_pair_id; "
            "END IF; "
            "RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER allocations_bump_revision AFTER INSERT OR UPDATE OR DELETE "
            "ON allocations FOR EACH ROW EXECUTE FUNCTION fiber_pair_bump_revision()"
        )
    elif bind.dialect.name == "sqlite":
        for event, pairs in (
            ("INSERT", "NEW.fiber_pair_id"),
            ("UPDATE", "OLD.fiber_pair_id, NEW.fiber_pair_id"),
            ("DELETE", "OLD.fiber_pair_id"),
        ):
            op.execute(
                f"CREATE TRIGGER allocations_bump_revision_{event.lower()} AFTER {event} "  # noqa: S608 - built from constants
                f"ON allocations BEGIN UPDATE fiber_pairs SET revision = revision + 1 "
                f"WHERE id IN ({pairs}); END"
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS allocations_bump_revision ON allocations")
        op.execute("DROP FUNCTION IF EXISTS fiber_pair_bump_revision()")
    elif bind.dialect.name == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS allocations_bump_revision_{event}")
    with op.batch_alter_table("fiber_pairs", schema=None) as batch_op:
        batch_op.drop_column("revision")
