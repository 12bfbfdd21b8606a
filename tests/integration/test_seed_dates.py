"""`flask seed demo` (and so `make run`) works on any date: the demo price book and agreement
take effect on 1 January 2026 or of the year it is, whichever is earlier (billing/seed.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select

from billing.agreement.models import AgreementVersion
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import Invoice
from billing.sales.models import PriceBookVersion


@pytest.fixture
def seed() -> str:
    return "reference"  # an empty platform: the command seeds it


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


@pytest.mark.parametrize(
    ("moment", "takes_effect"),
    [
        (datetime(2025, 6, 15, 8, tzinfo=UTC), "2025-01-01"),
        (datetime(2027, 3, 10, 8, tzinfo=UTC), "2026-01-01"),
    ],
)
def test_seed_demo_works_on_any_date(
    app: Flask, db: Database, clock: FrozenClock, moment: datetime, takes_effect: str
) -> None:
    clock.set(moment)
    result = run(app, "seed", "demo")
    assert result.exit_code == 0, result.output
    assert "3 demo quotes added" in result.output
    assert f"demo billing for {moment:%Y-%m}" in result.output
    with db.transaction() as s:
        (book,) = s.execute(select(PriceBookVersion)).scalars()
        (agreement,) = s.execute(select(AgreementVersion)).scalars()
        assert book.effective_from.isoformat() == agreement.effective_from.isoformat()
        assert book.effective_from.isoformat() == takes_effect
        issued = s.execute(select(Invoice).where(Invoice.status != "draft")).scalars().all()
        assert issued, result.output  # the demo's active services were billed and invoiced
