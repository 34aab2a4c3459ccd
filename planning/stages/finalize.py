"""Stage `finalize`: the whole-plan risk assessment and Monte Carlo, then the plan document."""

from __future__ import annotations

from planning.plan_document import build_plan_document
from planning.risk_adapter import assess_scheduled_plan, reassess_scheduled_plan
from planning.stages.input import StageInput


def finalize_plan(data: StageInput) -> dict:
    return build_plan_document(data, assess_scheduled_plan(data))


def finalize_replan(data: StageInput) -> dict:
    """Stage `finalize` of a replanned version: the risks re-assessed with the actuals and a Monte Carlo of the
    remaining work from the status date (`data.sources["replan"]`: `risk_progress`, `status_hours`)."""
    assessment = assess_scheduled_plan(data)
    source = data.sources.get("replan") or {}
    if source.get("risk_progress") is not None:
        assessment = reassess_scheduled_plan(data, assessment, source["risk_progress"], source["status_hours"])
    return build_plan_document(data, assessment)
