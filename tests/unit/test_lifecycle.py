"""The service lifecycle's transition rules (SPEC 3), without a database.

pending → active → suspended ⇄ active → terminated; any live state may be terminated.
"""

from __future__ import annotations

import itertools

import pytest

from billing.sales.lifecycle import ALLOWED, actions_for
from billing.sales.models import ServiceState

PENDING, ACTIVE, SUSPENDED, TERMINATED = (
    ServiceState.PENDING,
    ServiceState.ACTIVE,
    ServiceState.SUSPENDED,
    ServiceState.TERMINATED,
)
# Every (state, action) a service may take, and where it lands: written out, not derived.
EXPECTED = {
    (PENDING, "activate"): ACTIVE,
    (PENDING, "terminate"): TERMINATED,
    (ACTIVE, "suspend"): SUSPENDED,
    (ACTIVE, "terminate"): TERMINATED,
    (SUSPENDED, "resume"): ACTIVE,
    (SUSPENDED, "terminate"): TERMINATED,
}
ACTIONS = ("activate", "suspend", "resume", "terminate")


def _to(state: str, action: str) -> str | None:
    return ALLOWED.get(state, {}).get(action)


def test_every_state_has_its_rules() -> None:
    assert set(ALLOWED) == set(ServiceState)


@pytest.mark.parametrize(("state", "action"), list(EXPECTED))
def test_an_allowed_action_moves_the_service_to_its_next_state(state: str, action: str) -> None:
    assert _to(state, action) == EXPECTED[state, action]
    assert action in actions_for(state)


@pytest.mark.parametrize(
    ("state", "action"),
    [pair for pair in itertools.product(ServiceState, ACTIONS) if pair not in EXPECTED],
)
def test_any_other_action_is_refused(state: str, action: str) -> None:
    assert _to(state, action) is None
    assert action not in actions_for(state)


def test_the_actions_offered_are_those_allowed_and_nothing_else() -> None:
    assert actions_for(PENDING) == ["activate", "terminate"]
    assert actions_for(ACTIVE) == ["suspend", "terminate"]
    assert actions_for(SUSPENDED) == ["resume", "terminate"]
    assert actions_for(TERMINATED) == []
    assert actions_for("dormant") == []  # a state the rules do not know offers nothing


def test_a_terminated_service_is_final_and_nothing_returns_to_pending() -> None:
    assert ALLOWED[TERMINATED] == {}
    assert PENDING not in {to for moves in ALLOWED.values() for to in moves.values()}


def test_every_live_state_can_be_terminated() -> None:
    for state in (PENDING, ACTIVE, SUSPENDED):
        assert _to(state, "terminate") == TERMINATED


def test_only_activation_starts_a_service_and_only_resume_restarts_one() -> None:
    into_active = {(state, action) for (state, action), to in EXPECTED.items() if to == ACTIVE}
    assert into_active == {(PENDING, "activate"), (SUSPENDED, "resume")}
    assert {
        (state, action)
        for state, moves in ALLOWED.items()
        for action, to in moves.items()
        if to == ACTIVE
    } == into_active
