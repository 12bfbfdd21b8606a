"""The import-linter contracts (pyproject.toml, run by `make test`) name every module there
is: a module left out of a contract is a module nothing checks. `lint-imports` checks
the imports; this checks that the contracts keep up with billing/ as modules are added."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BILLING = ROOT / "billing"
# The edges: HTTP and the command line are their business.
EDGES = {"api", "web", "cli", "jobs", "extensions", "http_errors", "http_headers", "logs"}
EDGES |= {"input_guard", "cli_errors"}  # cli_errors: the CLI's one-line failures (flask)
# What every area of the web / every resource of the API may import (see the contracts' comments).
WEB_FRAME = {"__init__", "auth", "forms", "frame", "language"}
API_FRAME = {"__init__", "auth", "common", "contract", "fields", "idempotency", "schemas"}


def contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = config["tool"]["importlinter"]["contracts"]
    return {c["name"]: c for c in listed}


def top_level() -> set[str]:
    """billing's modules and packages: `money`, `invoicing`, … (not `__init__`)."""
    modules = {p.stem for p in BILLING.glob("*.py") if p.stem != "__init__"}
    return modules | {p.name for p in BILLING.iterdir() if (p / "__init__.py").exists()}


def modules_of(package: str) -> set[str]:
    return {p.stem for p in (BILLING / package).glob("*.py")}


def layer_names() -> tuple[set[str], set[str]]:
    """(named, optional): every name of the layers contract, and those in parentheses."""
    named: set[str] = set()
    optional: set[str] = set()
    for layer in contracts()["Layers point down only"]["layers"]:
        for part in layer.split("|"):
            name = part.strip()
            if name.startswith("("):
                name = name.strip("()")
                optional.add(name)
            named.add(name)
    return named, optional


def test_every_module_of_billing_is_in_a_layer() -> None:
    named, _ = layer_names()
    missing = sorted(top_level() - named)
    assert not missing, f"add to the layers contract in pyproject.toml: {missing}"


def test_only_a_package_that_does_not_exist_is_an_optional_layer() -> None:
    _, optional = layer_names()
    existing = sorted(optional & top_level())
    assert not existing, f"these exist: name them without parentheses: {existing}"


def test_every_business_module_is_forbidden_http() -> None:
    contract = contracts()["Business packages know nothing of HTTP"]
    sources = {s.removeprefix("billing.") for s in contract["source_modules"]}
    missing = sorted(top_level() - EDGES - sources)
    assert not missing, f"add to 'Business packages know nothing of HTTP': {missing}"
    assert {"payments", "settlement", "clock"} <= sources


def test_every_web_area_and_api_resource_is_in_its_independence_contract() -> None:
    for package, frame, name in (
        ("web", WEB_FRAME, "Web areas share only the web frame, never each other"),
        ("api", API_FRAME, "API resources share only the API frame, never each other"),
    ):
        listed = {m.removeprefix(f"billing.{package}.") for m in contracts()[name]["modules"]}
        areas = modules_of(package) - frame
        assert listed == areas, (
            f"{name}: list {sorted(areas - listed)}; drop {sorted(listed - areas)} (or, if a "
            f"module is shared frame, say so in the contract's comment and in this test)"
        )
