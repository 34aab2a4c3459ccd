"""diff_plans: tasks added, removed and moved, and the plan-level deltas between two plan documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from planning.progress import ProgressError, diff_plans

PLANS = Path(__file__).resolve().parent.parent / "data" / "plans"


def task(task_id: str, start: int, finish: int, **resources: int) -> dict:
    return {"id": task_id, "name": task_id.title(), "start_hour": start, "finish_hour": finish,
            "start": f"h{start}", "finish": f"h{finish}", "resources": resources or {"engineer": 1}}


def plan(tasks: list[dict], *, cost: float = 1000.0, p80: float = 30.0, path=("a", "b")) -> dict:
    return {
        "project_start": "2027-01-04", "tasks": tasks, "critical_path": list(path),
        "makespan_hours": max(t["finish_hour"] for t in tasks), "finish": "2027-01-08T17:00:00",
        "cost": {"total": cost, "currency": "EUR", "by_task": {t["id"]: 100.0 for t in tasks}},
        "schedule_risk": {"p80": p80},
        "allocations": [{"task_id": t["id"], "resource": next(iter(t["resources"]))} for t in tasks],
    }


def test_hand_built_versions():
    """b moves 4 h later and takes 2 designers; c is removed, d added; makespan, cost, P80 and path deltas."""
    before = plan([task("a", 0, 8), task("b", 8, 16), task("c", 0, 4)], cost=900.0, p80=20.0)
    after = plan([task("a", 0, 8), task("b", 12, 20, designer=2), task("d", 20, 24)], cost=1200.0, p80=26.5,
                 path=("a", "b", "d"))
    diff = diff_plans(before, after)
    assert diff["tasks_added"] == ["d"] and diff["tasks_removed"] == ["c"]
    [moved] = diff["tasks_changed"]
    assert moved["id"] == "b" and moved["changed"] == ["start", "finish", "resources", "pools"]
    assert (moved["start_shift_hours"], moved["finish_shift_hours"], moved["duration_change_hours"]) == (4, 4, 0)
    assert moved["resources"] == {"before": {"engineer": 1}, "after": {"designer": 2}}
    assert moved["start"] == {"before": "h8", "after": "h12"}
    assert diff["makespan_hours"] == {"before": 16, "after": 24, "delta": 8}
    assert diff["cost_total"] == {"before": 900.0, "after": 1200.0, "delta": 300.0, "currency": "EUR"}
    assert diff["p80_hours"]["delta"] == 6.5
    assert diff["critical_path"]["joined"] == ["d"] and diff["critical_path"]["left"] == []
    assert diff["notes"] == []


def test_identical_plans_have_no_changes():
    """A plan against itself: nothing added, removed or changed; every delta 0."""
    version = plan([task("a", 0, 8), task("b", 8, 16)])
    diff = diff_plans(version, copy.deepcopy(version))
    assert (diff["tasks_added"], diff["tasks_removed"], diff["tasks_changed"]) == ([], [], [])
    assert diff["makespan_hours"]["delta"] == 0 and diff["cost_total"]["delta"] == 0


def test_a_new_start_date_or_currency_is_noted():
    """Hour shifts across different project starts, and costs across currencies, are flagged, not compared."""
    before = plan([task("a", 0, 8)])
    after = copy.deepcopy(before)
    after["project_start"] = "2027-02-01"
    after["cost"]["currency"] = "USD"
    diff = diff_plans(before, after)
    assert diff["cost_total"]["delta"] is None
    assert len(diff["notes"]) == 2


def test_two_real_plan_versions():
    """website-launch v1 -> v2 (auth 1.5× longer, qa dearer, task docs added): auth grows 13 h and what
    follows it shifts 13 h; the makespan grows 190 -> 203; test-plan only changes cost."""
    before = json.loads((PLANS / "website-launch-v1.json").read_text())
    after = json.loads((PLANS / "website-launch-v2.json").read_text())
    diff = diff_plans(before, after)
    assert diff["tasks_added"] == ["docs"] and diff["tasks_removed"] == []
    changed = {entry["id"]: entry for entry in diff["tasks_changed"]}
    assert changed["auth"]["duration_change_hours"] == 13 and changed["auth"]["start_shift_hours"] == 0
    for follower in ("frontend", "integration", "acceptance", "launch"):
        assert changed[follower]["start_shift_hours"] == changed[follower]["finish_shift_hours"] == 13
    assert changed["test-plan"]["changed"] == ["cost"]
    assert "requirements" not in changed
    assert diff["makespan_hours"] == {"before": 190, "after": 203, "delta": 13}
    assert diff["cost_total"]["delta"] == pytest.approx(after["cost"]["total"] - before["cost"]["total"])
    assert diff["p80_hours"]["after"] > diff["p80_hours"]["before"]
    assert diff["critical_path"]["before"] == before["critical_path"]


@pytest.mark.parametrize(("before", "after", "field"), [
    ({}, {"tasks": []}, "before.tasks"),
    ({"tasks": []}, {"tasks": [{"id": "a"}, {"id": "a"}]}, "after.tasks[1].id"),
    ({"tasks": [{"name": "no id"}]}, {"tasks": []}, "before.tasks[0].id"),
])
def test_documents_without_tasks_or_with_bad_ids_are_refused(before, after, field):
    """The error names which document and which task."""
    with pytest.raises(ProgressError) as caught:
        diff_plans(before, after)
    assert caught.value.field == field
