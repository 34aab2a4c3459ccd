"""Stage `risk`: the goal's risks before any planning (dates, pools, explicit tasks)."""

from __future__ import annotations

from planning.risk import assess_goal
from planning.stages.input import StageInput


def assess_goal_risks(data: StageInput) -> dict:
    risks = assess_goal(data.goal, data.settings, start=data.start, at=data.created_at)
    return {"risks": [risk.to_dict() for risk in risks], "assessed": True}
