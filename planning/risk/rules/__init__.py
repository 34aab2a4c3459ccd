"""The rule catalogue: every rule, in the order it runs. docs/risk.md lists them.

A rule is a function ``(RiskContext) -> list[Finding]``. Its spec says what it needs (a
deadline, the schedule, the Monte Carlo result, the allocation, a cost and budget,
progress); rules whose needs are not met are skipped, so one list serves the
pre-assessment, the plan assessment and the reassessment, and a reassessment can tell
"no longer found" from "not looked at".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planning.risk.context import RiskContext
from planning.risk.rules import external, integration, resource, technical, timeline
from planning.risk.rules.finding import Finding

Rule = Callable[[RiskContext], list[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    """A rule, its category and what it needs from the context (see `RiskContext.available`)."""

    category: str
    rule: Rule
    needs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.rule.__name__


RULES: tuple[RuleSpec, ...] = (
    RuleSpec("technical", technical.high_complexity),
    RuleSpec("technical", technical.wide_estimates),
    RuleSpec("technical", technical.new_technology),
    RuleSpec("technical", technical.quality_targets),
    RuleSpec("technical", technical.unclear_scope),
    RuleSpec("technical", technical.irreversible_steps),
    RuleSpec("resource", resource.demand_exceeds_capacity, ("deadline",)),
    RuleSpec("resource", resource.saturated_resource, ("schedule",)),
    RuleSpec("resource", resource.single_person_critical),
    RuleSpec("resource", resource.allocation_shortfall, ("allocation",)),
    RuleSpec("resource", resource.over_budget, ("cost",)),
    RuleSpec("timeline", timeline.schedule_compression, ("deadline",)),
    RuleSpec("timeline", timeline.deadline_below_p80, ("deadline", "monte_carlo")),
    RuleSpec("timeline", timeline.little_float),
    RuleSpec("timeline", timeline.near_critical_paths),
    RuleSpec("timeline", timeline.poor_performance, ("progress",)),
    RuleSpec("integration", integration.cross_system_work),
    RuleSpec("integration", integration.external_systems),
    RuleSpec("integration", integration.many_interfaces),
    RuleSpec("integration", integration.late_integration, ("schedule",)),
    RuleSpec("external", external.security_exposure),
    RuleSpec("external", external.compliance_obligations),
    RuleSpec("external", external.third_party_dependency),
    RuleSpec("external", external.procurement_lead_time),
    RuleSpec("external", external.pending_approvals),
)


def run_rules(ctx: RiskContext) -> tuple[list[Finding], set[str]]:
    """All findings of the rules whose needs the context meets, in catalogue order, and those rules' names."""
    available = ctx.available()
    findings: list[Finding] = []
    evaluated: set[str] = set()
    for spec in RULES:
        if available.issuperset(spec.needs):
            evaluated.add(spec.name)
            findings.extend(spec.rule(ctx))
    return findings, evaluated


__all__ = ["RULES", "Finding", "Rule", "RuleSpec", "run_rules"]
