"""Invoice PDF rendering: `render_invoice` against WeasyPrint used the default way and the floor.

Measures, in one run and interleaved so that drift hits all of them alike:

- `render_invoice` (block lines, stylesheet parsed once per process, shared font configuration)
  on a 5-line and a 60-line invoice;
- the default way: a fresh `weasyprint.HTML(string=html).write_pdf()` on the very HTML the template
  produced with the stylesheet inlined in a `<style>` element ("default"; the lines have been a
  fixed-layout `<table>` since 2026-12-05, see bench/pdf_lines.py for long invoices);
- the floor: a one-paragraph document in the same font, rendered the default way.

Prints medians and ratios, then renders `--batch` five-line invoices with `render_invoices` on
every core and on one (`workers=1`, in this process) and prints the throughput ratio. Targets: the
5-line invoice at least 2x faster than the default way and at most 3x the floor; the batch near 2x
one core on 2 cores. Writes the figures to `bench/results/pdf-<time>.json` (ignored by git).

    .venv/bin/python bench/pdf.py
    .venv/bin/python bench/pdf.py --rounds 40 --batch 500
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"

from billing.calendar import Period  # noqa: E402
from billing.invoicing.document import (  # noqa: E402
    DocumentKind,
    DocumentLine,
    DocumentTax,
    InvoiceDocument,
    PartyDetails,
)
from billing.invoicing.rendering import (  # noqa: E402
    STYLESHEET,
    invoice_html,
    render_invoice,
    render_invoices,
)
from billing.money import Money  # noqa: E402
from billing.pdf import PDF_ASSETS  # noqa: E402

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import HTML

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
FLOOR_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Floor</title></head>'
    "<body style=\"font: 8.5pt 'DejaVu Sans', sans-serif\"><p>One paragraph of text, rendered by "
    "WeasyPrint the default way: the least a PDF costs.</p></body></html>"
)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def invoice(lines: int, number: int = 1) -> InvoiceDocument:
    items = tuple(
        DocumentLine(
            circuit_id=f"CKT-{n:05d}",
            description=f"Wavelength 100G Baku–Tbilisi, route {n}",
            period=NOVEMBER,
            quantity=Decimal(1),
            unit_price=usd(f"{1000 + n}.25"),
            amount=usd(f"{1000 + n}.25"),
            tax_rate_percent=Decimal(18 if n % 2 else 0),
        )
        for n in range(1, lines + 1)
    )
    taxed = sum((i.amount for i in items if i.tax_rate_percent), usd("0"))
    untaxed = sum((i.amount for i in items if not i.tax_rate_percent), usd("0"))
    tax = Money(taxed.amount * Decimal("0.18"), "USD").rounded()
    return InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number=f"AZT-INV-2026-{number:06d}",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        issuer=PartyDetails(
            "AzerTelecom Transit LLC",
            "12 Neftchilar Avenue\nBaku AZ1000",
            "AZ",
            "1403567891",
            "Kapital Bank OJSC, Baku\nIBAN AZ21NABZ00000000137010001944\nSWIFT AIIBAZ2X",
        ),
        customer=PartyDetails(
            "Caspian Carrier GmbH", "Friedrichstrasse 50\n10117 Berlin", "DE", "DE811907980"
        ),
        currency="USD",
        lines=items,
        taxes=(
            DocumentTax(Decimal(18), taxed, tax, ()),
            DocumentTax(Decimal(0), untaxed, usd("0"), ("Export of services — VAT 0%",)),
        ),
        subtotal=taxed + untaxed,
        tax_total=tax,
        total=taxed + untaxed + tax,
        amount_due=taxed + untaxed + tax,
        period=NOVEMBER,
        purchase_orders=("PO-77120",),
        pay_link="https://pay.example.test/i/1",
    )


STYLE = (PDF_ASSETS / STYLESHEET).read_text()


def default_html(document: InvoiceDocument) -> str:
    """The template's HTML with its stylesheet inline: what a plain WeasyPrint call renders."""
    return invoice_html(document).replace("</head>", f"<style>{STYLE}</style></head>", 1)


def plain(html: str) -> Callable[[], bytes]:
    def render() -> bytes:
        pdf: bytes = HTML(string=html, base_url=f"{PDF_ASSETS}/").write_pdf()
        return pdf

    return render


def medians(cases: dict[str, Callable[[], bytes]], rounds: int) -> dict[str, float]:
    """Median seconds per case; the cases run in turn, `rounds` times, after one warm-up each."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for render in cases.values():
        render()
    for _ in range(rounds):
        for name, render in cases.items():
            start = time.perf_counter()
            render()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed renders of each 5-line case")
    parser.add_argument("--long-rounds", type=int, default=8, help="... of each 60-line case")
    parser.add_argument("--batch", type=int, default=500, help="invoices in the batch phase")
    args = parser.parse_args()

    print(
        f"machine    {os.cpu_count()} CPUs, Python {platform.python_version()}, load {load_average()}"
    )
    short, long = invoice(5), invoice(60)
    ms: dict[str, dict[str, float]] = {}
    for label, document, rounds in (
        ("5-line", short, args.rounds),
        ("60-line", long, args.long_rounds),
    ):
        found = medians(
            {
                "render_invoice": partial(render_invoice, document),
                "default": plain(default_html(document)),
                "floor": plain(FLOOR_HTML),
            },
            rounds,
        )
        ms[label] = {name: round(seconds * 1000, 1) for name, seconds in found.items()}
        floor = found["floor"]
        print(f"\n{label} invoice, median of {rounds} renders")
        for name, seconds in found.items():
            speedup = (
                ""
                if name == "render_invoice" or name == "floor"
                else (f"   {seconds / found['render_invoice']:.2f}x slower than render_invoice")
            )
            print(f"  {name:16} {seconds * 1000:7.1f}   {seconds / floor:5.2f}x floor{speedup}")

    documents = [replace(short, number=f"AZT-INV-2026-{n:06d}") for n in range(1, args.batch + 1)]
    batch: dict[str, float] = {}
    for name, workers in (("all cores", None), ("one core", 1)):
        start = time.perf_counter()
        pdfs = render_invoices(documents, workers=workers)
        elapsed = time.perf_counter() - start
        assert len(pdfs) == len(documents) and all(p.startswith(b"%PDF-") for p in pdfs)
        batch[name] = len(documents) / elapsed
        print(f"\nbatch {args.batch}, {name:9}  {elapsed:6.1f} s   {batch[name]:6.1f} PDFs/s")
    ratio = batch["all cores"] / batch["one core"]
    print(f"batch throughput, all cores / one core: {ratio:.2f}x  (load {load_average()})")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"pdf-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(
        json.dumps({"ms": ms, "batch_pdfs_per_s": batch, "batch_ratio": ratio}, indent=2)
    )
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
