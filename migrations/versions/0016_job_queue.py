"""job queue: Procrastinate's tables and functions (SPEC 12), on PostgreSQL only

Jobs live in the application's own database, so a job is deferred in the same transaction as the
record that asks for it. The schema is Procrastinate 3.10's, kept beside the migrations
(migrations/sql/procrastinate-3.10.0.sql) so that this revision means the same thing whatever
version is installed; a later Procrastinate release brings its own SQL migrations, applied by a
revision of ours. SQLite, the embedded default, has no queue: tasks run in-process there.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "procrastinate-3.10.0.sql"

DROP = r"""
DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
    procrastinate_workers CASCADE;
DO $$
DECLARE routine record;
BEGIN
    FOR routine IN
        SELECT p.oid::regprocedure AS signature, p.prokind FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\_%'
    LOOP
        IF routine.prokind = 'p' THEN
            EXECUTE 'DROP PROCEDURE ' || routine.signature::text || ' CASCADE';
        ELSE
            EXECUTE 'DROP FUNCTION ' || routine.signature::text || ' CASCADE';
        END IF;
    END LOOP;
END;
$$;
DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
    procrastinate_job_status CASCADE;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Through the driver itself, with no parameters: the SQL's `%` are PL/pgSQL's, not
    # placeholders.
    op.get_bind().connection.driver_connection.execute(SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.get_bind().connection.driver_connection.execute(DROP)
