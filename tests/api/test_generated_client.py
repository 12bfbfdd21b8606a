"""A client generated from the OpenAPI document (openapi-python-client) buys capacity against the
running app, over HTTP on loopback: quote, accept with a purchase order, read the service.

What it checks is what tripped real clients: typed nested fields (`lp.mrc.amount`, not a dict),
method names from operationIds, the documented statuses and headers.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from billing.clock import FrozenClock
from billing.db import Database
from tests import factories
from tests.factories import Price
from tests.helpers import new_customer_key

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PRICES = [
    Price("WL100G", mrc=Decimal("6000.00"), nrc=Decimal("5000.00")),
    Price("WL100G", "iru", iru_fee=Decimal("1350000.00")),
]


@pytest.fixture
def seed() -> str:
    return "reference"


@pytest.fixture(autouse=True)
def price_book(db: Database, clock: FrozenClock) -> None:
    with db.transaction() as s:
        factories.price_book_version(
            s, now=clock.now(), prices=PRICES, effective_from=date(2026, 1, 1)
        )


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """The app served by werkzeug on a free loopback port, for as long as the test runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _generate(app: Flask, where: Path, package: str) -> ModuleType:
    spec = app.test_client().get("/api/v1/openapi.json")
    assert spec.status_code == 200
    document = where / "openapi.json"
    document.write_bytes(spec.data)
    config = where / "config.yml"
    # No formatter run on the generated code; a PDF is read as bytes, as any binary body.
    config.write_text(
        "post_hooks: []\ncontent_type_overrides:\n  application/pdf: application/octet-stream\n"
    )
    result = subprocess.run(  # noqa: S603 - our own virtualenv's tool on our own document
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(where / package),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Anything the generator had to skip or guess shows as a warning: there must be none.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def client_package(app: Flask, tmp_path: Path, backend: str) -> Iterator[str]:
    package = f"tcf_client_{backend}"
    _generate(app, tmp_path, package)
    yield package
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]


def _module(package: str, name: str) -> Any:
    return importlib.import_module(f"{package}.{name}")


def test_a_generated_client_quotes_accepts_and_reads_its_service(
    app: Flask, client_package: str, base_url: str
) -> None:
    pkg = client_package
    models = _module(pkg, "models")
    client = _module(pkg, "client").AuthenticatedClient(
        base_url=base_url, token=new_customer_key(app), raise_on_unexpected_status=True
    )
    list_products = _module(pkg, "api.products.list_products")
    create_quote = _module(pkg, "api.quotes.create_quote")
    list_quotes = _module(pkg, "api.quotes.list_quotes")
    accept_quote = _module(pkg, "api.quotes.accept_quote")
    cancel_quote = _module(pkg, "api.quotes.cancel_quote")
    get_contract = _module(pkg, "api.contracts.get_contract")
    get_service = _module(pkg, "api.services.get_service")
    list_services = _module(pkg, "api.services.list_services")

    with client:
        products = list_products.sync(client=client)
        assert isinstance(products, models.ProductPage)
        wl = next(p for p in products.items if p.code == "WL100G")
        # One Model and one Protection enum wherever they appear, not one per schema.
        lease = next(lp for lp in wl.prices if lp.model == models.Model.LEASE)
        assert lease.protection in set(models.Protection)
        assert isinstance(lease.mrc, models.Money)  # typed, not a dict
        assert (lease.mrc.amount, lease.mrc.currency) == ("6000.00", "USD")
        assert lease.iru_fee is None
        assert isinstance(wl.price_book, models.PriceBookRef)

        made = create_quote.sync_detailed(
            client=client,
            body=models.QuoteRequest(
                lines=[models.LineRequest(product="WL100G", term_months=12, quantity=2)]
            ),
            idempotency_key="generated-client-1",
        )
        assert made.status_code == 201
        quote = made.parsed
        assert isinstance(quote, models.Quote)
        assert made.headers["Location"].endswith(f"/api/v1/quotes/{quote.id}")
        assert quote.lines[0].unit_price.mrc.amount == "6000.00"
        assert quote.lines[0].total.mrc.amount == "12000.00"
        assert quote.state == models.QuoteState.OPEN

        found = list_quotes.sync(client=client, number=quote.number)
        assert [q.id for q in found.items] == [quote.id]

        accepted = accept_quote.sync_detailed(
            quote.id, client=client, body=models.AcceptRequest(purchase_order="PO-2026-17")
        )
        assert accepted.status_code == 201
        contract = accepted.parsed
        assert isinstance(contract, models.Contract)
        assert contract.purchase_order == "PO-2026-17"
        assert len(contract.services) == 2
        assert get_contract.sync(contract.number, client=client).number == contract.number

        circuit = contract.services[0].circuit_id
        service = get_service.sync(circuit, client=client)
        assert isinstance(service, models.Service)
        assert service.state == models.ServiceState.PENDING
        assert service.model == models.Model.LEASE
        assert service.prices.mrc.amount == "6000.00"
        assert service.spectrum[0].state == models.SpectrumState.ALLOCATED
        pending = list_services.sync(client=client, state=models.ListServicesState.PENDING)
        assert {s.circuit_id for s in pending.items} == {s.circuit_id for s in contract.services}

        other = create_quote.sync(
            client=client,
            body=models.QuoteRequest(lines=[models.LineRequest(product="WL100G", term_months=24)]),
        )
        cancelled = cancel_quote.sync(other.id, client=client)
        assert cancelled.state == models.QuoteState.CANCELLED
        assert cancelled.lines[0].holds[0].spectrum[0].state == models.SpectrumState.RELEASED

        missing = get_contract.sync_detailed("C-2026-999999", client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Error)
