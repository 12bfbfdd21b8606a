"""GET /balance: the calling customer's credit balance (SPEC 9).

Money paid beyond what its invoices asked, not yet applied nor refunded, is kept as credit with
the issuer that received it, in its currency, and applied to that issuer's next invoices. The
answer gives it per currency, and per issuer and currency.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from billing.api.auth import current_key, protected_blueprint
from billing.api.common import MoneySchema, NoQueryArgsSchema
from billing.extensions import session
from billing.money import Money
from billing.payments.queries import credit_balances

blp = protected_blueprint(
    "Balance", __name__, "Your credit balance: payments kept to be applied to your next invoices"
)


class IssuerCreditSchema(Schema):
    issuer = fields.String(
        required=True,
        metadata={"description": "The party that holds the credit (AZT, KTC)", "example": "AZT"},
    )
    credit = fields.Nested(
        MoneySchema, required=True, metadata={"description": "Credit with this issuer"}
    )


class BalanceSchema(Schema):
    credit = fields.List(
        fields.Nested(MoneySchema),
        required=True,
        metadata={"description": "Credit per currency, all issuers together; empty when none"},
    )
    by_issuer = fields.List(
        fields.Nested(IssuerCreditSchema),
        required=True,
        metadata={
            "description": "Credit per issuer and currency: each issuer applies its own to its "
            "own invoices"
        },
    )


def balance_json(customer_id: int) -> dict[str, Any]:
    rows = credit_balances(session(), customer_id)
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        per_currency[row.balance.currency] += row.balance.amount
    return {
        "credit": [Money(amount, cur).as_json() for cur, amount in sorted(per_currency.items())],
        "by_issuer": [
            {"issuer": row.issuer, "credit": row.balance.as_json()}
            for row in sorted(rows, key=lambda r: (r.issuer, r.balance.currency))
        ],
    }


@blp.route("/balance")
class BalanceView(MethodView):
    @blp.doc(operationId="getBalance")
    @blp.arguments(NoQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, BalanceSchema)
    @blp.alt_response(400, schema="Error", description="An unknown query parameter")
    @blp.alt_response(401, schema="Error", description="Missing or invalid API key")
    def get(self) -> dict[str, Any]:
        """Your credit balance, per currency and per issuer: what is kept to pay your next
        invoices."""
        return balance_json(current_key().customer_id)
