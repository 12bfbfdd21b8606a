"""GET /contracts[/{number}]: what the customer signed by accepting quotes, with its services."""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import (
    ChangedPageArgsSchema,
    NoQueryArgsSchema,
    changed_since,
    page_schema,
)
from billing.api.schemas import ContractSchema, contract_json
from billing.db import Page, fetch_page
from billing.errors import NotFoundError
from billing.extensions import now, session
from billing.sales.models import Contract
from billing.sales.queries import contract_listing, get_customer_contract

blp = protected_blueprint("Contracts", __name__, "Contracts: accepted quotes and their services")

CONTRACT_NUMBER = re.compile(r"C-[0-9]{4}-[0-9]{1,12}")
ContractPageSchema = page_schema(ContractSchema, "ContractPage")


@blp.route("/contracts")
class Contracts(MethodView):
    @blp.doc(operationId="listContracts")
    @blp.arguments(ChangedPageArgsSchema, location="query")
    @blp.response(200, ContractPageSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(422, schema="Error", description="Invalid paging arguments")
    def get(self, args: dict[str, Any]) -> Page[dict[str, Any]]:
        """List your contracts, newest first, each with the services it ordered."""
        stmt = changed_since(
            contract_listing(customer_id=current_key().customer_id), Contract, args
        )
        at = now()
        page = fetch_page(session(), stmt, args["page"], args["per_page"])
        return page.map(lambda contract: contract_json(contract, at))


@blp.route("/contracts/<number>")
class ContractView(MethodView):
    @blp.doc(operationId="getContract")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, ContractSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    @blp.alt_response(404, schema="Error", description="No such contract of yours")
    def get(self, number: str) -> dict[str, Any]:
        """One of your contracts: its quote, your purchase order and its services."""
        if not CONTRACT_NUMBER.fullmatch(number):
            raise NotFoundError(f"no contract {number}")
        contract = get_customer_contract(session(), number, customer_id=current_key().customer_id)
        return contract_json(contract, now())
