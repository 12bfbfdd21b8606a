"""Long invoices: how an invoice PDF's time grows with its lines, against the floor, in one run.

Cases, run in turn in each round (after one warm-up each) so that drift hits them alike:

- **floor**: a one-paragraph document through `billing.pdf.render_pdf`, the same machinery;
- **new**: `render_invoice` on a 5-, 30- and 60-line invoice (the template and stylesheet of the
  working tree, the garbage collector paused during the render, as `billing.pdf` does);
- **new, collector running**: the same HTML and cached stylesheet, the collector left running
  (what the template change alone gives);
- **old**: the template and stylesheet of `--old-rev` (read with `git show` into a temporary
  folder), rendered the way `billing.pdf` did then: cached stylesheet, collector running;
- **bare rows**: the 60 lines' 360 cells as a table with no stylesheet at all and nothing else on
  the page, collector paused: the least a 6-column, 60-line layout costs in this WeasyPrint.

Each round runs each case as a block of renders back to back (as a worker renders a batch), the
first one untimed. Prints median milliseconds and the ratios the targets are stated in (60 lines / 5 lines and
5 lines / floor). Targets (issue 15): 60 / 5 <= 3 and 5 / floor <= 3. No database.

    .venv/bin/python bench/pdf_lines.py
    .venv/bin/python bench/pdf_lines.py --rounds 11 --old-rev 538684e
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from jinja2 import Environment, FileSystemLoader, StrictUndefined  # noqa: E402
from pdf import FLOOR_HTML, invoice  # noqa: E402  (bench/pdf.py: the same invoices and floor)

from billing.invoicing import rendering  # noqa: E402
from billing.invoicing.document import InvoiceDocument  # noqa: E402
from billing.pdf import PDF_ASSETS, _font_config, render_pdf, stylesheet  # noqa: E402

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import CSS, HTML
    from weasyprint.text import ffi as weasyprint_ffi

SIZES = (5, 30, 60)
BLOCK = 3  # timed renders of a case per round, after one untimed
Render = Callable[[], bytes]


def old_way(rev: str, folder: Path) -> Callable[[InvoiceDocument], bytes]:
    """A renderer for the invoice template and stylesheet as they were at `rev`."""
    for name in (rendering.TEMPLATE, rendering.STYLESHEET):
        text = subprocess.run(
            ["git", "show", f"{rev}:templates/pdf/{name}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (folder / name).write_text(text)
    env = Environment(loader=FileSystemLoader(folder), autoescape=True, undefined=StrictUndefined)
    env.filters.update(rendering._env.filters)
    sheet = CSS(filename=str(folder / rendering.STYLESHEET), font_config=_font_config())

    def render(document: InvoiceDocument) -> bytes:
        html = env.get_template(rendering.TEMPLATE).render(doc=document)
        pdf: bytes = HTML(string=html, base_url=f"{folder}/").write_pdf(
            stylesheets=[sheet], font_config=_font_config()
        )
        return pdf

    return render


def collector_running(document: InvoiceDocument) -> bytes:
    """The new template and cached stylesheet, rendered without pausing the collector."""
    pdf: bytes = HTML(string=rendering.invoice_html(document), base_url=f"{PDF_ASSETS}/").write_pdf(
        stylesheets=[stylesheet(rendering.STYLESHEET)], font_config=_font_config()
    )
    return pdf


def bare_rows(document: InvoiceDocument) -> Render:
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{text}</td>"
            for text in (
                line.circuit_id,
                line.description,
                rendering._period(line.period),
                rendering._quantity(line.quantity),
                rendering._money(line.unit_price),
                rendering._money(line.amount),
            )
        )
        + "</tr>"
        for line in document.lines
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rows</title></head>'
        f"<body style=\"font: 8.5pt 'DejaVu Sans', sans-serif\"><table>{cells}</table></body></html>"
    )
    return lambda: render_pdf(html)


def medians(cases: dict[str, Render], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for render in cases.values():
        assert render().startswith(b"%PDF-")
    for _ in range(rounds):
        for name, render in cases.items():
            # A worker renders invoices back to back and the collector's work depends on what
            # came before: each case runs as a block, its first render untimed, so that one
            # case's garbage is not collected on another case's clock.
            render()
            for _ in range(BLOCK):
                start = time.perf_counter()
                render()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each case")
    parser.add_argument("--old-rev", default="538684e", help="git revision of the old template")
    args = parser.parse_args()

    harfbuzz = "with" if weasyprint_ffi.harfbuzz_subset is not None else "WITHOUT"
    print(
        f"machine  {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{harfbuzz} libharfbuzz-subset, load {load_average()}, {args.rounds} rounds"
    )
    documents = {n: invoice(n) for n in SIZES}
    with tempfile.TemporaryDirectory() as folder:
        old = old_way(args.old_rev, Path(folder))
        cases: dict[str, Render] = {"floor": lambda: render_pdf(FLOOR_HTML)}
        for n, document in documents.items():
            cases[f"new {n}"] = lambda d=document: rendering.render_invoice(d)
            cases[f"new, collector running {n}"] = lambda d=document: collector_running(d)
            cases[f"old {n}"] = lambda d=document: old(d)
        cases["bare rows 60"] = bare_rows(documents[60])
        assert gc.isenabled()
        ms = medians(cases, args.rounds)

    floor = ms["floor"]
    print(f"\nmedian ms (floor {floor:.1f} ms)")
    print(f"{'':26}" + "".join(f"{f'{n} lines':>11}" for n in SIZES) + "    60/5  5/floor")
    for way in ("new", "new, collector running", "old"):
        row = "".join(f"{ms[f'{way} {n}']:11.1f}" for n in SIZES)
        five, sixty = ms[f"{way} 5"], ms[f"{way} 60"]
        print(f"{way:26}{row}  {sixty / five:6.2f}  {five / floor:7.2f}")
    print(f"{'bare rows (60 only)':26}{'':22}{ms['bare rows 60']:11.1f}")
    print(
        f"\nnew against old: 5 lines {ms['old 5'] / ms['new 5']:.2f}x, "
        f"60 lines {ms['old 60'] / ms['new 60']:.2f}x faster  (load {load_average()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
