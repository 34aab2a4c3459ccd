"""The baseline: planned value spread over the schedule, read from plan documents, and its checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planning.errors import PlanningError
from planning.progress import Baseline, ProgressError, TaskBaseline

PLANS = Path(__file__).resolve().parent.parent / "data" / "plans"


def real_plan(version: int = 1) -> dict:
    return json.loads((PLANS / f"website-launch-v{version}.json").read_text())


def doc(tasks: list[tuple[str, float, int, int]], currency: str = "EUR", **extra) -> dict:
    """A minimal plan document: (id, cost, start_hour, finish_hour) per task."""
    return {
        "tasks": [{"id": i, "start_hour": s, "finish_hour": f, "critical": False, "total_float": 0}
                  for i, _, s, f in tasks],
        "cost": {"total": sum(c for _, c, _, _ in tasks), "currency": currency,
                 "by_task": {i: c for i, c, _, _ in tasks if c}},
        **extra,
    }


def test_real_plan_document_gives_its_cost_total_and_finish():
    """A planned example: BAC is the plan's cost total, PD its makespan, critical flags carried over."""
    plan = real_plan()
    baseline = Baseline.from_plan_document(plan)
    assert baseline.unit == "cost" and baseline.currency == "EUR"
    assert baseline.bac == pytest.approx(plan["cost"]["total"]) == pytest.approx(27975.0)
    assert baseline.finish_hours == plan["makespan_hours"] == 190
    assert {t.task_id for t in baseline.tasks if t.critical} == set(plan["critical_path"])
    assert baseline.uncosted == () and baseline.notes == ()


def test_planned_value_spreads_each_task_uniformly_over_its_hours():
    """PV(t): 1,000 over hours 0-10 and 2,000 over 10-30 give 500 at 5, 2,000 at 20, BAC from 30 on."""
    baseline = Baseline.from_plan_document(doc([("a", 1000, 0, 10), ("b", 2000, 10, 30)]))
    assert [baseline.planned_value(h) for h in (0, 5, 10, 20, 30, 99)] == [0, 500, 1000, 2000, 3000, 3000]


def test_overlapping_tasks_add_up():
    """Two tasks running at once: PV is the sum of both spreads."""
    baseline = Baseline.from_plan_document(doc([("a", 800, 0, 8), ("b", 400, 4, 8)]))
    assert baseline.planned_value(6) == pytest.approx(600 + 200)
    assert baseline.planned_value(6) == pytest.approx(sum(t.planned_value(6) for t in baseline.tasks))


def test_a_milestone_earns_its_value_at_its_finish():
    """A zero-duration task with value 500 at hour 10: PV jumps from 1,000 to 1,500 at 10, not before."""
    baseline = Baseline.from_plan_document(doc([("a", 1000, 0, 10), ("gate", 500, 10, 10), ("b", 1000, 10, 20)]))
    assert baseline.planned_value(9.999) == pytest.approx(999.9)
    assert baseline.planned_value(10) == 1500
    assert baseline.time_of_value(1200) == 10  # the value is reached at the milestone's hour


def test_time_of_value_inverts_planned_value_and_skips_idle_stretches():
    """ES's inverse: 750 is reached at 7.5; a value reached before an idle gap maps to the gap's end (Lipke)."""
    baseline = Baseline.from_plan_document(doc([("a", 1000, 0, 10), ("b", 1000, 20, 30)]))
    assert baseline.time_of_value(750) == pytest.approx(7.5)
    assert baseline.time_of_value(1000) == 20  # nothing planned in 10-20: on schedule until 20
    assert baseline.time_of_value(1500) == pytest.approx(25)
    assert baseline.time_of_value(2000) == 30


def test_tasks_without_cost_have_planned_value_zero_and_are_named():
    """A task missing from cost.by_task is worth 0; the baseline lists it and says so in its notes."""
    baseline = Baseline.from_plan_document(doc([("a", 1000, 0, 10), ("review", 0, 10, 12)]))
    assert baseline.task("review").planned_cost == 0
    assert baseline.uncosted == ("review",)
    assert "review" in baseline.notes[0]


def test_a_plan_without_any_cost_measures_value_in_hours():
    """Zero cost in total: each task's value is its scheduled working hours, and unit says "hours"."""
    baseline = Baseline.from_plan_document(doc([("a", 0, 0, 10), ("b", 0, 10, 30)]))
    assert baseline.unit == "hours"
    assert baseline.bac == 30 and baseline.planned_value(20) == 20
    assert baseline.uncosted == () and "working hours" in baseline.notes[0]


def test_hours_can_be_asked_for_even_when_the_plan_has_cost():
    """unit="hours" overrides the cost."""
    baseline = Baseline.from_plan_document(doc([("a", 1000, 0, 10)]), unit="hours")
    assert baseline.unit == "hours" and baseline.bac == 10


def test_without_a_by_task_block_the_allocation_rows_in_the_plan_currency_count():
    """Older documents: cost per task from the allocations; a row in another currency is left out."""
    plan = doc([("a", 0, 0, 10), ("b", 0, 10, 20)])
    plan["cost"] = {"total": 1000, "currency": "EUR"}
    plan["allocations"] = [{"task_id": "a", "cost": 600, "currency": "EUR"},
                           {"task_id": "a", "cost": 400, "currency": "EUR"},
                           {"task_id": "b", "cost": 999, "currency": "USD"}]
    baseline = Baseline.from_plan_document(plan)
    assert baseline.task("a").planned_cost == 1000 and baseline.task("b").planned_cost == 0
    assert baseline.uncosted == ("b",)


def test_cost_in_another_currency_is_noted():
    """cost.not_converted shows up in the notes: the baseline cannot include it."""
    plan = doc([("a", 1000, 0, 10)])
    plan["cost"]["not_converted"] = {"USD": 250.0}
    assert any("USD" in note for note in Baseline.from_plan_document(plan).notes)


@pytest.mark.parametrize(("task", "field"), [
    ({"id": "a", "start_hour": 5, "finish_hour": 2}, "tasks[0].finish_hour"),
    ({"id": "a", "start_hour": -1, "finish_hour": 2}, "tasks[0].start_hour"),
    ({"id": "", "start_hour": 0, "finish_hour": 2}, "tasks[0].id"),
    ({"id": "a", "start_hour": 0, "finish_hour": 2, "total_float": -3}, "tasks[0].total_float"),
    ({"id": "a", "start_hour": 0, "finish_hour": "2"}, "tasks[0].finish_hour"),
])
def test_bad_documents_raise_errors_naming_the_document_field(task, field):
    """Errors point into the plan document (tasks[i].<its field name>)."""
    with pytest.raises(ProgressError) as caught:
        Baseline.from_plan_document({"tasks": [task], "cost": {"currency": "EUR", "by_task": {"a": 10}}})
    assert caught.value.field == field


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"planned_cost": -1.0}, "planned_cost"),
    ({"planned_cost": float("nan")}, "planned_cost"),
    ({"planned_cost": True}, "planned_cost"),
    ({"finish_hours": 1.0}, "finish_hours"),
    ({"critical": "yes"}, "critical"),
    ({"task_id": None}, "task_id"),
])
def test_task_baseline_validates_itself(kwargs, field):
    """Each invalid TaskBaseline field raises a ValueError subclass naming that field."""
    values = {"task_id": "a", "planned_cost": 10.0, "start_hours": 2.0, "finish_hours": 4.0} | kwargs
    with pytest.raises(ValueError) as caught:
        TaskBaseline(**values)
    assert isinstance(caught.value, PlanningError) and caught.value.field == field


def test_baseline_refuses_duplicate_ids_an_unknown_unit_and_a_missing_currency():
    """Baseline-level checks name tasks[i].task_id, unit and currency."""
    task = TaskBaseline("a", 1.0, 0, 1)
    for kwargs, field in (({"tasks": (task, task), "currency": "EUR"}, "tasks[1].task_id"),
                          ({"tasks": (task,), "currency": "EUR", "unit": "days"}, "unit"),
                          ({"tasks": (task,), "currency": None}, "currency")):
        with pytest.raises(ProgressError) as caught:
            Baseline(**kwargs)
        assert caught.value.field == field
    assert Baseline((task,), None, unit="hours").bac == 1.0  # an hours baseline needs no currency


def test_planned_value_refuses_a_negative_time():
    """at_hours must be >= 0."""
    with pytest.raises(ProgressError) as caught:
        Baseline.from_plan_document(doc([("a", 10, 0, 1)])).planned_value(-1)
    assert caught.value.field == "at_hours"
