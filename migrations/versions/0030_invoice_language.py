"""invoice language: each customer's invoice language (SPEC 14: Azerbaijani beside English for
Azerbaijani customers, Russian for Kazakh ones, English alone elsewhere), the language each
invoice was issued in (frozen; English for those issued before), legal notes per language in the
tax rules, and the notes an invoice printed in its language

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LANGUAGES = "('en', 'ru', 'az', 'kk')"


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("invoice_language", sa.String(2), nullable=False, server_default="en")
        )
        batch.create_check_constraint(
            op.f("ck_customers_invoice_language_valid"), f"invoice_language IN {LANGUAGES}"
        )
    op.execute(
        "UPDATE customers SET invoice_language = CASE country"
        " WHEN 'AZ' THEN 'az' WHEN 'KZ' THEN 'ru' ELSE 'en' END"
    )
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("language", sa.String(2), nullable=False, server_default="en"))
        batch.create_check_constraint(
            op.f("ck_invoices_language_valid"), f"language IN {LANGUAGES}"
        )
    with op.batch_alter_table("invoice_taxes") as batch:
        batch.add_column(
            sa.Column("local_legal_notes", sa.Text(), nullable=False, server_default="")
        )
    op.create_table(
        "tax_rule_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "tax_rule_id",
            sa.Integer(),
            sa.ForeignKey(
                "tax_rules.id",
                name=op.f("fk_tax_rule_notes_tax_rule_id_tax_rules"),
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "language IN ('ru', 'az', 'kk')", name=op.f("ck_tax_rule_notes_language_valid")
        ),
        sa.CheckConstraint("note <> ''", name=op.f("ck_tax_rule_notes_note_given")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rule_notes")),
        sa.UniqueConstraint("tax_rule_id", "language", name=op.f("uq_tax_rule_notes_tax_rule_id")),
    )


def downgrade() -> None:
    op.drop_table("tax_rule_notes")
    with op.batch_alter_table("invoice_taxes") as batch:
        batch.drop_column("local_legal_notes")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint(op.f("ck_invoices_language_valid"), type_="check")
        batch.drop_column("language")
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint(op.f("ck_customers_invoice_language_valid"), type_="check")
        batch.drop_column("invoice_language")
