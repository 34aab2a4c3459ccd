"""The two assessments: of the goal alone (the `risk` stage) and of the scheduled plan (`finalize`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from planning.goal import Goal
from planning.network import TaskNetwork
from planning.risk.context import goal_context, plan_context
from planning.risk.inputs import AllocationSummary, ScheduleSnapshot
from planning.risk.mitigations import recommend
from planning.risk.model import DEFAULT_OWNERS, IMPACT_SCALE, Risk, ScoreChange, risk_id, score
from planning.risk.monte_carlo import ScheduleRisk, simulate_schedule
from planning.risk.rules import Finding, run_rules
from planning.settings import PlanningSettings

ASSESSOR = "risk-assessor"  # the `who` of changes the assessor makes


@dataclass(frozen=True)
class RiskAssessment:
    """Ranked risks, the schedule risk, and the alerts that block auto-approval."""

    risks: list[Risk]
    schedule_risk: ScheduleRisk | None
    alerts: list[Risk]
    blocks_auto_approval: bool
    performance: dict[str, Any] | None = None  # earned-value figures (reassessment only)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "risks": [risk.to_dict() for risk in self.risks],
            "schedule_risk": self.schedule_risk.to_dict() if self.schedule_risk else None,
            "alerts": [risk.id for risk in self.alerts],
            "blocks_auto_approval": self.blocks_auto_approval,
            "performance": self.performance,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskAssessment:
        risks = [Risk.from_dict(item) for item in data.get("risks") or ()]
        alert_ids = set(data.get("alerts") or ())
        schedule = data.get("schedule_risk")
        return cls(
            risks=risks,
            schedule_risk=ScheduleRisk.from_dict(schedule) if schedule else None,
            alerts=[risk for risk in risks if risk.id in alert_ids],
            blocks_auto_approval=bool(data.get("blocks_auto_approval")),
            performance=data.get("performance"),
            warnings=list(data.get("warnings") or ()),
        )


def assess_goal(goal: Goal, settings: PlanningSettings, *, start: date | None = None,
                at: datetime | None = None) -> list[Risk]:
    """Pre-assessment before decomposition: the rules over the goal's own tasks, pools and dates; ranked.

    `start` is the planned start for a goal without one (the stage's "planned on" day), so
    the deadline rules can run.
    """
    ctx = goal_context(goal, settings, start)
    return findings_to_risks(run_rules(ctx)[0], at=at)


def assess_plan(goal: Goal, network: TaskNetwork, snapshot: ScheduleSnapshot, allocation: AllocationSummary | None,
                settings: PlanningSettings, seed: int | None = None, *, distribution: str = "beta_pert",
                at: datetime | None = None) -> RiskAssessment:
    """Assessment after scheduling: Monte Carlo on the schedule, then every rule; ranked, with alerts.

    `seed=None` derives the seed from the network, so the same plan always gives the same numbers.
    """
    schedule_risk = simulate_schedule(network, snapshot, iterations=settings.monte_carlo_iterations, seed=seed,
                                      distribution=distribution)
    ctx = plan_context(goal, network, snapshot, allocation, settings)
    ctx.schedule_risk = schedule_risk
    risks = findings_to_risks(run_rules(ctx)[0], at=at)
    return build_assessment(risks, schedule_risk, settings, warnings=list(schedule_risk.warnings))


def build_assessment(risks: list[Risk], schedule_risk: ScheduleRisk | None, settings: PlanningSettings, *,
                     performance: dict[str, Any] | None = None, warnings: list[str] | None = None) -> RiskAssessment:
    """Alerts are risks at or above both thresholds (closed ones excepted); any alert blocks auto-approval."""
    alerts = [risk for risk in risks if risk.is_alert(settings)]
    return RiskAssessment(risks=risks, schedule_risk=schedule_risk, alerts=alerts,
                          blocks_auto_approval=bool(alerts), performance=performance, warnings=warnings or [])


def findings_to_risks(findings: list[Finding], *, at: datetime | None, why: str = "identified by rule") -> list[Risk]:
    """Ranked risks: each finding with its stable id, catalogue mitigations, default owner and first history entry.

    Same order as `rank_risks`, but ranks are set as the risks are built (no second copy).
    """
    ordered = sorted(findings, key=lambda f: (-score(f.probability, f.impact), -IMPACT_SCALE[f.impact],
                                              -f.probability, risk_id(f.rule, f.subject)))
    risks = [finding_to_risk(finding, at=at, why=why, rank=rank) for rank, finding in enumerate(ordered, 1)]
    ids = [risk.id for risk in risks]
    if len(ids) != len(set(ids)):  # a rule reported the same subject twice: a bug in the rule
        raise RuntimeError(f"duplicate risk ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    return risks


def finding_to_risk(finding: Finding, *, at: datetime | None, why: str, rank: int | None = None) -> Risk:
    first = ScoreChange(finding.probability, finding.impact, score(finding.probability, finding.impact), "open",
                        ASSESSOR, f"{why} {finding.rule}", at)
    return Risk(
        id=risk_id(finding.rule, finding.subject),
        rule=finding.rule,
        category=finding.category,
        title=finding.title,
        description=finding.description,
        probability=finding.probability,
        impact=finding.impact,
        affected_tasks=finding.affected_tasks,
        mitigations=recommend(finding.mitigations, finding.details),
        owner=DEFAULT_OWNERS[finding.category],
        status="open",
        rank=rank,
        history=(first,),
        evidence=dict(finding.evidence),
    )

