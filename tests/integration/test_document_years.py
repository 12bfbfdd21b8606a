"""The year in a quote's and a contract's number is the selling party's own (issue 14): at
21:00 UTC on 31 December it is already 1 January in Baku (UTC+4), so an AZT quote made then is
of the new year, while the UTC date still says the old one."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.db import Database
from billing.sales.models import Quote
from billing.sales.quotes import accept_quote
from tests import factories

NEW_YEAR_IN_BAKU = datetime(2026, 12, 31, 21, 0, tzinfo=UTC)  # 01:00 on 1 January 2027 in Baku
STILL_2026_IN_BAKU = datetime(2026, 12, 31, 19, 30, tzinfo=UTC)  # 23:30 on 31 December


def test_quote_and_contract_numbers_carry_the_selling_partys_year(db: Database) -> None:
    with db.transaction() as s:
        customer = factories.customer(s, now=NEW_YEAR_IN_BAKU, owner="AZT")
        offer = factories.quote(s, now=NEW_YEAR_IN_BAKU, customer=customer)
        contract = accept_quote(
            s, offer.id, seller=factories.party_seller(s, "AZT"), now=NEW_YEAR_IN_BAKU
        )
        assert offer.number.startswith("Q-2027-"), offer.number
        assert contract.number.startswith("C-2027-"), contract.number


def test_an_hour_before_midnight_in_baku_the_numbers_are_still_of_the_old_year(
    db: Database,
) -> None:
    with db.transaction() as s:
        customer = factories.customer(s, now=STILL_2026_IN_BAKU, owner="AZT")
        offer: Quote = factories.quote(s, now=STILL_2026_IN_BAKU, customer=customer)
        contract = accept_quote(
            s, offer.id, seller=factories.party_seller(s, "AZT"), now=STILL_2026_IN_BAKU
        )
        assert offer.number.startswith("Q-2026-") and contract.number.startswith("C-2026-")
