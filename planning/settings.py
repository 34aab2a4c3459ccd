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
    max_tasks_per_plan: int = 5000  # held within the schedule limit + 5 s and 2 GB: docs/benchmarks.md "Large projects"
    max_decomposition_depth: int = 6
    domains_dir: str | None = None
    monte_carlo_iterations: int = 2000
    schedule_time_limit_seconds: float = 10.0
    hours_per_day: int = 8
    holidays: tuple[str, ...] = field(default_factory=tuple)  # ISO dates
    # Open issues (a blocked or failed task) escalate one level each time their age passes
    # another multiple of their severity's threshold, in wall-clock hours, up to the max level.
    issue_escalation_hours_low: float = 72.0
    issue_escalation_hours_medium: float = 24.0
    issue_escalation_hours_high: float = 8.0
    issue_escalation_hours_critical: float = 2.0
    issue_escalation_max_level: int = 3
    # Replanning (planning.replanning.TriggerThresholds.from_settings reads these; docs/lifecycle.md):
    # the beat scan of executing plans runs every `replan_scan_seconds` when
    # `enable_continuous_replanning` is on, and replans a plan at most once per
    # `replanning_interval_minutes` (a manual replan is not debounced).
    replan_spi_t_threshold: float = 0.9
    replan_cpi_threshold: float = 0.9
    replan_min_percent_complete: float = 10.0
    replan_late_tolerance_hours: float = 0.0
    replan_deadline_probability_threshold: float = 0.8
    replan_min_escalation_level: int = 1
    replan_scan_seconds: float = 60.0
    # Objective units (hours) the replan's stability pass may give up for fewer moved tasks (0: ties only):
    # one working day by default, so a slip is absorbed by moving what it pushes, not by reshuffling the plan.
    replan_stability_tolerance: float = 8.0
    # Seconds a replan's schedule stage may take from its start (at most schedule_time_limit_seconds):
    # it starts from the previous schedule, so it needs far less than planning from nothing.
    replan_time_limit_seconds: float = 1.5

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
        for severity, hours in self.escalation_thresholds.items():
            if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours < float("inf"):
                out.append(f"issue_escalation_hours_{severity} must be a positive number of hours")
        if isinstance(self.issue_escalation_max_level, bool) or not isinstance(self.issue_escalation_max_level, int) \
                or not 1 <= self.issue_escalation_max_level <= 10:
            out.append("issue_escalation_max_level must be a whole number from 1 to 10")
        for name in ("replan_spi_t_threshold", "replan_cpi_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 10:
                out.append(f"{name} must be a number above 0 and at most 10")
        if isinstance(self.replan_min_percent_complete, bool) or not isinstance(
                self.replan_min_percent_complete, int | float) or not 0 <= self.replan_min_percent_complete <= 100:
            out.append("replan_min_percent_complete must be between 0 and 100")
        if isinstance(self.replan_late_tolerance_hours, bool) or not isinstance(
                self.replan_late_tolerance_hours, int | float) or not 0 <= self.replan_late_tolerance_hours < 1e6:
            out.append("replan_late_tolerance_hours must be a number of hours >= 0")
        if isinstance(self.replan_deadline_probability_threshold, bool) or not isinstance(
                self.replan_deadline_probability_threshold, int | float) \
                or not 0 <= self.replan_deadline_probability_threshold <= 1:
            out.append("replan_deadline_probability_threshold must be between 0 and 1")
        if isinstance(self.replan_min_escalation_level, bool) or not isinstance(self.replan_min_escalation_level, int) \
                or not 0 <= self.replan_min_escalation_level <= 10:
            out.append("replan_min_escalation_level must be a whole number from 0 to 10")
        if isinstance(self.replan_stability_tolerance, bool) or not isinstance(
                self.replan_stability_tolerance, int | float) or not 0 <= self.replan_stability_tolerance < 1e6:
            out.append("replan_stability_tolerance must be a number >= 0")
        if isinstance(self.replan_time_limit_seconds, bool) or not isinstance(
                self.replan_time_limit_seconds, int | float) or not 0 < self.replan_time_limit_seconds <= 3600:
            out.append("replan_time_limit_seconds must be between 0 and 3600 seconds")
        if isinstance(self.replan_scan_seconds, bool) or not isinstance(self.replan_scan_seconds, int | float) \
                or not 1 <= self.replan_scan_seconds <= 86400:
            out.append("replan_scan_seconds must be between 1 and 86400 seconds")
        return out

    @property
    def escalation_thresholds(self) -> dict[str, float]:
        """Hours an open issue of each severity may age before it escalates (again)."""
        return {"low": self.issue_escalation_hours_low, "medium": self.issue_escalation_hours_medium,
                "high": self.issue_escalation_hours_high, "critical": self.issue_escalation_hours_critical}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
