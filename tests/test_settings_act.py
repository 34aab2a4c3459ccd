"""No dead settings: for each key of the `[planning]` table, changing it changes what the service does.

CHECKS maps every PlanningSettings field to a small check that runs the code reading it with the default and
with another value and asserts the outcome differs; a field without a check fails the test (a new setting must
come with proof that it acts). The README's configuration table names and explains every key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from planning.settings import PlanningSettings
from tests.conftest import load_example

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = PlanningSettings()


def changed(**values) -> PlanningSettings:
    return replace(DEFAULT, **values)


@functools.cache
def _planned(settings: PlanningSettings, example: str = "website-launch.json") -> dict:
    """The pure stages in process (as the farm runs them): every stage's result, finalize's document last."""
    from planning.goal import Goal
    from planning.stages.allocate import allocate_resources
    from planning.stages.decompose import decompose_goal
    from planning.stages.finalize import finalize_plan
    from planning.stages.input import StageInput
    from planning.stages.risk import assess_goal_risks
    from planning.stages.schedule import schedule_tasks

    quick = replace(settings, schedule_time_limit_seconds=1.0) \
        if settings.schedule_time_limit_seconds == DEFAULT.schedule_time_limit_seconds else settings
    base = {"goal": Goal.from_dict(load_example(example)), "settings": quick, "plan_id": "p",
            "created_at": datetime(2027, 1, 4, tzinfo=UTC)}
    results: dict = {}
    for name, stage in (("risk", assess_goal_risks), ("decompose", decompose_goal), ("allocate", allocate_resources),
                        ("schedule", schedule_tasks), ("finalize", finalize_plan)):
        results[name] = stage(StageInput(**base, results=dict(results)))
    return results


def _kinds(snapshot, settings: PlanningSettings) -> list[str]:
    from planning.replanning import TriggerThresholds, evaluate_triggers

    return [trigger.kind for trigger in evaluate_triggers(snapshot, TriggerThresholds.from_settings(settings))]


# -- the checks, one per key ------------------------------------------------------------------------------------

def max_concurrent_tasks() -> None:
    from planning.goal import Estimate
    from planning.network import PlannedTask, TaskNetwork
    from planning.schedule_adapter import schedule_network

    network = TaskNetwork(tasks=[PlannedTask(id=f"t{i}", name=f"t{i}", estimate=Estimate(4, 4, 4)) for i in range(6)])
    span = [schedule_network(network, {"pools": []}, settings)["makespan_hours"]
            for settings in (DEFAULT, changed(max_concurrent_tasks=2))]
    assert span == [4, 12]


def default_task_timeout_hours() -> None:
    from planning.replanning import PlanSnapshot, TaskState

    snapshot = PlanSnapshot("p", tasks=(TaskState("a", "in_progress", overrun_hours=9),))
    assert "task_timeout" in _kinds(snapshot, DEFAULT)
    assert "task_timeout" not in _kinds(snapshot, changed(default_task_timeout_hours=10))


def risk_threshold_probability() -> None:
    from planning.risk.model import Risk

    risk = Risk(id="r", rule="x", category="technical", title="t", description="", probability=0.75, impact="High")
    assert risk.is_alert(DEFAULT) and not risk.is_alert(changed(risk_threshold_probability=0.8))


def risk_threshold_impact() -> None:
    from planning.risk.model import Risk

    risk = Risk(id="r", rule="x", category="technical", title="t", description="", probability=0.75, impact="High")
    assert risk.is_alert(DEFAULT) and not risk.is_alert(changed(risk_threshold_impact="Critical"))


def resource_buffer_percentage() -> None:
    costs = [_planned(settings)["allocate"]["cost"] for settings in (DEFAULT, changed(resource_buffer_percentage=0.5))]
    assert costs[0] != costs[1]


def planning_horizon_days() -> None:
    from planning.horizon import defer_beyond_horizon

    rows = [{"start": "2027-01-04T09:00:00"}, {"start": "2027-01-20T09:00:00"}]
    deferred = [defer_beyond_horizon([dict(row) for row in rows], date(2027, 1, 4), settings)["deferred_allocations"]
                for settings in (DEFAULT, changed(planning_horizon_days=7))]
    assert deferred == [0, 1]


def auto_approve_low_risk_plans(tmp_path: Path) -> None:
    from app import create_app
    from app.cli import upgrade_database
    from tests.feedback_support import tiny_goal

    states = []
    for n, settings in enumerate((DEFAULT, changed(auto_approve_low_risk_plans=False))):
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/auto{n}.sqlite", "CELERY_BROKER_URL": None,
                          "CELERY_KEY_PREFIX": None, "PLANNING": settings})
        upgrade_database(app)
        client = app.test_client()
        plan_id = client.post("/api/v1/plans", json=tiny_goal()).get_json()["id"]
        states.append(client.get(f"/api/v1/plans/{plan_id}").get_json()["status"])
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()
    assert states == ["approved", "ready"]


def enable_continuous_replanning() -> None:
    from tasks.beat import beat_schedule

    assert "replan-scan" in beat_schedule(DEFAULT)
    assert "replan-scan" not in beat_schedule(changed(enable_continuous_replanning=False))


def replanning_interval_minutes() -> None:
    from planning.replanning import should_replan

    now = datetime(2027, 1, 4, 12, tzinfo=UTC)
    last = now - timedelta(minutes=30)
    assert not should_replan(last, now, DEFAULT.replanning_interval_minutes)
    assert should_replan(last, now, changed(replanning_interval_minutes=15).replanning_interval_minutes)


def max_tasks_per_plan() -> None:
    from planning.errors import PlanningError

    assert _planned(DEFAULT)["decompose"]["tasks"]
    with pytest.raises(PlanningError, match="max_tasks_per_plan"):
        _planned(changed(max_tasks_per_plan=2))


def max_decomposition_depth() -> None:
    from planning.decomposition import decompose
    from planning.errors import PlanningError
    from planning.stages.input import domain_library
    from tests.planning.conftest import make_goal

    goal = make_goal("software_delivery", "hierarchical")
    assert decompose(goal, DEFAULT, domain_library(None)).tasks
    with pytest.raises(PlanningError, match="max_decomposition_depth"):
        decompose(goal, changed(max_decomposition_depth=1), domain_library(None))


TINY_DOMAIN = """
id = "tiny_settings_check"
name = "Tiny"
description = "A tiny domain"
root = "do_it"
phases = [{id = "only", name = "Only"}]
[resources.engineer]
capacity = 1
[tasks.do_it]
name = "Do it"
methods = [{id = "standard", subtasks = ["step"]}]
[tasks.step]
name = "Step"
phase = "only"
estimate = [1, 2, 3]
resources = {engineer = 1}
success_criteria = ["Done"]
"""


def domains_dir(tmp_path: Path) -> None:
    from planning.stages.input import domain_library

    (tmp_path / "tiny.toml").write_text(TINY_DOMAIN)
    assert "tiny_settings_check" not in domain_library(DEFAULT.domains_dir)
    assert "tiny_settings_check" in domain_library(changed(domains_dir=str(tmp_path)).domains_dir)


def monte_carlo_iterations() -> None:
    risks = [_planned(settings)["finalize"]["schedule_risk"]["iterations"]
             for settings in (DEFAULT, changed(monte_carlo_iterations=300))]
    assert risks == [2000, 300]


def schedule_time_limit_seconds() -> None:
    from app.stages import get_stage
    from planning.stages.input import StageInput
    from planning.stages.schedule import solve_seconds

    stage = get_stage("schedule")
    assert stage.soft_limit(DEFAULT) != stage.soft_limit(changed(schedule_time_limit_seconds=60))
    data = StageInput(goal=None, settings=DEFAULT, created_at=datetime(2027, 1, 4, tzinfo=UTC),
                      results={"decompose": _planned(DEFAULT)["decompose"]})
    assert solve_seconds(data) < solve_seconds(replace(data, settings=changed(schedule_time_limit_seconds=60)))


def hours_per_day() -> None:
    from planning.work_calendar import calendar_for

    moments = [calendar_for(settings).to_datetime(date(2027, 1, 4), 10)
               for settings in (DEFAULT, changed(hours_per_day=12))]
    assert moments[0].date() == date(2027, 1, 5) and moments[1].date() == date(2027, 1, 4)


def holidays() -> None:
    from planning.work_calendar import calendar_for

    moments = [calendar_for(settings).to_datetime(date(2027, 1, 4), 10)
               for settings in (DEFAULT, changed(holidays=("2027-01-05",)))]
    assert moments[0].date() == date(2027, 1, 5) and moments[1].date() == date(2027, 1, 6)


def _escalation(severity: str, hours: float, **values) -> tuple[int, int]:
    from planning.progress import escalation_level

    return tuple(escalation_level(severity, hours, settings.escalation_thresholds, settings.issue_escalation_max_level)
                 for settings in (DEFAULT, changed(**values)))


def issue_escalation_hours_low() -> None:
    assert _escalation("low", 80, issue_escalation_hours_low=100.0) == (1, 0)


def issue_escalation_hours_medium() -> None:
    assert _escalation("medium", 30, issue_escalation_hours_medium=40.0) == (1, 0)


def issue_escalation_hours_high() -> None:
    assert _escalation("high", 10, issue_escalation_hours_high=20.0) == (1, 0)


def issue_escalation_hours_critical() -> None:
    assert _escalation("critical", 3, issue_escalation_hours_critical=4.0) == (1, 0)


def issue_escalation_max_level() -> None:
    assert _escalation("critical", 100, issue_escalation_max_level=5) == (3, 5)


def replan_spi_t_threshold() -> None:
    from planning.replanning import PlanSnapshot

    snapshot = PlanSnapshot("p", spi_t=0.85, percent_complete=50)
    assert _kinds(snapshot, DEFAULT) == ["schedule_performance"]
    assert _kinds(snapshot, changed(replan_spi_t_threshold=0.8)) == []


def replan_cpi_threshold() -> None:
    from planning.replanning import PlanSnapshot

    snapshot = PlanSnapshot("p", cpi=0.85, percent_complete=50)
    assert _kinds(snapshot, DEFAULT) == ["cost_performance"]
    assert _kinds(snapshot, changed(replan_cpi_threshold=0.8)) == []


def replan_min_percent_complete() -> None:
    from planning.replanning import PlanSnapshot

    snapshot = PlanSnapshot("p", spi_t=0.5, percent_complete=5)
    assert _kinds(snapshot, DEFAULT) == []
    assert _kinds(snapshot, changed(replan_min_percent_complete=1.0)) == ["schedule_performance"]


def replan_late_tolerance_hours() -> None:
    from planning.replanning import PlanSnapshot, TaskState

    snapshot = PlanSnapshot("p", tasks=(TaskState("a", "in_progress", True, 0, 5),))
    assert _kinds(snapshot, DEFAULT) == ["critical_task_late"]
    assert _kinds(snapshot, changed(replan_late_tolerance_hours=10.0)) == []


def replan_deadline_probability_threshold() -> None:
    from planning.replanning import PlanSnapshot

    snapshot = PlanSnapshot("p", deadline_probability=0.75, planned_deadline_probability=0.95)
    assert _kinds(snapshot, DEFAULT) == ["deadline_probability"]
    assert _kinds(snapshot, changed(replan_deadline_probability_threshold=0.7)) == []


def replan_min_escalation_level() -> None:
    from planning.replanning import IssueState, PlanSnapshot

    snapshot = PlanSnapshot("p", issues=(IssueState("i", "a", "blocked", "high", 1, ("R1",)),))
    assert _kinds(snapshot, DEFAULT) == ["realized_risk"]
    assert _kinds(snapshot, changed(replan_min_escalation_level=2)) == []


def replan_scan_seconds() -> None:
    from tasks.beat import beat_schedule

    assert beat_schedule(DEFAULT)["replan-scan"]["schedule"] == 60.0
    assert beat_schedule(changed(replan_scan_seconds=5))["replan-scan"]["schedule"] == 5.0


def replan_stability_tolerance() -> None:
    from planning.network import TaskNetwork
    from planning.replanning.network import replan_network_result

    results = _planned(DEFAULT)
    network = TaskNetwork.from_dict(results["decompose"])
    passes = [replan_network_result(network, results["allocate"], results["schedule"], {}, 0, settings,
                                    time_limit=1.0).stability
              for settings in (DEFAULT, changed(replan_stability_tolerance=0.0))]
    assert passes[0] != passes[1]


def replan_time_limit_seconds() -> None:
    from planning.stages.input import StageInput
    from planning.stages.schedule import solve_seconds

    data = StageInput(goal=None, settings=DEFAULT, created_at=datetime(2027, 1, 4, tzinfo=UTC),
                      results={"decompose": _planned(DEFAULT)["decompose"]})
    limits = [solve_seconds(replace(data, settings=settings), min(settings.replan_time_limit_seconds,
                                                                  settings.schedule_time_limit_seconds))
              for settings in (DEFAULT, changed(replan_time_limit_seconds=5.0))]
    assert limits[0] < limits[1]


CHECKS: dict[str, Callable] = {name: function for name, function in dict(globals()).items()
                               if name in PlanningSettings.field_names() and callable(function)}


@pytest.mark.parametrize("key", PlanningSettings.field_names())
def test_changing_the_setting_changes_behaviour(key, tmp_path):
    """Each `[planning]` key has a check showing that another value changes what the service does."""
    assert key in CHECKS, f"[planning] {key} has no check that it acts: add one to tests/test_settings_act.py"
    check = CHECKS[key]
    check(tmp_path) if check.__code__.co_argcount else check()


def test_the_readme_configuration_table_explains_every_key():
    """Every `[planning]` key is a row of the README's configuration table, with what it does."""
    text = (ROOT / "README.md").read_text()
    missing = [key for key in PlanningSettings.field_names()
               if not re.search(rf"^\| `{key}` \|[^|]*\|[^|]*\w[^|]*\|", text, re.MULTILINE)]
    assert missing == []
