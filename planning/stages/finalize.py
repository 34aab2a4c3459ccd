"""Stage `finalize`: the whole-plan risk assessment and Monte Carlo, then the plan document."""

from __future__ import annotations

from planning.plan_document import build_plan_document
from planning.risk_adapter import assess_scheduled_plan
from planning.stages.input import StageInput


def finalize_plan(data: StageInput) -> dict:
    return build_plan_document(data, assess_scheduled_plan(data))
