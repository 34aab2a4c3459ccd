"""What changed between two plan documents (two versions of a plan, docs/plan-format.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planning.progress.errors import ProgressError


def diff_plans(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Tasks added, removed and changed (shifts in working hours), and the plan-level deltas."""
    old, new = _tasks(before, "before"), _tasks(after, "after")
    old_pools, new_pools = _pools(before), _pools(after)
    old_costs, new_costs = _costs(before), _costs(after)
    changed = []
    for task_id, task in new.items():
        if task_id not in old:
            continue
        was = old[task_id]
        entry = {
            "id": task_id,
            "name": task.get("name"),
            "start_shift_hours": _minus(task.get("start_hour"), was.get("start_hour")),
            "finish_shift_hours": _minus(task.get("finish_hour"), was.get("finish_hour")),
            "duration_change_hours": _minus(_duration(task), _duration(was)),
            "start": {"before": was.get("start"), "after": task.get("start")},
            "finish": {"before": was.get("finish"), "after": task.get("finish")},
            "resources": {"before": was.get("resources") or {}, "after": task.get("resources") or {}},
            "pools": {"before": old_pools.get(task_id, []), "after": new_pools.get(task_id, [])},
            "cost": _delta(old_costs.get(task_id, 0.0), new_costs.get(task_id, 0.0), digits=2),
        }
        what = [name for name in ("start", "finish") if was.get(f"{name}_hour") != task.get(f"{name}_hour")]
        what += [name for name in ("resources", "pools", "cost") if entry[name]["before"] != entry[name]["after"]]
        if what:
            changed.append({"id": task_id, "changed": what, **{k: v for k, v in entry.items() if k != "id"}})

    notes = []
    if before.get("project_start") != after.get("project_start"):
        notes.append(f"project_start moved from {before.get('project_start')} to {after.get('project_start')}: "
                     "hours count from each plan's own start, so shifts in hours are not shifts in dates")
    cost_before, cost_after = before.get("cost") or {}, after.get("cost") or {}
    cost_total = _delta(cost_before.get("total"), cost_after.get("total"), digits=2)
    if cost_before.get("currency") != cost_after.get("currency"):
        cost_total["delta"] = None  # no exchange rates here
        notes.append(f"the currency changed from {cost_before.get('currency')} to {cost_after.get('currency')}: "
                     "cost totals are not comparable")
    cost_total["currency"] = cost_after.get("currency")
    path_before, path_after = list(before.get("critical_path") or []), list(after.get("critical_path") or [])
    return {
        "tasks_added": [task_id for task_id in new if task_id not in old],
        "tasks_removed": [task_id for task_id in old if task_id not in new],
        "tasks_changed": changed,
        "makespan_hours": _delta(before.get("makespan_hours"), after.get("makespan_hours")),
        "finish": {"before": before.get("finish"), "after": after.get("finish")},
        "cost_total": cost_total,
        "p80_hours": _delta(_p80(before), _p80(after)),
        "critical_path": {"before": path_before, "after": path_after,
                          "joined": [t for t in path_after if t not in path_before],
                          "left": [t for t in path_before if t not in path_after]},
        "notes": notes,
    }


def _tasks(doc: Mapping[str, Any], which: str) -> dict[str, Mapping[str, Any]]:
    """Tasks by id, in document order; errors name `before.tasks[i].id` and the like."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tasks"), list):
        raise ProgressError(f"{which} is not a plan document with a task list", f"{which}.tasks")
    tasks: dict[str, Mapping[str, Any]] = {}
    for index, task in enumerate(doc["tasks"]):
        task_id = task.get("id") if isinstance(task, Mapping) else None
        if not isinstance(task_id, str) or not task_id or task_id in tasks:
            raise ProgressError(f"task ids must be unique non-empty strings, got {task_id!r}",
                                f"{which}.tasks[{index}].id")
        tasks[task_id] = task
    return tasks


def _pools(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """The pools serving each task (a substitute shows here when it replaces the requested type)."""
    pools: dict[str, set[str]] = {}
    for row in doc.get("allocations") or []:
        pools.setdefault(row.get("task_id"), set()).add(row.get("resource"))
    return {task_id: sorted(names) for task_id, names in pools.items()}


def _costs(doc: Mapping[str, Any]) -> dict[str, float]:
    return dict(((doc.get("cost") or {}).get("by_task")) or {})


def _p80(doc: Mapping[str, Any]) -> object:
    return (doc.get("schedule_risk") or {}).get("p80")


def _duration(task: Mapping[str, Any]) -> float | None:
    return _minus(task.get("finish_hour"), task.get("start_hour"))


def _minus(a: object, b: object) -> float | None:
    """a − b, or None when either is missing or not a number."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return None
    return a - b


def _delta(before: object, after: object, digits: int = 3) -> dict[str, Any]:
    """{before, after, delta}; the delta is rounded like the figures it comes from (no 0.30000000000000004)."""
    delta = _minus(after, before)
    return {"before": before, "after": after, "delta": None if delta is None else round(delta, digits)}
