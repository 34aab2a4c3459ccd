"""Risk Assessor: rule-based identification in five categories, scoring, mitigation,
Monte Carlo schedule risk and reassessment from progress. See docs/risk.md.

Pure code: NumPy only; no Flask, Celery or database. Exports load on first use, so
the API (which needs `Risk` and `mitigate`) does not load the Monte Carlo.
"""

from planning.lazy import lazy_exports

_WHERE = {
    "RiskAssessment": ".assessor",
    "assess_goal": ".assessor",
    "assess_plan": ".assessor",
    "AllocationSummary": ".inputs",
    "ScheduleSnapshot": ".inputs",
    "IMPACT_SCALE": ".model",
    "Recommendation": ".model",
    "Risk": ".model",
    "ScoreChange": ".model",
    "mitigate": ".model",
    "ScheduleRisk": ".monte_carlo",
    "simulate_schedule": ".monte_carlo",
    "reassess": ".reassessment",
}
__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE)
