"""Risk Assessor: rule-based identification in five categories, scoring, mitigation,
Monte Carlo schedule risk and reassessment from progress. See docs/risk.md.

Pure code: NumPy only; no Flask, Celery or database.
"""

from planning.risk.assessor import RiskAssessment, assess_goal, assess_plan
from planning.risk.inputs import AllocationSummary, ScheduleSnapshot
from planning.risk.model import IMPACT_SCALE, Recommendation, Risk, ScoreChange, mitigate
from planning.risk.monte_carlo import ScheduleRisk, simulate_schedule
from planning.risk.reassessment import reassess

__all__ = [
    "IMPACT_SCALE",
    "AllocationSummary",
    "Recommendation",
    "Risk",
    "RiskAssessment",
    "ScheduleRisk",
    "ScheduleSnapshot",
    "ScoreChange",
    "assess_goal",
    "assess_plan",
    "mitigate",
    "reassess",
    "simulate_schedule",
]
