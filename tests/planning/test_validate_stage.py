"""Stage `validate` (pure): Layer 3's verdict applied to finalize's document."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import pytest

from planning.goal import Goal
from planning.settings import PlanningSettings
from planning.stages.allocate import allocate_resources
from planning.stages.decompose import decompose_goal
from planning.stages.finalize import finalize_plan
from planning.stages.input import StageInput
from planning.stages.risk import assess_goal_risks
from planning.stages.schedule import schedule_tasks
from planning.stages.validate import validate_plan
from planning.validation import AnswerError, check_answer, validation_request
from tests.conftest import load_example


@functools.cache
def _results() -> tuple[Goal, dict]:
    goal = Goal.from_dict(load_example("website-launch.json"))
    results: dict = {}
    for name, stage in (("risk", assess_goal_risks), ("decompose", decompose_goal), ("allocate", allocate_resources),
                        ("schedule", schedule_tasks), ("finalize", finalize_plan)):
        results[name] = stage(StageInput(**_base(goal), results=dict(results)))
    return goal, results


def _base(goal: Goal) -> dict:
    return {"goal": goal, "settings": PlanningSettings(schedule_time_limit_seconds=1.0), "plan_id": "p",
            "created_at": datetime(2027, 1, 4, tzinfo=UTC)}


def validated(layer3: dict) -> dict:
    goal, results = _results()
    return validate_plan(StageInput(**_base(goal), results=dict(results), sources={"layer3": layer3}))


def answered(**answer) -> dict:
    body = {"reference": "p/v1", "verdict": "approved", "findings": [], "requirements": [], **answer}
    return {"state": "answered", "answer": check_answer(body, reference="p/v1")}


def test_not_configured_changes_nothing_but_says_so():
    """Without Layer 3 the document is finalize's, with `validation: {state: not_configured}`."""
    document = validated({"state": "not_configured"})
    finalized = _results()[1]["finalize"]
    assert document["validation"] == {"state": "not_configured"}
    assert document["tasks"] == finalized["tasks"]
    assert document["approval"]["auto_approvable"] == finalized["approval"]["auto_approvable"]


def test_unavailable_blocks_auto_approval_and_asks_for_an_override():
    """Layer 3 down: the plan completes, says why, and only a manual approval that overrides may approve it."""
    document = validated({"state": "unavailable", "reason": "timeout: no answer within 5 s"})
    assert document["validation"] == {"state": "unavailable", "reason": "timeout: no answer within 5 s"}
    assert document["approval"]["auto_approvable"] is False
    assert document["approval"]["validation"] == "override"


def test_requirements_become_tasks_that_gate_and_the_plan_is_rescheduled():
    """A sign-off gating the last task is a task, after the task it follows, and the last task waits for it."""
    tasks = _results()[1]["finalize"]["tasks"]
    first, last = tasks[0]["id"], tasks[-1]["id"]
    document = validated(answered(verdict="changes_required", requirements=[
        {"id": "R1", "kind": "sign_off", "name": "Security sign-off", "estimate_hours": 16, "gates": [last],
         "after": [first]}]))
    by_id = {task["id"]: task for task in document["tasks"]}
    added = by_id["L3-R1"]
    assert added["origin"] == "layer3:sign_off" and added["duration"] == 16 and added["depends_on"] == [first]
    assert "L3-R1" in by_id[last]["depends_on"]
    assert added["start_hour"] >= by_id[first]["finish_hour"]
    assert by_id[last]["start_hour"] >= added["finish_hour"]
    assert document["validation"]["requirements"] == {"R1": "L3-R1"}
    assert document["approval"]["auto_approvable"] is False and document["approval"]["validation"] == "auto_approval"


def test_findings_become_external_risks_with_the_finding_as_evidence():
    """A critical finding on a task is a ranked risk of category external that blocks auto-approval."""
    task = _results()[1]["finalize"]["tasks"][0]["id"]
    document = validated(answered(findings=[{"id": "F1", "severity": "critical", "task_id": task,
                                             "title": "No rollback plan", "detail": "Deploy has no rollback"}]))
    risk = next(risk for risk in document["risks"] if risk["id"] == "L3-F1")
    assert risk["category"] == "external" and risk["affected_tasks"] == [task]
    assert risk["evidence"]["finding"]["title"] == "No rollback plan" and risk["rank"] >= 1
    assert "L3-F1" in document["risk_alerts"] and document["approval"]["auto_approvable"] is False


def test_rejected_blocks_approval_with_the_reason():
    """A rejected plan carries the reason and may not be approved."""
    document = validated(answered(verdict="rejected", reason="Handles payment data without a PCI review"))
    assert document["validation"]["state"] == "rejected"
    assert document["approval"]["validation"] == "approval"
    assert document["approval"]["validation_reason"] == "Handles payment data without a PCI review"


def test_approved_keeps_auto_approval():
    """An approving answer without findings leaves what the risks allow."""
    document = validated(answered())
    assert document["validation"]["state"] == "approved" and document["approval"]["validation"] is None
    assert document["approval"]["auto_approvable"] == _results()[1]["finalize"]["approval"]["auto_approvable"]


def test_an_answer_naming_tasks_the_plan_lacks_is_unavailable():
    """Layer 3 lying about the plan (a task it does not have, a cycle) is not believed: unavailable, with why."""
    tasks = _results()[1]["finalize"]["tasks"]
    ghost = validated(answered(findings=[{"id": "F", "severity": "low", "task_id": "ghost", "title": "x"}]))
    assert ghost["validation"]["state"] == "unavailable" and "ghost" in ghost["validation"]["reason"]
    cycle = validated(answered(requirements=[{"id": "R", "kind": "test", "name": "Loop", "estimate_hours": 2,
                                              "gates": [tasks[0]["id"]], "after": [tasks[-1]["id"]]}]))
    assert cycle["validation"]["state"] == "unavailable" and "cycle" in cycle["validation"]["reason"]
    assert len(cycle["tasks"]) == len(tasks)


@pytest.mark.parametrize("body", [
    [], {"reference": "p/v1", "verdict": "maybe"}, {"reference": "q/v1", "verdict": "approved"},
    {"reference": "p/v1", "verdict": "rejected"},
    {"reference": "p/v1", "verdict": "approved", "findings": [{"id": "F", "severity": "huge", "title": "x"}]},
    {"reference": "p/v1", "verdict": "approved",
     "requirements": [{"id": "R", "kind": "review", "name": "x", "estimate_hours": -1, "gates": ["a"]}]},
    {"reference": "p/v1", "verdict": "approved",
     "requirements": [{"id": "R", "kind": "review", "name": "x", "estimate_hours": 1, "gates": []}]},
])
def test_answers_outside_the_contract_are_refused(body):
    """Wrong shape, verdict, reference, a rejection without reason, bad severity, estimate or gates: refused."""
    with pytest.raises(AnswerError):
        check_answer(body, reference="p/v1")


def test_the_request_carries_tasks_resources_risks_and_dates():
    """What Layer 3 is sent: the version's reference, dates, tasks with their dates, pools and risks."""
    document = _results()[1]["finalize"]
    request = validation_request(document, plan_id="p", version=1)
    assert request["reference"] == "p/v1" and request["project_start"] == document["project_start"]
    assert [task["id"] for task in request["tasks"]] == [task["id"] for task in document["tasks"]]
    assert request["tasks"][0]["start"] and request["resources"] and len(request["risks"]) == len(document["risks"])
