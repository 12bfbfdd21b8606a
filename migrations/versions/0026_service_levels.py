"""service levels: outages per segment, SLA policies (targets and credit tiers per protection
class, by date), finance's decisions on a service's month, and the `noc` role (SPEC 7)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "role IN ('admin', 'sales', 'finance', 'noc', 'customer')"
ROLES_BEFORE = "role IN ('admin', 'sales', 'finance', 'customer')"


def upgrade() -> None:
    op.create_table(
        "outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("cause", sa.String(200), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at",
            name=op.f("ck_outages_outage_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_outages_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
        sa.UniqueConstraint("segment_id", "ticket", name="uq_outage_segment_ticket"),
    )
    op.create_index(op.f("ix_outages_segment_id"), "outages", ["segment_id"])
    op.create_index(op.f("ix_outages_starts_at"), "outages", ["starts_at"])
    op.create_index(op.f("ix_outages_ends_at"), "outages", ["ends_at"])
    op.create_index(op.f("ix_outages_updated_at"), "outages", ["updated_at"])
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protection", sa.String(16), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("target_percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "protection IN ('unprotected', 'protected')",
            name=op.f("ck_sla_policies_sla_protection"),
        ),
        sa.CheckConstraint(
            "target_percent > 0 AND target_percent <= 100",
            name=op.f("ck_sla_policies_sla_target_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("protection", "effective_from", name="uq_sla_policy_class_date"),
    )
    op.create_table(
        "sla_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("below_percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("credit_percent", sa.Numeric(6, 3), nullable=False),
        sa.CheckConstraint(
            "below_percent > 0 AND below_percent <= 100", name=op.f("ck_sla_tiers_sla_tier_below")
        ),
        sa.CheckConstraint(
            "credit_percent > 0 AND credit_percent <= 100",
            name=op.f("ck_sla_tiers_sla_tier_credit"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["sla_policies.id"], name=op.f("fk_sla_tiers_policy_id_sla_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_tiers")),
        sa.UniqueConstraint("policy_id", "below_percent", name="uq_sla_tier"),
    )
    op.create_index(op.f("ix_sla_tiers_policy_id"), "sla_tiers", ["policy_id"])
    op.create_table(
        "sla_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("credit_percent", sa.Numeric(6, 3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "kind IN ('waive', 'grant')", name=op.f("ck_sla_decisions_sla_decision_kind")
        ),
        sa.CheckConstraint(
            "(kind = 'grant') = (credit_percent IS NOT NULL)",
            name=op.f("ck_sla_decisions_sla_grant_has_percent"),
        ),
        sa.CheckConstraint(
            "credit_percent IS NULL OR (credit_percent > 0 AND credit_percent <= 100)",
            name=op.f("ck_sla_decisions_sla_decision_percent"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_sla_decisions_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_decisions")),
        sa.UniqueConstraint("service_id", "period_start", name="uq_sla_decision"),
    )
    op.create_index(op.f("ix_sla_decisions_service_id"), "sla_decisions", ["service_id"])
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role_valid"), ROLES)


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'noc'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role_valid"), ROLES_BEFORE)
    op.drop_index(op.f("ix_sla_decisions_service_id"), table_name="sla_decisions")
    op.drop_table("sla_decisions")
    op.drop_index(op.f("ix_sla_tiers_policy_id"), table_name="sla_tiers")
    op.drop_table("sla_tiers")
    op.drop_table("sla_policies")
    for column in ("updated_at", "ends_at", "starts_at", "segment_id"):
        op.drop_index(op.f(f"ix_outages_{column}"), table_name="outages")
    op.drop_table("outages")
