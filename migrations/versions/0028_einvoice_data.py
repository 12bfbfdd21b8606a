"""e-invoice data (SPEC 14): addresses split into fields, VAT ids with the country prefix, the
issuer's IBAN and BIC, the tax category per rule (UNCL5305) with the exemption reason, the unit
of each invoice line, and the per-issuer legal invoice reference of the national clearance
systems (EVHF/e-Qaimə, IS ESF) with its status.

Rows already there: the split address fields start empty (the one-text address stays); a VAT id
is the tax id with the country prefix added where it has none; a rule above 0 % is standard
rated (S), a 0 % one is reverse charge (AE) where its name or legal note says "reverse charge",
otherwise outside the scope of VAT (O), its legal note being the exemption reason; issued taxes
take the same reading of their names and notes; a month of service is MON, an O&M year ANN,
everything else one unit (C62).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 17:50:00
"""

import re
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORY_VALID = "category_code IN ('S', 'Z', 'E', 'AE', 'K', 'G', 'O')"
# EN 16931 BR-S-5, BR-Z-5, BR-AE-5, BR-O-5, BR-E-5, BR-G-5, BR-IC-5: only S carries a rate.
CATEGORY_RATE = "(category_code = 'S') = (rate_percent > 0)"
# BR-AE-10, BR-E-10, BR-G-10, BR-IC-10, BR-O-10: an exemption reason (code or text) for every
# category but S and Z (BR-S-10, BR-Z-10 forbid one there).
EXEMPTION_GIVEN = (
    "category_code IN ('S', 'Z') OR exemption_reason_code <> '' OR exemption_reason <> ''"
)
EXEMPTION_ONLY_WHERE_EXEMPT = (
    "category_code NOT IN ('S', 'Z') OR (exemption_reason_code = '' AND exemption_reason = '')"
)
LEGAL_STATUS_VALID = (
    "legal_reference_status IN ('not_submitted', 'submitted', 'accepted', 'rejected')"
)


def _text(name: str, length: int | None = None) -> sa.Column:  # type: ignore[type-arg]
    kind = sa.Text() if length is None else sa.String(length)
    return sa.Column(name, kind, nullable=False, server_default="")


def _vat_id(country: str, tax_id: str) -> str:
    """The tax id with its country prefix; empty where it cannot be one (2-30 alphanumerics)."""
    value = re.sub(r"[\s.\-/]", "", tax_id or "").upper()
    if not value or not country:
        return ""
    if not value.startswith(country.upper()):
        value = country.upper() + value
    return value if re.fullmatch(r"[A-Z]{2}[A-Z0-9]{2,30}", value) else ""


def _category(rate: object, words: str) -> tuple[str, str]:
    if Decimal(str(rate)) > 0:
        return "S", ""
    if "reverse" in words.lower():
        return "AE", "VATEX-EU-AE"
    return "O", "VATEX-EU-O"


def upgrade() -> None:
    with op.batch_alter_table("parties") as batch:
        batch.add_column(_text("street", 200))
        batch.add_column(_text("city", 100))
        batch.add_column(_text("postal_code", 20))
        batch.add_column(_text("vat_id", 32))
        batch.add_column(_text("iban", 34))
        batch.add_column(_text("bic", 11))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(_text("street", 200))
        batch.add_column(_text("city", 100))
        batch.add_column(_text("postal_code", 20))
        batch.add_column(_text("vat_id", 32))
    with op.batch_alter_table("invoice_lines") as batch:
        batch.add_column(sa.Column("unit_code", sa.String(3), nullable=False, server_default="MON"))
    with op.batch_alter_table("invoice_taxes") as batch:
        batch.add_column(
            sa.Column("category_code", sa.String(2), nullable=False, server_default="S")
        )
        batch.add_column(_text("exemption_reason_code", 32))
        batch.add_column(_text("exemption_reason"))
    with op.batch_alter_table("tax_rules") as batch:
        batch.add_column(
            sa.Column("category_code", sa.String(2), nullable=False, server_default="S")
        )
        batch.add_column(_text("exemption_reason_code", 32))
        batch.add_column(_text("exemption_reason"))
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(_text("legal_reference", 64))
        batch.add_column(
            sa.Column(
                "legal_reference_status",
                sa.String(16),
                nullable=False,
                server_default="not_submitted",
            )
        )
        batch.create_check_constraint(
            op.f("ck_invoices_legal_reference_status_valid"), LEGAL_STATUS_VALID
        )

    conn = op.get_bind()
    for table in ("parties", "customers"):
        rows = conn.execute(sa.text(f"SELECT id, country, tax_id FROM {table}")).all()  # noqa: S608
        for id_, country, tax_id in rows:
            vat_id = _vat_id(country, tax_id)
            if vat_id:
                conn.execute(
                    sa.text(f"UPDATE {table} SET vat_id = :vat WHERE id = :id"),  # noqa: S608
                    {"vat": vat_id, "id": id_},
                )
    rules = conn.execute(sa.text("SELECT id, rate_percent, name, legal_note FROM tax_rules")).all()
    for id_, rate, name, note in rules:
        code, vatex = _category(rate, f"{name} {note}")
        if code != "S":
            conn.execute(
                sa.text(
                    "UPDATE tax_rules SET category_code = :code, exemption_reason_code = :vatex,"
                    " exemption_reason = :reason WHERE id = :id"
                ),
                {"code": code, "vatex": vatex, "reason": note or name, "id": id_},
            )
    taxes = conn.execute(
        sa.text("SELECT id, rate_percent, names, legal_notes FROM invoice_taxes")
    ).all()
    for id_, rate, names, notes in taxes:
        code, vatex = _category(rate, f"{names} {notes}")
        if code != "S":
            conn.execute(
                sa.text(
                    "UPDATE invoice_taxes SET category_code = :code,"
                    " exemption_reason_code = :vatex, exemption_reason = :reason WHERE id = :id"
                ),
                {"code": code, "vatex": vatex, "reason": notes or names, "id": id_},
            )
    conn.execute(
        sa.text(
            "UPDATE invoice_lines SET unit_code = CASE"
            " WHEN charge_kind = 'mrc' THEN 'MON' WHEN charge_kind = 'om' THEN 'ANN'"
            " ELSE 'C62' END"
        )
    )
    # The rows now satisfy the rules the service keeps for new ones: the database keeps them too.
    with op.batch_alter_table("tax_rules") as batch:
        batch.create_check_constraint(op.f("ck_tax_rules_category_valid"), CATEGORY_VALID)
        batch.create_check_constraint(op.f("ck_tax_rules_category_rate"), CATEGORY_RATE)
        batch.create_check_constraint(op.f("ck_tax_rules_exemption_given"), EXEMPTION_GIVEN)
        batch.create_check_constraint(
            op.f("ck_tax_rules_exemption_only_where_exempt"), EXEMPTION_ONLY_WHERE_EXEMPT
        )
    with op.batch_alter_table("invoice_taxes") as batch:
        batch.create_check_constraint(op.f("ck_invoice_taxes_category_valid"), CATEGORY_VALID)


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint(op.f("ck_invoices_legal_reference_status_valid"), type_="check")
        batch.drop_column("legal_reference_status")
        batch.drop_column("legal_reference")
    with op.batch_alter_table("tax_rules") as batch:
        batch.drop_constraint(op.f("ck_tax_rules_exemption_only_where_exempt"), type_="check")
        batch.drop_constraint(op.f("ck_tax_rules_exemption_given"), type_="check")
        batch.drop_constraint(op.f("ck_tax_rules_category_rate"), type_="check")
        batch.drop_constraint(op.f("ck_tax_rules_category_valid"), type_="check")
        batch.drop_column("exemption_reason")
        batch.drop_column("exemption_reason_code")
        batch.drop_column("category_code")
    with op.batch_alter_table("invoice_taxes") as batch:
        batch.drop_constraint(op.f("ck_invoice_taxes_category_valid"), type_="check")
        batch.drop_column("exemption_reason")
        batch.drop_column("exemption_reason_code")
        batch.drop_column("category_code")
    with op.batch_alter_table("invoice_lines") as batch:
        batch.drop_column("unit_code")
    with op.batch_alter_table("customers") as batch:
        for name in ("vat_id", "postal_code", "city", "street"):
            batch.drop_column(name)
    with op.batch_alter_table("parties") as batch:
        for name in ("bic", "iban", "vat_id", "postal_code", "city", "street"):
            batch.drop_column(name)
