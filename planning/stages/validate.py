"""Stage `validate`: Layer 3's verdict applied to the plan document finalize made (docs/layer3-contract.md).

What the stage's I/O step gathered (`data.sources["layer3"]`) is one of
- `{"state": "not_configured"}`: LAYER3_BASE_URL is unset; Layer 3 was not asked;
- `{"state": "unavailable", "reason": ...}`: Layer 3 was slow, down, failing, or answered outside the contract;
- `{"state": "answered", "answer": ...}`: the checked answer (`planning.validation.check_answer`).

An answer's requirements (reviews, sign-offs, tests) become tasks, after the tasks they follow and before the
tasks they gate, and the plan is scheduled and its document built again with them; its findings become risks
(category `external`, the finding as evidence). The `validation` block says what happened, and the `approval`
block what it allows: `rejected` blocks approval (with the reason), `changes_required` and `unavailable` block
automatic approval, and `unavailable` asks a manual approval to say it overrides (docs/lifecycle.md).
"""

from __future__ import annotations

from dataclasses import replace

from planning.errors import PlanningError
from planning.network import TaskNetwork
from planning.risk.model import Risk, rank_risks
from planning.stages.input import StageInput
from planning.validation import AnswerError, check_against_plan

# A finding's severity as a risk's probability and impact: Layer 3 says how bad, not how likely, so a more
# severe finding is also taken as more likely to bite.
FINDING_RISK = {"low": (0.3, "Low"), "medium": (0.5, "Medium"), "high": (0.7, "High"), "critical": (0.9, "Critical")}
REQUIREMENT_PHASE = "validation"


def validate_plan(data: StageInput) -> dict:
    return _validated(data, rebuild=_rebuild_plan)


def validate_replan(data: StageInput) -> dict:
    """A replanned version: the same, rescheduled from the status date as its schedule stage did."""
    return _validated(data, rebuild=_rebuild_replan)


def _validated(data: StageInput, *, rebuild) -> dict:
    document = data.result("finalize")
    source = dict(data.sources.get("layer3") or {"state": "not_configured"})
    if source.get("state") != "answered":
        return _with_validation(document, {key: source[key] for key in ("state", "reason") if key in source})
    answer = source["answer"]
    try:
        check_against_plan(answer, {task["id"] for task in document["tasks"]})
        if answer["requirements"]:
            document = rebuild(data, _with_requirements(data.result("decompose"), answer["requirements"]))
    except (AnswerError, ValueError) as error:  # an answer about another plan, or requirements making a cycle
        reason = f"Layer 3's answer does not fit the plan: {error}"
        return _with_validation(data.result("finalize"), {"state": "unavailable", "reason": reason})
    document = _with_findings(document, answer, data)
    block = {"state": answer["verdict"], "validation_id": answer.get("validation_id"),
             "findings": [finding["id"] for finding in answer["findings"]],
             "requirements": {requirement["id"]: requirement_task_id(requirement)
                              for requirement in answer["requirements"]}}
    if answer.get("reason"):
        block["reason"] = answer["reason"]
    return _with_validation(document, block)


def requirement_task_id(requirement: dict) -> str:
    return f"L3-{requirement['id']}"


def _with_requirements(network: dict, requirements: list[dict]) -> dict:
    """The decomposition with one task per requirement: after the tasks it follows, before those it gates."""
    tasks = [dict(task) for task in network["tasks"]]
    index = {task["id"]: task for task in tasks}
    for requirement in requirements:
        task_id = requirement_task_id(requirement)
        if task_id in index:  # a replan's copy of the network has it already (Layer 3 asked for it before)
            if not str(index[task_id].get("origin", "")).startswith("layer3:"):
                raise AnswerError(f"requirement {requirement['id']} would repeat task {task_id}")
            _gate(index, task_id, requirement["gates"])
            continue
        hours = requirement["estimate_hours"]
        task = {"id": task_id, "name": requirement["name"], "phase": REQUIREMENT_PHASE,
                "description": f"Layer 3 validation requirement ({requirement['kind']})",
                "estimate": {"optimistic": hours, "most_likely": hours, "pessimistic": hours},
                "resources": {}, "depends_on": [{"task_id": before, "kind": "FS", "lag_hours": 0.0}
                                                for before in requirement["after"]],
                "origin": f"layer3:{requirement['kind']}", "success_criteria": [f"{requirement['kind']} passed"]}
        tasks.append(task)
        index[task_id] = task
        _gate(index, task_id, requirement["gates"])
    changed = {**network, "tasks": tasks}
    TaskNetwork.from_dict(changed).validate()  # ValueError naming a cycle the requirements would make
    return changed


def _gate(index: dict[str, dict], task_id: str, gates: list[str]) -> None:
    for gated in gates:
        if not any(dep["task_id"] == task_id for dep in index[gated].get("depends_on", ())):
            index[gated]["depends_on"] = [*index[gated].get("depends_on", ()),
                                          {"task_id": task_id, "kind": "FS", "lag_hours": 0.0}]


def revised_results(document: dict, decompose: dict, schedule: dict) -> dict[str, dict]:
    """The decompose and schedule results that match a document Layer 3's requirements changed (empty when they
    changed nothing): later readers (progress, a replan) then see the tasks and dates the document has."""
    if not any(str(task.get("origin", "")).startswith("layer3:") for task in document["tasks"]):
        return {}
    known = {task["id"]: task for task in decompose["tasks"]}
    tasks = []
    for task in document["tasks"]:
        base = known.get(task["id"]) or {
            "id": task["id"], "name": task["name"], "description": task.get("description", ""),
            "parent": task.get("parent"), "phase": task.get("phase", ""), "estimate": task["estimate"],
            "resources": dict(task.get("resources") or {}), "success_criteria": list(task.get("success_criteria")
                                                                                   or ()),
            "risk_tags": list(task.get("risk_tags") or ()), "origin": task["origin"]}
        tasks.append({**base, "depends_on": list(task.get("dependencies") or ())})
    timing = {task["id"]: {"start": task["start_hour"], "finish": task["finish_hour"],
                           **{key: task[key] for key in ("es", "ef", "ls", "lf", "total_float", "free_float",
                                                         "critical")}}
              for task in document["tasks"]}
    return {"decompose": {**decompose, "tasks": tasks},
            "schedule": {**schedule, "tasks": timing, "critical_path": list(document["critical_path"]),
                         "makespan_hours": document["makespan_hours"], "solver": document["solver"]}}


def _rebuild_plan(data: StageInput, network: dict) -> dict:
    from planning.stages.finalize import finalize_plan
    from planning.stages.schedule import schedule_tasks

    changed = replace(data, results={**data.results, "decompose": network})
    changed = replace(changed, results={**changed.results, "schedule": _schedule(schedule_tasks, changed)})
    return finalize_plan(changed)


def _rebuild_replan(data: StageInput, network: dict) -> dict:
    from planning.replanning.stage import replan_tasks
    from planning.stages.finalize import finalize_replan

    changed = replace(data, results={**data.results, "decompose": network})
    changed = replace(changed, results={**changed.results, "schedule": _schedule(replan_tasks, changed)})
    return finalize_replan(changed)


def _schedule(scheduler, data: StageInput) -> dict:
    try:
        return scheduler(data)
    except PlanningError as error:
        raise ValueError(f"the plan with Layer 3's requirements cannot be scheduled: {error.message}") from None


def _with_findings(document: dict, answer: dict, data: StageInput) -> dict:
    """Each finding a risk of category `external` (the finding its evidence); risks ranked again."""
    if not answer["findings"]:
        return document
    risks = [Risk.from_dict(risk) for risk in document["risks"]]
    for finding in answer["findings"]:
        probability, impact = FINDING_RISK[finding["severity"]]
        risks.append(Risk(
            id=f"L3-{finding['id']}", rule="layer3_finding", category="external", title=finding["title"],
            description=finding.get("detail") or finding["title"], probability=probability, impact=impact,
            affected_tasks=(finding["task_id"],) if finding["task_id"] else (),
            evidence={"source": "layer3", "validation_id": answer.get("validation_id"), "finding": finding}))
    ranked = rank_risks(risks)
    alerts = [risk.id for risk in ranked if risk.is_alert(data.settings)]
    approval = dict(document.get("approval") or {})
    approval["blocked_by"] = alerts
    approval["auto_approvable"] = bool(approval.get("auto_approvable")) and not alerts
    return {**document, "risks": [risk.to_dict() for risk in ranked], "risk_alerts": alerts, "approval": approval}


def _with_validation(document: dict, block: dict) -> dict:
    """The `validation` block, and what it allows in `approval`."""
    state = block["state"]
    approval = dict(document.get("approval") or {})
    if state in ("rejected", "changes_required", "unavailable"):
        approval["auto_approvable"] = False
    approval["validation"] = {
        "rejected": "approval",  # no approval while Layer 3 rejects the plan: replan or reject it
        "unavailable": "override",  # a manual approval must say it overrides the missing validation
        "changes_required": "auto_approval",
    }.get(state)
    if state == "rejected":
        approval["validation_reason"] = block.get("reason")
    return {**document, "validation": block, "approval": approval}
