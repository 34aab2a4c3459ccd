"""The plan lifecycle: every state and every allowed transition, in one table.

A plan (what other layers see) moves `queued → planning → ready → approved → executing →
completed`, or ends `rejected`, `cancelled` or `failed`. A plan *version* (what the
pipeline makes) moves `queued → planning → ready`, or ends `failed` / `cancelled`, and
becomes `superseded` when a later version replaces it. Nothing else may change a state:
callers ask `check_plan_transition` / `check_version_transition` first, and the API turns
the error into a 409 naming the current state and the allowed ones.
"""

from __future__ import annotations

PLAN_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("planning", "failed", "cancelled"),
    "planning": ("ready", "approved", "failed", "cancelled"),  # approved: auto-approval at the end of planning
    "ready": ("approved", "rejected", "cancelled"),
    "approved": ("executing", "cancelled"),
    "executing": ("completed", "cancelled"),
    "completed": (),
    "rejected": (),
    "cancelled": (),
    "failed": (),
}
PLAN_STATES = tuple(PLAN_TRANSITIONS)
PLAN_FINAL_STATES = tuple(state for state, targets in PLAN_TRANSITIONS.items() if not targets)

VERSION_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("planning", "failed", "cancelled"),
    "planning": ("ready", "failed", "cancelled"),
    "ready": ("superseded",),
    "failed": (),
    "cancelled": (),
    "superseded": (),
}
VERSION_STATES = tuple(VERSION_TRANSITIONS)
# A version in one of these has no stage left to run: the pipeline stops on sight of them.
VERSION_DONE_STATES = ("ready", "failed", "cancelled", "superseded")


# Replanning writes a later version of a plan without moving the plan: only a plan under way (approved, or
# executing) is replanned, and it stays where it is (on its old baseline) until that version is approved, which
# moves the baseline and leaves the plan in its state. A ready plan is decided on first (approve or reject).
REPLANNABLE_PLAN_STATES: tuple[str, ...] = ("approved", "executing")


class TransitionError(ValueError):
    """A state change the table does not allow; says where the thing is and where it may go."""

    def __init__(self, kind: str, current: str, target: str, allowed: tuple[str, ...]):
        self.kind, self.current, self.target, self.allowed = kind, current, target, allowed
        where = ", ".join(allowed) if allowed else "nowhere (it is final)"
        super().__init__(f"a {kind} that is {current} cannot become {target}; from {current} it may go to {where}")


def _check(kind: str, table: dict[str, tuple[str, ...]], current: str, target: str) -> None:
    if current not in table:
        raise ValueError(f"unknown {kind} state {current!r}")
    if target not in table[current]:
        raise TransitionError(kind, current, target, table[current])


def check_plan_transition(current: str, target: str) -> None:
    _check("plan", PLAN_TRANSITIONS, current, target)


def check_version_transition(current: str, target: str) -> None:
    _check("plan version", VERSION_TRANSITIONS, current, target)


class NotReplannable(ValueError):
    """A replan asked of a plan that is not under way; says where it is and which states can be replanned."""

    def __init__(self, current: str):
        self.current, self.allowed = current, REPLANNABLE_PLAN_STATES
        super().__init__(f"a plan that is {current} cannot be replanned; only a plan that is "
                         f"{' or '.join(REPLANNABLE_PLAN_STATES)} can")


def check_replan(current: str) -> None:
    """A plan in `current` may get a replanned version (NotReplannable otherwise)."""
    if current not in PLAN_TRANSITIONS:
        raise ValueError(f"unknown plan state {current!r}")
    if current not in REPLANNABLE_PLAN_STATES:
        raise NotReplannable(current)
