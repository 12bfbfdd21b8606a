"""Exchange rates as data (SPEC 4): the central banks' files imported, rates entered by hand,
and the rate in force on a day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.db import Database
from billing.errors import InvalidRequestError
from billing.invoicing.models import FxRateRecord
from billing.invoicing.queries import rate_on
from billing.invoicing.services import record_fx_rate

FX = Path(__file__).parents[1] / "fixtures" / "fx"
CBAR_FILE = FX / "cbar-2026-11-24.xml"
NBK_FILE = FX / "nbk-2026-11-24.xml"
DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def stored(db: Database) -> dict[tuple[str, str, str], Decimal]:
    with db.transaction() as s:
        return {
            (r.base, r.quote, r.source): r.rate for r in s.execute(select(FxRateRecord)).scalars()
        }


def audit_count(db: Database) -> int:
    with db.transaction() as s:
        return int(
            s.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity_type == "fx_rate")
            ).scalar_one()
        )


def test_importing_the_cbar_file_stores_azn_per_one_unit(app: Flask, db: Database) -> None:
    result = run(app, "fx", "import", "--source", "cbar", str(CBAR_FILE))
    assert result.exit_code == 0, result.output
    assert "6 added, 0 changed, 0 unchanged, 2 skipped" in result.output
    assert "XAU" in result.output
    rates = stored(db)
    assert rates[("USD", "AZN", "cbar")] == Decimal("1.7")
    # KZT is quoted per 100 units: one tenge is 0.3299 / 100 manat.
    assert rates[("KZT", "AZN", "cbar")] == Decimal("0.003299")
    assert rates[("IRR", "AZN", "cbar")] == Decimal("0.00004")
    assert len(rates) == 6


def test_importing_the_nbk_file_divides_by_quant(app: Flask, db: Database) -> None:
    result = run(app, "fx", "import", "--source", "nbk", str(NBK_FILE))
    assert result.exit_code == 0, result.output
    assert "NBK rates of 2026-11-24: 6 added" in result.output
    rates = stored(db)
    assert rates[("USD", "KZT", "nbk")] == Decimal("515.27")
    assert rates[("UZS", "KZT", "nbk")] == Decimal("0.0409")
    assert rates[("IRR", "KZT", "nbk")] == Decimal("0.01224")


def test_importing_the_same_file_again_changes_nothing(app: Flask, db: Database) -> None:
    assert run(app, "fx", "import", "--source", "cbar", str(CBAR_FILE)).exit_code == 0
    before, audited = stored(db), audit_count(db)
    again = run(app, "fx", "import", "--source", "cbar", str(CBAR_FILE))
    assert again.exit_code == 0, again.output
    assert "0 added, 0 changed, 6 unchanged" in again.output
    assert stored(db) == before
    assert audit_count(db) == audited


def test_a_corrected_file_updates_the_rate_and_audits_before_and_after(
    app: Flask, db: Database, tmp_path: Path
) -> None:
    assert run(app, "fx", "import", "--source", "cbar", str(CBAR_FILE)).exit_code == 0
    corrected = tmp_path / "cbar.xml"
    corrected.write_bytes(
        CBAR_FILE.read_bytes().replace(b"<Value>1.7</Value>", b"<Value>1.7025</Value>")
    )
    result = run(app, "fx", "import", "--source", "cbar", str(corrected))
    assert result.exit_code == 0, result.output
    assert "0 added, 1 changed, 5 unchanged" in result.output
    assert stored(db)[("USD", "AZN", "cbar")] == Decimal("1.7025")
    with db.transaction() as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "fx_rate.change")
        ).scalar_one()
        assert (entry.before or {})["rate"] == "1.70000000"
        assert (entry.after or {})["rate"] == "1.70250000"


@pytest.mark.parametrize(
    "content",
    [
        b"not xml at all",
        b'<ValCurs Date="24.11.2026"><ValType><Valute Code="USD"><Nominal>1</Nominal>'
        b'<Value>1.7</Value></Valute><Valute Code="EUR"><Nominal>1</Nominal>'
        b"<Value>-1</Value></Valute></ValType></ValCurs>",
        b'<ValCurs Date="24.11.2026"><ValType><Valute Code="USD"><Nominal>1</Nominal>'
        b"<Value>1e30</Value></Valute></ValType></ValCurs>",
    ],
    ids=["not-xml", "negative-rate", "too-large"],
)
def test_a_malformed_file_writes_nothing_and_exits_1(
    app: Flask, db: Database, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(content)
    result = run(app, "fx", "import", "--source", "cbar", str(bad))
    assert result.exit_code == 1
    assert "Error:" in result.output
    assert stored(db) == {}
    assert audit_count(db) == 0


def test_a_5000_digit_nominal_is_refused_in_one_short_line(
    app: Flask, db: Database, tmp_path: Path
) -> None:
    bad = tmp_path / "huge.xml"
    bad.write_bytes(
        b'<ValCurs Date="24.11.2026"><ValType><Valute Code="USD"><Nominal>'
        + b"9" * 5000
        + b"</Nominal><Value>1.7</Value></Valute></ValType></ValCurs>"
    )
    result = run(app, "fx", "import", "--source", "cbar", str(bad))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: the rate of USD is quoted per '999999999999'… (5,000")
    assert len(line) < 200
    assert stored(db) == {}


def test_a_file_of_the_other_bank_is_refused(app: Flask, db: Database) -> None:
    result = run(app, "fx", "import", "--source", "cbar", str(NBK_FILE))
    assert result.exit_code == 1
    assert "not a CBAR daily file" in result.output
    assert stored(db) == {}


def _manual(db: Database, rate: str, on: date, base: str = "USD", quote: str = "AZN") -> None:
    with db.transaction() as s:
        record_fx_rate(
            s, base=base, quote=quote, rate=Decimal(rate), on=on, actor="finance@x", now=NOW
        )


def test_rate_on_takes_the_latest_day_and_prefers_a_manual_rate(app: Flask, db: Database) -> None:
    assert run(app, "fx", "import", "--source", "cbar", str(CBAR_FILE)).exit_code == 0
    _manual(db, "1.69", date(2026, 11, 20))
    _manual(db, "1.71", date(2026, 11, 26))
    with db.transaction() as s:
        assert rate_on(s, "USD", "AZN", date(2026, 11, 19)) is None
        assert rate_on(s, "USD", "AZN", date(2026, 11, 23)).rate == Decimal("1.69")  # type: ignore[union-attr]
        on_day = rate_on(s, "USD", "AZN", DAY)
        assert on_day is not None and (on_day.rate, on_day.source) == (Decimal("1.7"), "cbar")
        assert rate_on(s, "USD", "AZN", date(2026, 11, 25)).on == DAY  # type: ignore[union-attr]
        assert rate_on(s, "USD", "AZN", date(2026, 12, 1)).rate == Decimal("1.71")  # type: ignore[union-attr]
        assert rate_on(s, "AZN", "USD", DAY) is None
    _manual(db, "1.7050", DAY)
    with db.transaction() as s:
        same_day = rate_on(s, "USD", "AZN", DAY)
        assert same_day is not None
        assert (same_day.rate, same_day.source) == (Decimal("1.705"), "manual")


def test_a_manual_rate_is_stored_and_audited(app: Flask, db: Database) -> None:
    _manual(db, "0.5882", DAY, base="AZN", quote="USD")
    assert stored(db) == {("AZN", "USD", "manual"): Decimal("0.5882")}
    with db.transaction() as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.entity_type == "fx_rate")
        ).scalar_one()
        assert (entry.action, entry.actor) == ("fx_rate.add", "finance@x")
        assert (entry.after or {})["rate"] == "0.58820000"


@pytest.mark.parametrize(
    ("base", "rate", "field"),
    [
        ("USD", "NaN", "rate"),
        ("USD", "Infinity", "rate"),
        ("USD", "0", "rate"),
        ("USD", "-1", "rate"),
        ("USD", "1e30", "rate"),
        ("USD", "0.000000001", "rate"),
        ("XYZ", "1.7", "base"),
        ("AZN", "1.7", "quote"),
    ],
)
def test_a_bad_manual_rate_is_refused_and_writes_nothing(
    app: Flask, db: Database, base: str, rate: str, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        _manual(db, rate, DAY, base=base)
    assert field in refused.value.errors
    assert stored(db) == {}
    assert audit_count(db) == 0


def test_every_rate_is_rounded_half_up_as_amounts_are(db: Database) -> None:
    """One rounding mode for rates (fx.RATE_ROUNDING, money.ROUNDING): a rate entered with more
    places than are kept, and a cross rate derived from two stored ones, both round half-up
    (1.234567885 keeps 1.23456789; half-even would keep 1.23456788)."""
    from billing.invoicing.fx import RATE_ROUNDING
    from billing.invoicing.queries import rate_between
    from billing.money import ROUNDING

    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    day = date(2026, 11, 25)
    with db.transaction() as s:
        row = record_fx_rate(
            s, base="EUR", quote="AZN", rate=Decimal("1.234567885"), on=day, actor="t", now=now
        )
        assert row.rate == Decimal("1.23456789")
        record_fx_rate(s, base="USD", quote="AZN", rate=Decimal("8"), on=day, actor="t", now=now)
        # EUR in USD via AZN: 1.23456789 / 8 = 0.15432098625 -> 0.15432099 (half-even: ...098)
        cross = rate_between(s, "EUR", "USD", day, via="AZN")
        assert cross is not None and cross.rate == Decimal("0.15432099")
    assert RATE_ROUNDING == ROUNDING == "ROUND_HALF_UP"
