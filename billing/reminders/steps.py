"""The words of reminder steps: the standard four and filling in their placeholders (SPEC 13).

A pure module: values in, text out. A step's subject and text may use only the placeholders
below; anything else in braces is refused when the step is saved, so a reminder never goes out
with a raw `{…}` in it.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from billing.errors import N_, Text

PLACEHOLDERS = ("number", "customer", "issuer", "due_date", "amount_due", "days")


@dataclass(frozen=True, slots=True)
class StandardStep:
    offset_days: int
    subject: str
    body: str


_SIGNATURE = "\n\nKind regards,\n{issuer} Billing"

STANDARD_STEPS = (
    StandardStep(
        -3,
        "Invoice {number} is due on {due_date}",
        "Dear {customer},\n\nA friendly reminder: invoice {number} for {amount_due} is due on "
        "{due_date}, in {days} days. If you have paid it already, thank you, and please "
        "disregard this message." + _SIGNATURE,
    ),
    StandardStep(
        1,
        "Invoice {number} is now overdue",
        "Dear {customer},\n\nInvoice {number} for {amount_due} was due on {due_date} and we have "
        "not received its payment yet. Please arrange it, or tell us if something on the "
        "invoice is wrong." + _SIGNATURE,
    ),
    StandardStep(
        7,
        "Second reminder: invoice {number} is {days} days overdue",
        "Dear {customer},\n\nInvoice {number} for {amount_due} is {days} days overdue (due "
        "{due_date}). Please pay it within the next few days, quoting the invoice number."
        + _SIGNATURE,
    ),
    StandardStep(
        21,
        "Final reminder: invoice {number} is {days} days overdue",
        "Dear {customer},\n\nInvoice {number} for {amount_due} is {days} days overdue (due "
        "{due_date}). This is our final reminder before the account is reviewed under the "
        "contract's terms, which may include suspending service. Please pay it now or contact "
        "us today." + _SIGNATURE,
    ),
)


def template_problem(template: str) -> str | None:
    """Why `template` cannot be filled in, as the message shown beside its field (a sentence,
    marked for the UI's catalogs), or None."""
    try:
        parsed = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        return Text(N_("Unbalanced braces: %(problem)s."), problem=str(error))
    if any(spec or conversion for _, spec, conversion in parsed):
        return N_("Placeholders take no format: write {days}, not {days:…} or {days!r}.")
    fields = [name for name, _, _ in parsed]
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        return Text(
            N_("Unknown placeholder %(names)s; use %(placeholders)s."),
            names=", ".join("{" + f + "}" for f in unknown),
            placeholders=", ".join("{" + p + "}" for p in PLACEHOLDERS),
        )
    if any(f == "" for f in fields):
        return Text(
            N_("Empty placeholder {}: name one of %(names)s."), names=", ".join(PLACEHOLDERS)
        )
    return None


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with its placeholders filled (checked by template_problem when saved)."""
    return template.format_map({name: values.get(name, "") for name in PLACEHOLDERS})
