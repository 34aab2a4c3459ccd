"""The mitigation catalogue: what each response is, and what applying it would change.

Rules name catalogue keys; `recommend` turns them into `Recommendation`s whose `changes`
text is filled in with the risk's own figures (task names, hours, resource), so a reader
sees the concrete change and its price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planning.risk.model import Recommendation


@dataclass(frozen=True)
class Mitigation:
    key: str
    title: str
    changes: str  # a template over the rule's `details`; missing names fall back to "the plan"
    lowers: str  # "probability", "impact" or "both"


CATALOGUE: dict[str, Mitigation] = {
    m.key: m
    for m in (
        Mitigation("add_buffer", "Add a time buffer",
                   "adds a buffer of about {buffer_hours} working hours before the deadline milestone; "
                   "the planned finish moves later and the chance of missing the deadline falls", "probability"),
        Mitigation("fast_track", "Fast-track dependent work",
                   "overlaps finish-to-start links on the critical path ({tasks}) as start-to-start with a lag; "
                   "the critical path shortens, rework risk rises", "probability"),
        Mitigation("crash", "Crash with more resources",
                   "adds units of {resource} to critical tasks ({tasks}); their durations shorten, cost rises",
                   "probability"),
        Mitigation("spike", "Spike or prototype first",
                   "adds a short time-boxed prototype before {tasks}; their pessimistic estimates narrow, "
                   "a few hours are spent up front", "probability"),
        Mitigation("split_work", "Split large or coupled work",
                   "decomposes {tasks} into smaller tasks with their own checkpoints; estimates narrow and "
                   "problems show earlier, the network grows", "probability"),
        Mitigation("fallback_supplier", "Line up a fallback supplier",
                   "names an alternative provider for {tasks}; a supplier failure costs a switch, not the plan; "
                   "costs contract effort now", "impact"),
        Mitigation("early_integration_test", "Integrate and test early",
                   "moves an end-to-end integration test of {tasks} to the first phase (a walking skeleton); "
                   "interface defects surface while there is float to fix them", "both"),
        Mitigation("backup_resource", "Cross-train a backup",
                   "gives {resource} a second qualified person; the single point of failure on {tasks} goes, "
                   "training hours are added", "impact"),
        Mitigation("increase_capacity", "Acquire more capacity",
                   "requests more units of {resource} from Layer 8 for {tasks}; the shortfall or queue goes, "
                   "cost rises", "probability"),
        Mitigation("rebalance_load", "Rebalance the load",
                   "moves non-critical tasks on {resource} into their float or to another pool; "
                   "peak demand falls, some tasks finish later", "probability"),
        Mitigation("expert_review", "Schedule an expert review",
                   "adds a review and sign-off task for {tasks} before release; findings come early, "
                   "adds reviewer hours", "probability"),
        Mitigation("rehearse_rollback", "Rehearse with a rollback plan",
                   "adds a dress rehearsal and a tested rollback for {tasks} before they run for real; a failure "
                   "can be undone, rehearsal hours are added", "impact"),
        Mitigation("early_signoff", "Secure sign-offs early",
                   "adds an approval milestone with named approvers and dates ahead of {tasks}; a late or refused "
                   "sign-off shows while there is float", "probability"),
        Mitigation("reduce_scope", "Reduce or phase the scope",
                   "moves optional work to a later phase; the critical path and the cost shrink, "
                   "fewer outcomes in this plan", "both"),
        Mitigation("renegotiate_target", "Renegotiate the deadline or budget",
                   "moves the target to {target}; the plan becomes achievable as it stands", "probability"),
    )
}


class _Details(dict[str, Any]):
    """Format mapping that leaves unknown placeholders readable instead of raising."""

    def __missing__(self, key: str) -> str:
        if key == "buffer_hours":
            return "8"  # a working day, when the rule had no figure of its own
        return "the plan" if key == "tasks" else f"the {key.replace('_', ' ')}"


def recommend(keys: tuple[str, ...], details: dict[str, Any]) -> tuple[Recommendation, ...]:
    """Recommendations for catalogue `keys`, with `details` (tasks, resource, ...) filled in."""
    values = _Details(details)
    return tuple(
        Recommendation(key, CATALOGUE[key].title, CATALOGUE[key].changes.format_map(values)) for key in keys
    )


def describe_tasks(task_ids: list[str] | tuple[str, ...], limit: int = 5) -> str:
    """'a, b, c' or 'a, b, c and 4 more' for texts."""
    shown = ", ".join(task_ids[:limit])
    extra = len(task_ids) - limit
    return f"{shown} and {extra} more" if extra > 0 else shown


def count(number: int, noun: str) -> str:
    """'1 task', '3 tasks'."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
