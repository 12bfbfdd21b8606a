"""The app a worker subprocess of tests/integration/test_rendering_jobs.py serves: its renders
write RENDER_MARKER when they start and take RENDER_SLEEP seconds, so that the test can SIGKILL
the worker while a render is under way."""

import os
import time
from pathlib import Path

from billing import create_app
from billing.invoicing.document import InvoiceDocument
from billing.invoicing.rendering import render_invoice
from billing.jobs import documents

app = create_app()


def _slow_render(document: InvoiceDocument) -> bytes:
    Path(os.environ["RENDER_MARKER"]).write_text("rendering")
    time.sleep(float(os.environ.get("RENDER_SLEEP", "60")))
    return render_invoice(document)


documents.render_invoice = _slow_render  # type: ignore[assignment]
