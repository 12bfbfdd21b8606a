"""The PDF of a settlement statement: its figures, the net, the withheld invoices, the approvals,
and the SHA-256 of its CSV so a reader can check that the lines they recompute are these."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from billing.money import Money, format_money
from billing.pdf import PDF_ASSETS, render_pdf_styled
from billing.settlement.models import SettlementStatement

TEMPLATE = "settlement.html"
STYLESHEET = "invoice.css"


def _usd(value: object) -> str:
    return format_money(Money(value, "USD"), with_code=True)  # type: ignore[arg-type]


_env = Environment(loader=FileSystemLoader(PDF_ASSETS), autoescape=True, undefined=StrictUndefined)
_env.filters.update(usd=_usd)


def statement_html(statement: SettlementStatement) -> str:
    return _env.get_template(TEMPLATE).render(s=statement)


def statement_pdf(statement: SettlementStatement) -> bytes:
    return render_pdf_styled(statement_html(statement), STYLESHEET)
