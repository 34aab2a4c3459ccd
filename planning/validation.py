"""Layer 3 (Validation), seen from the pure side: what Layer 2 sends, and the answer checked.

The contract is docs/layer3-contract.md. `validation_request` turns a plan document into the
body Layer 2 sends; `check_answer` refuses an answer that is not the contract's (a wrong shape,
a verdict outside the enum, a requirement without an estimate, an answer about another version)
and `check_against_plan` one that names tasks the plan does not have: either means Layer 3 could
not be relied on, and the plan is marked `validation: {state: unavailable}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

VERDICTS = ("approved", "changes_required", "rejected")
SEVERITIES = ("low", "medium", "high", "critical")
REQUIREMENT_KINDS = ("review", "sign_off", "test")
MAX_REQUIREMENT_HOURS = 2000.0  # a requirement of more than a working year is a lie, not a review


class AnswerError(ValueError):
    """Layer 3's answer is not the contract's; the message says what is wrong."""


def validation_request(document: Mapping[str, Any], *, plan_id: str, version: int) -> dict:
    """The plan version as Layer 3 reads it: tasks, resources, risks and dates (docs/layer3-contract.md)."""
    return {
        "reference": f"{plan_id}/v{version}",
        "plan_id": plan_id,
        "version": version,
        "title": document.get("title"),
        "domain": document.get("domain"),
        "project_start": document.get("project_start"),
        "deadline": document.get("deadline"),
        "finish": document.get("finish"),
        "tasks": [{"id": task["id"], "name": task["name"], "phase": task.get("phase", ""),
                   "start": task["start"], "finish": task["finish"], "duration_hours": task["duration"],
                   "depends_on": list(task.get("depends_on") or ()), "resources": dict(task.get("resources") or {}),
                   "risk_tags": list(task.get("risk_tags") or ())}
                  for task in document.get("tasks") or ()],
        "resources": [{"type": pool.get("type"), "capacity": pool.get("capacity")}
                      for pool in document.get("resource_pools") or ()],
        "risks": [{"id": risk.get("id"), "category": risk.get("category"), "title": risk.get("title"),
                   "probability": risk.get("probability"), "impact": risk.get("impact"), "score": risk.get("score")}
                  for risk in document.get("risks") or ()],
    }


def _text(value: Any, where: str, *, required: bool = True, limit: int = 2000) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise AnswerError(f"{where} must be a non-empty string of at most {limit} characters")
    return value


def _ids(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise AnswerError(f"{where} must be a list of task ids")
    return list(dict.fromkeys(value))


def _hours(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 < value <= MAX_REQUIREMENT_HOURS:
        raise AnswerError(f"{where} must be a number of hours above 0 and at most {MAX_REQUIREMENT_HOURS:g}")
    return float(value)


def check_answer(body: Any, *, reference: str) -> dict:
    """The answer, normalised, or AnswerError. Unknown fields are ignored (the contract may grow)."""
    if not isinstance(body, dict):
        raise AnswerError("the answer is not a JSON object")
    if body.get("reference") != reference:
        raise AnswerError(f"the answer is about {body.get('reference')!r}, not {reference!r}")
    verdict = body.get("verdict")
    if verdict not in VERDICTS:
        raise AnswerError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    reason = _text(body.get("reason"), "reason", required=verdict == "rejected")
    findings_in, requirements_in = body.get("findings") or [], body.get("requirements") or []
    if not isinstance(findings_in, list) or not isinstance(requirements_in, list):
        raise AnswerError("findings and requirements must be lists")
    findings = []
    for n, finding in enumerate(findings_in):
        where = f"findings[{n}]"
        if not isinstance(finding, dict):
            raise AnswerError(f"{where} is not an object")
        if finding.get("severity") not in SEVERITIES:
            raise AnswerError(f"{where}.severity must be one of {', '.join(SEVERITIES)}")
        task_id = finding.get("task_id")
        if task_id is not None and not (isinstance(task_id, str) and task_id):
            raise AnswerError(f"{where}.task_id must be a task id or null")
        findings.append({"id": _text(finding.get("id"), f"{where}.id", limit=100), "severity": finding["severity"],
                         "task_id": task_id, "title": _text(finding.get("title"), f"{where}.title", limit=300),
                         "detail": _text(finding.get("detail"), f"{where}.detail", required=False),
                         "mitigation": _text(finding.get("mitigation"), f"{where}.mitigation", required=False)})
    requirements = []
    for n, requirement in enumerate(requirements_in):
        where = f"requirements[{n}]"
        if not isinstance(requirement, dict):
            raise AnswerError(f"{where} is not an object")
        if requirement.get("kind") not in REQUIREMENT_KINDS:
            raise AnswerError(f"{where}.kind must be one of {', '.join(REQUIREMENT_KINDS)}")
        gates = _ids(requirement.get("gates"), f"{where}.gates")
        if not gates:
            raise AnswerError(f"{where}.gates must name at least one task it gates")
        requirements.append({"id": _text(requirement.get("id"), f"{where}.id", limit=100),
                             "kind": requirement["kind"], "name": _text(requirement.get("name"), f"{where}.name",
                                                                         limit=300),
                             "estimate_hours": _hours(requirement.get("estimate_hours"), f"{where}.estimate_hours"),
                             "gates": gates, "after": _ids(requirement.get("after"), f"{where}.after")})
    for kind, items in (("finding", findings), ("requirement", requirements)):
        ids = [item["id"] for item in items]
        if len(ids) != len(set(ids)):
            raise AnswerError(f"two {kind}s share an id")
    return {"verdict": verdict, "reason": reason, "findings": findings, "requirements": requirements,
            "validation_id": body.get("validation_id") if isinstance(body.get("validation_id"), str) else None}


def check_against_plan(answer: Mapping[str, Any], task_ids: set[str]) -> None:
    """AnswerError when the answer names a task the plan does not have (Layer 3 judged another plan)."""
    for finding in answer["findings"]:
        if finding["task_id"] is not None and finding["task_id"] not in task_ids:
            raise AnswerError(f"finding {finding['id']} concerns task {finding['task_id']!r}, not in the plan")
    for requirement in answer["requirements"]:
        for task_id in (*requirement["gates"], *requirement["after"]):
            if task_id not in task_ids:
                raise AnswerError(f"requirement {requirement['id']} names task {task_id!r}, not in the plan")
