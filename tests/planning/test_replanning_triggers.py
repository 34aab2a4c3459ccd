"""When an executing plan is replanned: each trigger, its thresholds, and the debounce."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from planning.progress.baseline import Baseline, TaskBaseline
from planning.progress.status import TaskProgress
from planning.replanning import (
    TRIGGER_KINDS,
    IssueState,
    PlanSnapshot,
    PoolChange,
    ReplanError,
    TaskState,
    TriggerThresholds,
    evaluate_triggers,
    should_replan,
    snapshot_from_progress,
)
from planning.settings import PlanningSettings

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def kinds(snapshot: PlanSnapshot, thresholds: TriggerThresholds | None = None) -> list[str]:
    return [trigger.kind for trigger in evaluate_triggers(snapshot, thresholds)]


def test_a_plan_on_track_fires_nothing():
    """On plan: indices at 1, no lateness, no issue, no pool change, a safe deadline: no trigger."""
    snapshot = PlanSnapshot("p", spi_t=1.0, cpi=1.0, percent_complete=40,
                            tasks=(TaskState("a", "in_progress", True, 0, 0), TaskState("b", critical=False,
                                                                                         total_float_hours=8)),
                            deadline_probability=0.9, planned_deadline_probability=0.9)
    assert evaluate_triggers(snapshot) == []


def test_schedule_performance_fires_below_the_spi_t_threshold():
    """SPI(t) 0.85 < 0.9 fires schedule_performance with the figures as evidence."""
    [trigger] = evaluate_triggers(PlanSnapshot("p", spi_t=0.85, cpi=1.0, percent_complete=30))
    assert trigger.kind == "schedule_performance"
    assert trigger.evidence["spi_t"] == 0.85 and trigger.evidence["threshold"] == 0.9
    assert "0.85" in trigger.reason


def test_cost_performance_fires_below_the_cpi_threshold():
    """CPI 0.8 < 0.9 fires cost_performance; the sentence says the work cost 25 % more."""
    [trigger] = evaluate_triggers(PlanSnapshot("p", spi_t=1.0, cpi=0.8, percent_complete=30))
    assert trigger.kind == "cost_performance"
    assert "25%" in trigger.reason


def test_indices_at_the_threshold_do_not_fire():
    """Exactly 0.9 is not below 0.9."""
    assert kinds(PlanSnapshot("p", spi_t=0.9, cpi=0.9, percent_complete=50)) == []


def test_indices_wait_for_the_minimum_progress():
    """Below the minimum percent complete the indices are noise and fire nothing; unknown progress skips the guard."""
    assert kinds(PlanSnapshot("p", spi_t=0.5, cpi=0.5, percent_complete=5)) == []
    assert kinds(PlanSnapshot("p", spi_t=0.5, cpi=0.5)) == ["schedule_performance", "cost_performance"]
    lenient = TriggerThresholds(min_percent_complete=0)
    assert kinds(PlanSnapshot("p", spi_t=0.5, percent_complete=1), lenient) == ["schedule_performance"]


def test_a_critical_task_late_fires():
    """A critical task (no float) 4 h late fires critical_task_late naming it."""
    [trigger] = evaluate_triggers(PlanSnapshot("p", tasks=(TaskState("build", "in_progress", True, 0, 4),)))
    assert trigger.kind == "critical_task_late"
    assert trigger.evidence["tasks"][0] == {"task_id": "build", "late_hours": 4, "total_float_hours": 0,
                                            "critical": True, "status": "in_progress"}
    assert "build" in trigger.reason


def test_lateness_within_the_float_does_not_fire_beyond_it_does():
    """A task with 8 h of float fires only once it is more than 8 h (plus the tolerance) late."""
    within = PlanSnapshot("p", tasks=(TaskState("doc", "in_progress", False, 8, 8),))
    beyond = PlanSnapshot("p", tasks=(TaskState("doc", "in_progress", False, 8, 9),))
    assert kinds(within) == []
    assert kinds(beyond) == ["critical_task_late"]
    assert kinds(beyond, TriggerThresholds(late_tolerance_hours=2)) == []


def test_late_tasks_are_one_trigger_worst_first():
    """Several late tasks make one trigger; the evidence lists them, the worst excess first."""
    tasks = (TaskState("a", critical=True, late_hours=2), TaskState("b", critical=True, late_hours=10),
             TaskState("c", total_float_hours=4, late_hours=9))
    [trigger] = evaluate_triggers(PlanSnapshot("p", tasks=tasks))
    assert [t["task_id"] for t in trigger.evidence["tasks"]] == ["b", "c", "a"]
    assert trigger.evidence["count"] == 3


def test_a_blocked_critical_task_fires_a_blocked_off_path_task_does_not():
    """Blocked (or failed) on the critical path fires critical_task_blocked with the reason; off it, nothing."""
    blocked = TaskState("deploy", "blocked", True, 0, 0, blocked_reason="waiting for the firewall change")
    [trigger] = evaluate_triggers(PlanSnapshot("p", tasks=(blocked,)))
    assert trigger.kind == "critical_task_blocked"
    assert "firewall" in trigger.reason
    assert kinds(PlanSnapshot("p", tasks=(TaskState("docs", "blocked", False, 16, 0),))) == []
    assert kinds(PlanSnapshot("p", tasks=(TaskState("x", "failed", True, 0, 0),))) == ["critical_task_blocked"]


def test_an_escalated_issue_with_a_realized_risk_fires():
    """An open issue at escalation level 1 tied to a realised risk fires realized_risk; level 0 or no risk does not."""
    hit = IssueState("i1", "deploy", "blocked", "high", 1, ("RISK-third_party_dependency-deploy",))
    [trigger] = evaluate_triggers(PlanSnapshot("p", issues=(hit,)))
    assert trigger.kind == "realized_risk"
    assert trigger.evidence["issues"][0]["realized_risks"] == ["RISK-third_party_dependency-deploy"]
    not_escalated = IssueState("i2", "deploy", "blocked", "high", 0, ("R",))
    no_risk = IssueState("i3", "deploy", "blocked", "critical", 3)
    assert kinds(PlanSnapshot("p", issues=(not_escalated, no_risk))) == []
    assert kinds(PlanSnapshot("p", issues=(not_escalated,)), TriggerThresholds(escalation_level=0)) == \
        ["realized_risk"]


def test_a_changed_pool_the_plan_uses_fires():
    """A capacity change of a used pool fires pool_capacity; unchanged or unused pools do not."""
    change = PoolChange("developer", 4, 2)
    [trigger] = evaluate_triggers(PlanSnapshot("p", changed_pools=(change,), used_pools=frozenset({"developer"})))
    assert trigger.kind == "pool_capacity"
    assert trigger.evidence["pools"] == [{"pool": "developer", "old_capacity": 4, "new_capacity": 2}]
    assert "developer 4 -> 2" in trigger.reason
    assert kinds(PlanSnapshot("p", changed_pools=(change,), used_pools=frozenset({"tester"}))) == []
    assert kinds(PlanSnapshot("p", changed_pools=(PoolChange("developer", 3, 3),))) == []
    assert kinds(PlanSnapshot("p", changed_pools=(PoolChange("developer", 3, 5),))) == ["pool_capacity"]


def test_the_deadline_probability_fires_when_it_drops_below_the_threshold():
    """0.6 < 0.8 fires when it was higher when planned (or unknown); not when the plan was made at 0.6 or less."""
    [trigger] = evaluate_triggers(PlanSnapshot("p", deadline_probability=0.6, planned_deadline_probability=0.85))
    assert trigger.kind == "deadline_probability"
    assert "60%" in trigger.reason and "85%" in trigger.reason
    assert kinds(PlanSnapshot("p", deadline_probability=0.6)) == ["deadline_probability"]
    assert kinds(PlanSnapshot("p", deadline_probability=0.6, planned_deadline_probability=0.6)) == []
    assert kinds(PlanSnapshot("p", deadline_probability=0.8, planned_deadline_probability=0.95)) == []


def test_a_task_in_progress_past_its_finish_by_the_timeout_fires():
    """default_task_timeout_hours (8 h by default) past the planned finish fires task_timeout; 7 h does not."""
    [trigger] = evaluate_triggers(PlanSnapshot("p", tasks=(TaskState("b", "in_progress", overrun_hours=8.5),)))
    assert trigger.kind == "task_timeout" and trigger.evidence["tasks"][0]["task_id"] == "b"
    assert kinds(PlanSnapshot("p", tasks=(TaskState("b", "in_progress", overrun_hours=7),))) == []
    assert kinds(PlanSnapshot("p", tasks=(TaskState("b", "in_progress", overrun_hours=7),)),
                 TriggerThresholds(task_timeout_hours=4)) == ["task_timeout"]


def test_only_an_executing_plan_fires():
    """The same bad figures on an approved (not yet executing) or completed plan fire nothing."""
    for status in ("approved", "completed", "cancelled"):
        assert kinds(PlanSnapshot("p", status=status, spi_t=0.1, deadline_probability=0.0)) == []


def test_every_kind_at_once_in_order_and_json_safe():
    """All eight kinds fire together, in TRIGGER_KINDS order, and every trigger serialises to JSON."""
    snapshot = PlanSnapshot(
        "p", spi_t=0.7, cpi=0.7, percent_complete=50,
        tasks=(TaskState("a", "blocked", True, 0, 6, "no access"), TaskState("b", "in_progress", overrun_hours=9)),
        issues=(IssueState("i", "a", "blocked", "critical", 2, ("R1",)),),
        changed_pools=(PoolChange("ops", 2, 1),), deadline_probability=0.3, planned_deadline_probability=0.9)
    triggers = evaluate_triggers(snapshot)
    assert [t.kind for t in triggers] == list(TRIGGER_KINDS)
    json.dumps([t.to_dict() for t in triggers], allow_nan=False)


def test_thresholds_from_settings_use_replan_fields_when_present():
    """Settings without replan_* fields give the defaults; an object with them overrides each."""
    assert TriggerThresholds.from_settings(PlanningSettings()) == TriggerThresholds()

    class Custom:
        replan_spi_t_threshold = 0.8
        replan_cpi_threshold = 0.85
        replan_min_percent_complete = 0.0
        replan_late_tolerance_hours = 4.0
        replan_deadline_probability_threshold = 0.5
        replan_min_escalation_level = 2

    assert TriggerThresholds.from_settings(Custom()) == TriggerThresholds(0.8, 0.85, 0.0, 4.0, 0.5, 2)


def test_bad_thresholds_and_snapshots_are_refused_by_field():
    """Out-of-range values raise ReplanError naming the field."""
    with pytest.raises(ReplanError) as error:
        TriggerThresholds(deadline_probability=1.5)
    assert error.value.field == "deadline_probability"
    with pytest.raises(ReplanError) as error:
        PlanSnapshot("p", spi_t=float("nan"))
    assert error.value.field == "spi_t"
    with pytest.raises(ReplanError) as error:
        PlanSnapshot("p", tasks=({"task_id": "a"},))
    assert error.value.field == "tasks[0]"
    with pytest.raises(ReplanError) as error:
        TaskState("a", status="done")
    assert error.value.field == "status"


def test_debounce_allows_one_automatic_replan_per_interval():
    """None yet: go; 59 minutes after the last: wait; 60 minutes: go."""
    assert should_replan(None, NOW, 60)
    assert not should_replan(NOW - timedelta(minutes=59), NOW, 60)
    assert should_replan(NOW - timedelta(minutes=60), NOW, 60)
    assert should_replan(NOW - timedelta(days=2), NOW, 60)


def test_a_manual_replan_bypasses_the_debounce():
    """manual=True goes ahead one minute after an automatic replan."""
    assert should_replan(NOW - timedelta(minutes=1), NOW, 60, manual=True)


def test_debounce_with_a_clock_set_back_waits():
    """A last replan stamped in the future (clock moved back) does not allow another one yet."""
    assert not should_replan(NOW + timedelta(minutes=5), NOW, 60)


def test_debounce_refuses_bad_arguments():
    """Mixing naive and aware datetimes, or an interval below 1 minute, raises ReplanError."""
    with pytest.raises(ReplanError) as error:
        should_replan(datetime(2027, 3, 1, 11, 0), NOW, 60)
    assert error.value.field == "last_auto_replan_at"
    with pytest.raises(ReplanError) as error:
        should_replan(None, NOW, 0)
    assert error.value.field == "interval_minutes"


def test_snapshot_from_progress_measures_lateness_and_indices():
    """From a baseline and reports: SPI(t), CPI, percent complete and each task's lateness; the slip fires."""
    plan = Baseline((TaskBaseline("a", 100.0, 0, 10, critical=True), TaskBaseline("b", 100.0, 10, 20, critical=True),
                     TaskBaseline("c", 50.0, 0, 10, critical=False, total_float_hours=10)), "EUR")
    progress = {
        "a": TaskProgress("a", "in_progress", 50, actual_cost=80.0, actual_start_hours=0, remaining_hours=8),
        "c": TaskProgress("c", "completed", 100, actual_cost=50.0, actual_start_hours=0, actual_finish_hours=10),
    }
    snapshot = snapshot_from_progress("p", plan, progress, 12, deadline_probability=0.9)
    late = {task.task_id: task.late_hours for task in snapshot.tasks}
    # slip_hours: b, not started, is late only by the hours already past its planned start
    assert late == {"a": 10.0, "b": 2.0, "c": 0.0}
    assert snapshot.cpi == pytest.approx(100 / 130)
    assert snapshot.percent_complete == pytest.approx(40.0)
    assert snapshot.spi_t is not None and snapshot.spi_t < 0.9
    assert kinds(snapshot) == ["schedule_performance", "cost_performance", "critical_task_late"]


def test_the_snapshot_measures_how_long_a_task_ran_past_its_finish():
    """From the baseline: a task planned to finish at hour 10 and still in progress at hour 19 overran 9 h."""
    plan = Baseline((TaskBaseline("a", 100.0, 0, 10), TaskBaseline("b", 100.0, 0, 30)), "EUR")
    progress = {"a": TaskProgress("a", "in_progress", 0.5, actual_start_hours=0),
                "b": TaskProgress("b", "in_progress", 0.5, actual_start_hours=0)}
    snapshot = snapshot_from_progress("p", plan, progress, 19)
    assert {task.task_id: task.overrun_hours for task in snapshot.tasks} == {"a": 9.0, "b": 0.0}
    assert "task_timeout" in kinds(snapshot)
    assert "task_timeout" not in kinds(snapshot, TriggerThresholds.from_settings(
        PlanningSettings(default_task_timeout_hours=10)))
