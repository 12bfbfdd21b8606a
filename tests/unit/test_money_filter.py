"""The pages' `money` filter: Babel's format, the currency's minor unit, the configured locale,
and CLDR's space between digits and a currency written in letters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask

from billing.money import Money
from billing.web.frame import money


@pytest.fixture
def app() -> Flask:
    return Flask(__name__)


def test_amounts_print_per_their_currency(app: Flask) -> None:
    with app.app_context():
        assert money(Money(Decimal("10800"), "USD")) == "10,800.00"
        assert money(Money(Decimal("10800"), "USD"), code=True) == "$10,800.00"
        assert money(Decimal("1234.5"), "JPY") == "1,235"
        assert money(Decimal("1234.5"), "KWD", code=True) == "KWD\u00a01,234.500"
        assert money(Decimal("-5600"), "AZN", code=True) == "-AZN\u00a05,600.00"
        assert money(Decimal("1234.5"), "JPY", code=True) == "¥1,235"
        assert money(None) == "—"


def test_a_bare_amount_without_its_currency_is_a_template_error(app: Flask) -> None:
    with app.app_context(), pytest.raises(TypeError):
        money(Decimal("1"))


def test_the_configured_locale_is_used(app: Flask) -> None:
    app.config["MONEY_LOCALE"] = "de_DE"
    with app.app_context():
        assert money(Money(Decimal("10800"), "EUR"), code=True) == "10.800,00\u00a0€"


def test_the_filter_is_what_templates_call(app: Flask) -> None:
    from billing.web.frame import bp

    app.register_blueprint(bp)
    with app.app_context():
        template = app.jinja_env.from_string("{{ a | money(code=True) }} {{ b | money('JPY') }}")
        assert template.render(a=Money(Decimal("0.125"), "USD"), b=Decimal("99.5")) == "$0.13 100"
