"""documents rendered later: an issued invoice or credit note may wait for its PDF

Issuing takes the number and freezes the document; the PDF may be rendered afterwards by a job
(SPEC 12), outside the transaction that holds the number series. The CHECK that an issued
document has a PDF's SHA-256 becomes: an issued document has an issue date, and its PDF and
the PDF's SHA-256 are both NULL (being prepared) or both set.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ISSUED_WITH_PDF = "status = 'draft' OR (issue_date IS NOT NULL AND pdf_sha256 IS NOT NULL)"
ISSUED_DATED = "status = 'draft' OR issue_date IS NOT NULL"
PDF_WITH_SHA256 = "(pdf IS NULL) = (pdf_sha256 IS NULL)"


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint(op.f("ck_invoices_issued_complete"), type_="check")
        batch.create_check_constraint(op.f("ck_invoices_issued_complete"), ISSUED_DATED)
        batch.create_check_constraint(op.f("ck_invoices_pdf_with_sha256"), PDF_WITH_SHA256)


def downgrade() -> None:
    # Documents still waiting for their PDF must be rendered first (`flask invoices
    # render-pending`): the old CHECK refuses them.
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint(op.f("ck_invoices_pdf_with_sha256"), type_="check")
        batch.drop_constraint(op.f("ck_invoices_issued_complete"), type_="check")
        batch.create_check_constraint(op.f("ck_invoices_issued_complete"), ISSUED_WITH_PDF)
