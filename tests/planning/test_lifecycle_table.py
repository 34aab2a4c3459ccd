"""The lifecycle table: every state reachable, final states final, errors that say where to go."""

from __future__ import annotations

import pytest

from planning.lifecycle import (
    PLAN_FINAL_STATES,
    PLAN_TRANSITIONS,
    REPLANNABLE_PLAN_STATES,
    VERSION_TRANSITIONS,
    NotReplannable,
    TransitionError,
    check_plan_transition,
    check_replan,
    check_version_transition,
)


@pytest.mark.parametrize("table", [PLAN_TRANSITIONS, VERSION_TRANSITIONS])
def test_every_target_is_a_known_state_and_every_state_is_reachable(table):
    """No transition leads to an undeclared state, and every state but the first has a way in."""
    targets = {target for allowed in table.values() for target in allowed}
    assert targets <= set(table)
    assert set(table) - targets == {"queued"}


def test_the_happy_path_is_allowed_and_final_states_are_final():
    """queued → planning → ready → approved → executing → completed; nothing leaves a final state."""
    path = ["queued", "planning", "ready", "approved", "executing", "completed"]
    for current, target in zip(path, path[1:], strict=False):
        check_plan_transition(current, target)
    assert set(PLAN_FINAL_STATES) == {"completed", "rejected", "cancelled", "failed"}
    for state in PLAN_FINAL_STATES:
        with pytest.raises(TransitionError, match="final"):
            check_plan_transition(state, "planning")


def test_a_refused_transition_names_the_current_state_and_the_allowed_ones():
    """Approving an executing plan is refused with where it is and where it may go."""
    with pytest.raises(TransitionError) as caught:
        check_plan_transition("executing", "approved")
    assert caught.value.current == "executing" and caught.value.allowed == ("completed", "cancelled")
    assert "executing" in str(caught.value) and "completed" in str(caught.value)
    with pytest.raises(TransitionError):
        check_version_transition("ready", "planning")


def test_only_a_plan_under_way_is_replanned_and_it_keeps_its_state():
    """approved and executing plans get replanned versions; the others are refused naming where they are."""
    assert REPLANNABLE_PLAN_STATES == ("approved", "executing")
    for state in REPLANNABLE_PLAN_STATES:
        check_replan(state)
        assert state not in PLAN_TRANSITIONS[state]  # no plan move: the plan stays where it is
    for state in set(PLAN_TRANSITIONS) - set(REPLANNABLE_PLAN_STATES):
        with pytest.raises(NotReplannable) as caught:
            check_replan(state)
        assert caught.value.current == state and caught.value.allowed == REPLANNABLE_PLAN_STATES
    with pytest.raises(ValueError):
        check_replan("dreaming")
