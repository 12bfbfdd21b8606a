"""The audit log in words (SPEC 10): a table of entries and the sentences they read as, actors
as names, an unknown action or an odd snapshot still a sentence, and every action the code
records has its own sentence (a new one without a sentence fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from billing.inventory.models import ReservationKind
from billing.mail.models import KINDS as MAIL_KINDS
from billing.outbound.models import FAILED, SUCCEEDED
from billing.reports.words import SENTENCES, Entry, Names, actor_words, describe
from billing.sales.lifecycle import ALLOWED, DATED_ACTIONS

BILLING = Path(__file__).resolve().parents[2] / "billing"
AYSEL = "aysel@azertelecom.az (finance, AZT)"
NAMES = Names(
    people={"aysel@azertelecom.az": "Aysel Mammadova (AZT finance)"},
    entities={
        ("invoice", "12"): "invoice AZT-INV-2026-000012",
        ("payment", "7"): "the payment of USD 5,600.00 from Silk Route Carrier GmbH",
        ("customer", "3"): "customer Silk Route Carrier GmbH",
        ("settlement_statement", "2"): "the settlement statement of November 2026 (invoiced)",
        ("contract", "4"): "contract C-2026-000004",
        ("quote", "5"): "quote Q-2026-000005",
    },
    customers={3: "Silk Route Carrier GmbH"},
    parties={1: "AZT", 2: "KTC"},
)

EXAMPLES = [
    (
        Entry(AYSEL, "invoice.issue", "invoice", "12", None,
              {"number": "AZT-INV-2026-000012", "total": "5600.00", "currency": "USD"}),
        "Aysel Mammadova (AZT finance) issued invoice AZT-INV-2026-000012 for USD 5,600.00.",
    ),
    (
        Entry(AYSEL, "payment.record", "payment", "7", None,
              {"customer": "Silk Route Carrier GmbH", "issuer": "AZT", "amount": "5600.00",
               "currency": "USD", "value_date": "2026-11-20", "reference": "X1", "applied": "0"}),
        "Aysel Mammadova (AZT finance) recorded a bank payment of USD 5,600.00 from Silk Route "
        "Carrier GmbH, value date 2026-11-20.",
    ),
    (
        Entry("sales@azertelecom.az (sales, AZT)", "customer.update", "customer", "3",
              {"payment_terms_days": 30, "country": "DE"},
              {"payment_terms_days": 45, "country": "DE"}),
        "sales@azertelecom.az (AZT sales) changed customer Silk Route Carrier GmbH: payment "
        "terms from 30 to 45 days.",
    ),
    (
        Entry(AYSEL, "payment.apply", "invoice", "12", None,
              {"payment": 7, "amount": "100.00", "currency": "USD"}),
        "Aysel Mammadova (AZT finance) applied USD 100.00 of the payment of USD 5,600.00 from "
        "Silk Route Carrier GmbH to invoice AZT-INV-2026-000012.",
    ),
    (
        Entry(AYSEL, "invoice.credit", "invoice", "12", None,
              {"credit_note": "AZT-CN-2026-000001", "total": "-600.00", "currency": "USD",
               "reason": "outage"}),
        "Aysel Mammadova (AZT finance) credited invoice AZT-INV-2026-000012 with credit note "
        "AZT-CN-2026-000001 for USD -600.00 (reason: “outage”).",
    ),
    (
        Entry(AYSEL, "settlement.approved", "settlement_statement", "2", None,
              {"approved_for": "AZT"}),
        "Aysel Mammadova (AZT finance) approved the settlement statement of November 2026 "
        "(invoiced) for AZT.",
    ),
    (
        Entry("system", "service.scheduled_date", "service", "TCF-WL-000001",
              {"state": "pending"}, {"state": "active"}),
        "The platform moved service TCF-WL-000001 from pending to active on its scheduled date.",
    ),
    (
        Entry("api key tcf_ab12… (Silk Route Carrier GmbH)", "quote.create", "quote", "5"),
        "The API key tcf_ab12… of Silk Route Carrier GmbH made quote Q-2026-000005.",
    ),
    (
        Entry("Stripe webhook", "payment.record", "payment", "7", None,
              {"invoice": "AZT-INV-2026-000012", "amount": "50.00", "currency": "EUR",
               "value_date": "2026-11-21", "state": "flagged",
               "flag_reason": "the invoice is in USD"}),
        "Stripe, by webhook, recorded a card payment of EUR 50.00 for invoice "
        "AZT-INV-2026-000012, value date 2026-11-21, flagged for review (reason: “the invoice "
        "is in USD”).",
    ),
    (
        Entry("seed", "seed.demo", "system", "demo", None, {"users_added": 6}),
        "The demo data set-up loaded the demo data (6 users added).",
    ),
    (
        Entry("job: month-end", "billing_run.finish", "billing_run", "9", None,
              {"charges": 40, "invoices": 12, "issued": 12}),
        "The month-end job finished billing run 9: 40 charges on 12 invoices, 12 issued.",
    ),
    (
        Entry("sales@azertelecom.az (sales, AZT)", "spectrum.extend", "spectrum_reservation", "3",
              {"hold_until": "2026-12-01T09:00:00+00:00"},
              {"hold_until": "2026-12-09T09:00:00+00:00"}),
        "sales@azertelecom.az (AZT sales) extended spectrum reservation 3 until 2026-12-09 09:00 "
        "UTC.",
    ),
    (
        Entry(AYSEL, "billing_run.start", "billing_run", "9", None,
              {"period": "2026-11", "issuer": "all", "issue": True}),
        "Aysel Mammadova (AZT finance) started the billing run of November 2026 for every "
        "issuer, issuing its drafts.",
    ),
    (
        Entry("login from 10.0.0.9", "user.login_throttled", "user", "x@y.z", None,
              {"email": "x@y.z"}),
        "A login attempt from 10.0.0.9 was refused: too many logins for x@y.z.",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "sentence"), EXAMPLES, ids=[e.action for e, _ in EXAMPLES])
def test_an_entry_reads_as_a_sentence_with_names(entry: Entry, sentence: str) -> None:
    assert describe(entry, NAMES) == sentence


def test_actors_read_as_people_or_machines() -> None:
    assert actor_words(AYSEL, NAMES) == "Aysel Mammadova (AZT finance)"
    assert actor_words("portal kim@silk.example", NAMES) == "kim@silk.example (portal)"
    assert actor_words("contact ap@silk.example", NAMES) == "The billing contact ap@silk.example"
    assert actor_words("job:render_documents", NAMES) == "The render documents job"
    assert actor_words("schedule: fx import", NAMES) == "The scheduled fx import"
    assert actor_words("", NAMES) == "Someone"


def test_an_unknown_action_or_an_odd_snapshot_is_still_a_sentence() -> None:
    unknown = Entry(AYSEL, "invoice.frobnicate", "invoice", "12", None, {"x": {"y": [1]}})
    said = describe(unknown, NAMES)
    assert said == "Aysel Mammadova (AZT finance) did “frobnicate” on invoice AZT-INV-2026-000012."
    assert "{" not in said
    # A snapshot whose values are not what the sentence expects: a sentence, no traceback.
    odd = Entry(AYSEL, "invoice.issue", "invoice", "99", None, {"total": "n/a", "currency": 5})
    assert describe(odd, NAMES) == "Aysel Mammadova (AZT finance) issued invoice 99 for n/a 5."
    broken = Entry(AYSEL, "quote.accept", "quote", "5", None, {"services": 7})
    assert describe(broken, NAMES) == (
        "Aysel Mammadova (AZT finance) did “accept” on quote Q-2026-000005."
    )


# The action names built from a value at run time, and every value they take.
DYNAMIC = {
    "service.{action}": {
        *(f"service.{a}" for moves in ALLOWED.values() for a in moves),
        *(f"service.{a}_scheduled" for a in DATED_ACTIONS),
    },
    "spectrum.{kind}": {f"spectrum.{k.value}" for k in ReservationKind},
    "mail.{mail.kind}": {f"mail.{kind}" for kind in MAIL_KINDS},
    "webhook_delivery.{status}": {f"webhook_delivery.{s}" for s in (FAILED, SUCCEEDED)},
    # An SLA decision (billing/sla: its CHECK sla_decision_kind).
    "sla_credit.{kind}": {"sla_credit.waive", "sla_credit.grant"},
}
_ACTION_LINE = re.compile(r"\baction=(.+)$", re.MULTILINE)
_LITERAL = re.compile(r'(f?)"([a-z_]+\.[a-z_{}.]+)"')


def actions_in_code() -> set[str]:
    """Every action name `record(..., action=...)` is given anywhere in billing/."""
    found: set[str] = set()
    for path in BILLING.rglob("*.py"):
        for expression in _ACTION_LINE.findall(path.read_text(encoding="utf-8")):
            for f, name in _LITERAL.findall(expression):
                if f:
                    assert name in DYNAMIC, f"{path}: a new action pattern {name}: list it here"
                    found |= DYNAMIC[name]
                else:
                    found.add(name)
    return found


def test_every_action_the_code_records_has_a_sentence() -> None:
    actions = actions_in_code()
    assert {"invoice.issue", "payment.record", "service.activate", "spectrum.own_use"} <= actions
    missing = sorted(actions - set(SENTENCES))
    assert not missing, f"give these actions a sentence in billing/reports/words.py: {missing}"
