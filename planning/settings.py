"""Planning settings: the `[planning]` table of the configuration file.

A plain dataclass so pure code can take it as an argument; the app builds it
from env vars and the TOML file at start-up and validates it here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

IMPACT_LEVELS = ("Low", "Medium", "High", "Critical")


@dataclass(frozen=True)
class PlanningSettings:
    max_concurrent_tasks: int = 10
    default_task_timeout_hours: float = 8.0
    risk_threshold_probability: float = 0.7
    risk_threshold_impact: str = "High"
    resource_buffer_percentage: float = 0.1
    planning_horizon_days: int = 30
    auto_approve_low_risk_plans: bool = True
    enable_continuous_replanning: bool = True
    replanning_interval_minutes: int = 60
    max_tasks_per_plan: int = 2000
    max_decomposition_depth: int = 6
    domains_dir: str | None = None
    monte_carlo_iterations: int = 2000
    schedule_time_limit_seconds: float = 10.0
    hours_per_day: int = 8
    holidays: tuple[str, ...] = field(default_factory=tuple)  # ISO dates

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        if self.max_concurrent_tasks < 1:
            out.append("max_concurrent_tasks must be at least 1")
        if self.default_task_timeout_hours <= 0:
            out.append("default_task_timeout_hours must be positive")
        if not 0.0 <= self.risk_threshold_probability <= 1.0:
            out.append("risk_threshold_probability must be between 0 and 1")
        if self.risk_threshold_impact not in IMPACT_LEVELS:
            out.append(f"risk_threshold_impact must be one of {', '.join(IMPACT_LEVELS)}")
        if not 0.0 <= self.resource_buffer_percentage < 1.0:
            out.append("resource_buffer_percentage must be in [0, 1)")
        if self.planning_horizon_days < 1:
            out.append("planning_horizon_days must be at least 1")
        if self.replanning_interval_minutes < 1:
            out.append("replanning_interval_minutes must be at least 1")
        if self.max_tasks_per_plan < 1:
            out.append("max_tasks_per_plan must be at least 1")
        if self.max_decomposition_depth < 1:
            out.append("max_decomposition_depth must be at least 1")
        if self.monte_carlo_iterations < 100:
            out.append("monte_carlo_iterations must be at least 100")
        if self.schedule_time_limit_seconds <= 0:
            out.append("schedule_time_limit_seconds must be positive")
        if not 1 <= self.hours_per_day <= 24:
            out.append("hours_per_day must be between 1 and 24")
        return out

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
