"""Every identification rule: a case that fires and a case that does not."""

from __future__ import annotations

from datetime import date

import pytest

from planning.risk import AllocationSummary, simulate_schedule
from planning.risk.context import RiskContext, goal_context, infer_tags, plan_context
from planning.risk.rules import RULES, external, integration, resource, run_rules, technical, timeline
from tests.planning.test_risk_support import SETTINGS, START, goal, goal_task, network, pools, schedule, task


def plan_ctx(net, snapshot=None, allocation=None, with_monte_carlo=False, the_goal=None) -> RiskContext:
    snapshot = snapshot or schedule(net)
    ctx = plan_context(the_goal or goal(), net, snapshot, allocation, SETTINGS)
    if with_monte_carlo:
        ctx.schedule_risk = simulate_schedule(net, snapshot, iterations=2000, seed=7)
    return ctx


def chain(n: int, **kwargs):
    return network(*[task(f"t{i}", deps=(f"t{i - 1}",) if i else (), **kwargs) for i in range(n)])


# technical ------------------------------------------------------------------------------------


def test_high_complexity_fires_on_a_large_network():
    """Forty tasks reach the size limit."""
    net = network(*[task(f"t{i}") for i in range(40)])
    [finding] = technical.high_complexity(plan_ctx(net))
    assert finding.category == "technical" and finding.evidence["tasks"] == 40


def test_high_complexity_fires_on_a_dense_network():
    """Two links per task on a small network pass the density limit."""
    tasks = [task("a"), task("b"), task("c", deps=("a", "b"))]
    tasks += [task(f"t{i}", deps=("a", "b", "c")) for i in range(5)]
    [finding] = technical.high_complexity(plan_ctx(network(*tasks)))
    assert finding.evidence["links_per_task"] >= 1.5 and "t0" in finding.affected_tasks


def test_high_complexity_quiet_on_a_small_chain():
    """Five tasks in a chain are not complex."""
    assert technical.high_complexity(plan_ctx(chain(5))) == []


def test_wide_estimates_fires_on_a_wide_critical_task():
    """A critical task with sigma/mean of 0.39 is flagged, with High impact."""
    net = network(task("wide", 2, 10, 30), task("next", deps=("wide",)))
    [finding] = technical.wide_estimates(plan_ctx(net))
    assert finding.affected_tasks == ("wide",) and finding.impact == "High"
    assert finding.probability == pytest.approx(0.3 + 0.5 * (28 / 6) ** 2 / ((28 / 6) ** 2 + (4 / 6) ** 2), abs=1e-3)


def test_wide_estimates_quiet_on_tight_estimates():
    """Ranges of +-10 % are not wide."""
    assert technical.wide_estimates(plan_ctx(chain(3))) == []


def test_new_technology_fires_on_a_tagged_task():
    """A new_technology tag on a critical task: probability 0.7, High."""
    [finding] = technical.new_technology(plan_ctx(network(task("a", tags=("new_technology",)))))
    assert (finding.probability, finding.impact, finding.affected_tasks) == (0.7, "High", ("a",))


def test_new_technology_fires_on_goal_text():
    """Before decomposition the goal's words stand in for tags."""
    ctx = goal_context(goal(title="Prototype a recommendation service"), SETTINGS)
    [finding] = technical.new_technology(ctx)
    assert finding.affected_tasks == () and finding.evidence["from_goal_text"]


def test_new_technology_quiet_without_tags():
    """No tag, no risk."""
    assert technical.new_technology(plan_ctx(chain(2))) == []


# resource -------------------------------------------------------------------------------------


def _short_goal(deadline: date, capacity: int = 1) -> object:
    tasks = (goal_task("a", 10, 15, 20, resources={"dev": 1}), goal_task("b", 10, 15, 20, resources={"dev": 1}))
    return goal(start=START, deadline=deadline, resources=pools(dev=capacity), tasks=tasks)


def test_demand_exceeds_capacity_fires_when_the_pool_cannot_deliver():
    """30 dev-hours of work into 16 working hours with one dev: certain, Critical."""
    [finding] = resource.demand_exceeds_capacity(goal_context(_short_goal(date(2026, 12, 2)), SETTINGS))
    assert (finding.subject, finding.probability, finding.impact) == ("dev", 0.95, "Critical")
    assert finding.evidence["supply_hours"] == 16


def test_demand_exceeds_capacity_fires_inside_the_buffer():
    """30 dev-hours into 32 hours fits, but not once the 10 % buffer is kept: 0.6, High."""
    [finding] = resource.demand_exceeds_capacity(goal_context(_short_goal(date(2026, 12, 4)), SETTINGS))
    assert (finding.probability, finding.impact) == (0.6, "High")


def test_demand_exceeds_capacity_quiet_with_time_to_spare():
    """Two weeks are plenty for 30 hours."""
    assert resource.demand_exceeds_capacity(goal_context(_short_goal(date(2026, 12, 15)), SETTINGS)) == []


def test_saturated_resource_fires_on_a_fully_used_pool():
    """One designer busy for the whole schedule is saturated."""
    net = network(task("a", resources={"designer": 1}), task("b", resources={"designer": 1}))
    [finding] = resource.saturated_resource(plan_ctx(net, schedule(net, {"designer": 1})))
    assert finding.subject == "designer" and finding.evidence["load"] == 1.0 and finding.impact == "High"


def test_saturated_resource_quiet_with_headroom():
    """Three units for two parallel tasks never reach capacity."""
    net = network(task("a", resources={"dev": 1}), task("b", resources={"dev": 1}))
    assert resource.saturated_resource(plan_ctx(net, schedule(net, {"dev": 3}))) == []


def test_single_person_critical_fires():
    """The only architect works the whole critical path."""
    net = network(task("a", resources={"architect": 1}), task("b", deps=("a",), resources={"architect": 1}))
    [finding] = resource.single_person_critical(plan_ctx(net, schedule(net, {"architect": 1})))
    assert finding.affected_tasks == ("a", "b") and finding.probability == 0.8


def test_single_person_critical_quiet_for_a_small_share():
    """One architect-hour on a 100-hour critical path is under the 10 % share."""
    net = network(task("build", 90, 100, 110), task("review", 1, 1, 1, deps=("build",), resources={"architect": 1}))
    assert resource.single_person_critical(plan_ctx(net, schedule(net, {"architect": 1}))) == []


def test_single_person_critical_quiet_with_two_people():
    """Two architects are no single point of failure."""
    net = network(task("a", resources={"architect": 1}), task("b", deps=("a",), resources={"architect": 1}))
    assert resource.single_person_critical(plan_ctx(net, schedule(net, {"architect": 2}))) == []


def test_allocation_shortfall_fires():
    """A critical task short of a unit: 0.9, Critical."""
    net = chain(2)
    allocation = AllocationSummary(shortfalls=[{"task_id": "t1", "resource": "dev", "needed": 2, "available": 1}])
    [finding] = resource.allocation_shortfall(plan_ctx(net, allocation=allocation))
    assert (finding.probability, finding.impact, finding.evidence["units_short"]) == (0.9, "Critical", 1)


def test_allocation_shortfall_quiet_when_covered():
    """No shortfalls, no risk."""
    assert resource.allocation_shortfall(plan_ctx(chain(2), allocation=AllocationSummary())) == []


@pytest.mark.parametrize(("cost", "expected"), [
    (1200.0, (0.9, "Critical")), (1050.0, (0.9, "High")), (950.0, (0.5, "Medium")),
])
def test_over_budget_fires(cost, expected):
    """20 % over is Critical, 5 % over High, within 10 % of the budget a Medium thin margin."""
    allocation = AllocationSummary(total_cost=cost, budget=1000.0)
    [finding] = resource.over_budget(plan_ctx(chain(2), allocation=allocation))
    assert (finding.probability, finding.impact) == expected


def test_over_budget_from_the_goal_estimate():
    """Before scheduling the goal's own estimate counts: 2 tasks × 15 h × 50/h = 1,500 against 1,000."""
    the_goal = _short_goal(date(2026, 12, 31))
    the_goal = goal(**{**the_goal.__dict__, "budget": 1000.0})
    [finding] = resource.over_budget(goal_context(the_goal, SETTINGS))
    assert finding.evidence["cost"] == 1500.0 and finding.impact == "Critical"


def test_over_budget_quiet_with_margin():
    """Half the budget is no risk."""
    assert resource.over_budget(plan_ctx(chain(2), allocation=AllocationSummary(total_cost=500, budget=1000))) == []


# timeline -------------------------------------------------------------------------------------


def test_schedule_compression_fires():
    """A 30-hour critical path against a 20-hour deadline."""
    net = chain(3)
    [finding] = timeline.schedule_compression(plan_ctx(net, schedule(net, deadline=20)))
    assert finding.evidence["gap_hours"] == 10 and finding.impact == "Critical"


def test_schedule_compression_from_the_goal_alone():
    """Before scheduling: 30 PERT hours of chained work, 16 working hours to the deadline."""
    tasks = (goal_task("a", 10, 15, 20), goal_task("b", 10, 15, 20, deps=("a",)))
    ctx = goal_context(goal(start=START, deadline=date(2026, 12, 2), tasks=tasks), SETTINGS)
    [finding] = timeline.schedule_compression(ctx)
    assert finding.affected_tasks == ("a", "b")


def test_schedule_compression_quiet_with_time():
    """A 40-hour deadline holds a 30-hour path."""
    net = chain(3)
    assert timeline.schedule_compression(plan_ctx(net, schedule(net, deadline=40))) == []


def test_deadline_below_p80_fires():
    """A right-skewed task meets the deadline on paper but not at P80."""
    net = network(task("a", 5, 10, 40))
    ctx = plan_ctx(net, schedule(net, deadline=15), with_monte_carlo=True)
    [finding] = timeline.deadline_below_p80(ctx)
    assert finding.probability == pytest.approx(1 - ctx.schedule_risk.deadline_probability)
    assert finding.evidence["p80"] > 15


def test_deadline_below_p80_quiet_when_p80_fits():
    """A deadline past P95 is safe."""
    net = network(task("a", 5, 10, 40))
    assert timeline.deadline_below_p80(plan_ctx(net, schedule(net, deadline=60), with_monte_carlo=True)) == []


def test_little_float_fires_on_a_chain():
    """Five tasks in a chain have no float at all."""
    [finding] = timeline.little_float(plan_ctx(chain(5)))
    assert finding.evidence["share"] == 1.0 and finding.impact == "High"


def test_little_float_quiet_with_slack():
    """Five short tasks beside one long one have days of float."""
    net = network(task("long", 90, 100, 110), *[task(f"s{i}") for i in range(5)])
    assert timeline.little_float(plan_ctx(net)) == []


def test_near_critical_paths_fires_on_twin_branches():
    """Of two equal branches the one off the critical path is critical about half the time."""
    net = network(task("x", 5, 10, 20), task("y", 5, 10, 20))
    snapshot = schedule(net, critical=["x"])
    [finding] = timeline.near_critical_paths(plan_ctx(net, snapshot, with_monte_carlo=True))
    assert finding.affected_tasks == ("y",) and 0.4 < finding.probability < 0.6


def test_near_critical_paths_without_monte_carlo():
    """Before scheduling, a task within 10 % float of the critical path counts."""
    tasks = (goal_task("a", 20, 20, 20), goal_task("b", 19, 19, 19))
    [finding] = timeline.near_critical_paths(goal_context(goal(tasks=tasks), SETTINGS))
    assert finding.affected_tasks == ("b",) and finding.probability == 0.4


def test_near_critical_paths_quiet_with_a_dominant_branch():
    """A branch a tenth as long as the critical one never becomes critical."""
    net = network(task("x", 90, 100, 110), task("y", 5, 10, 15))
    assert timeline.near_critical_paths(plan_ctx(net, with_monte_carlo=True)) == []


def test_poor_performance_fires():
    """CPI 0.7: probability 0.9, High."""
    ctx = plan_ctx(chain(2))
    ctx.performance = {"cpi": 0.7, "spi": 1.0, "overrunning_tasks": ["t0"]}
    [finding] = timeline.poor_performance(ctx)
    assert (finding.probability, finding.impact, finding.affected_tasks) == (0.9, "High", ("t0",))


def test_poor_performance_quiet_on_plan():
    """Indices of 0.95 are on plan."""
    ctx = plan_ctx(chain(2))
    ctx.performance = {"cpi": 0.95, "spi": 1.02}
    assert timeline.poor_performance(ctx) == []


# integration ----------------------------------------------------------------------------------


def test_cross_system_work_fires():
    """A data migration task is cross-system work."""
    [finding] = integration.cross_system_work(plan_ctx(network(task("m", tags=("data_migration",)))))
    assert finding.affected_tasks == ("m",)


def test_cross_system_work_quiet():
    """Untagged work is not."""
    assert integration.cross_system_work(plan_ctx(chain(2))) == []


def test_external_systems_fires():
    """A task on an external system, off the critical path: 0.5, Medium."""
    net = network(task("long", 90, 100, 110), task("ext", tags=("external_dependency",)))
    [finding] = integration.external_systems(plan_ctx(net))
    assert (finding.probability, finding.impact) == (0.5, "Medium")


def test_external_systems_quiet():
    """No external dependency, no risk."""
    assert integration.external_systems(plan_ctx(chain(2))) == []


def test_many_interfaces_fires():
    """Four components have six interfaces."""
    [finding] = integration.many_interfaces(goal_context(goal(components=("ui", "api", "db", "queue")), SETTINGS))
    assert finding.evidence["interfaces"] == 6 and finding.impact == "Medium"


def test_many_interfaces_quiet():
    """Three components are few."""
    assert integration.many_interfaces(goal_context(goal(components=("ui", "api", "db")), SETTINGS)) == []


def test_many_interfaces_counts_listed_interfaces():
    """When the goal lists its interfaces, those count: four components but two interfaces is quiet."""
    components = ("ui", "api", "db", "queue")
    listed = goal(components=components, context={"interfaces": [["ui", "api"], ["api", "db"]]})
    assert integration.many_interfaces(goal_context(listed, SETTINGS)) == []


def test_late_integration_fires():
    """Integration starting at hour 30 of 40 is late."""
    net = network(*[task(f"t{i}", deps=(f"t{i - 1}",) if i else (), tags=("integration",) if i == 3 else ())
                    for i in range(4)])
    [finding] = integration.late_integration(plan_ctx(net))
    assert finding.affected_tasks == ("t3",)


def test_late_integration_quiet_when_early():
    """Integration at the start is early."""
    net = network(*[task(f"t{i}", deps=(f"t{i - 1}",) if i else (), tags=("integration",) if i == 0 else ())
                    for i in range(4)])
    assert integration.late_integration(plan_ctx(net)) == []


# external -------------------------------------------------------------------------------------


TAG_RULES = [
    (technical.quality_targets, "model_quality", "technical"),
    (technical.unclear_scope, "scope_uncertainty", "technical"),
    (technical.irreversible_steps, "irreversible", "technical"),
    (external.security_exposure, "security", "external"),
    (external.compliance_obligations, "compliance", "external"),
    (external.third_party_dependency, "third_party", "external"),
    (external.procurement_lead_time, "procurement", "external"),
    (external.pending_approvals, "stakeholder_approval", "external"),
]


@pytest.mark.parametrize(("rule", "tag", "category"), TAG_RULES)
def test_tag_rules_fire(rule, tag, category):
    """Each tag rule fires on its tag, with its documented figures for a critical task."""
    [finding] = rule(plan_ctx(network(task("a", tags=(tag,)))))
    assert finding.category == category and finding.affected_tasks == ("a",)
    documented = {"quality_targets": (0.6, "High"), "unclear_scope": (0.7, "High"),
                  "irreversible_steps": (0.5, "Critical"), "security_exposure": (0.6, "High"),
                  "compliance_obligations": (0.6, "High"), "third_party_dependency": (0.7, "High"),
                  "procurement_lead_time": (0.7, "High"), "pending_approvals": (0.6, "High")}
    assert (finding.probability, finding.impact) == documented[rule.__name__]


@pytest.mark.parametrize(("rule", "tag", "category"), TAG_RULES)
def test_tag_rules_quiet(rule, tag, category):
    """Without the tag they stay quiet."""
    assert rule(plan_ctx(chain(2))) == []


def test_tag_rules_off_the_critical_path():
    """Off the critical path a tag rule uses its base probability and lower impact."""
    net = network(task("long", 90, 100, 110), task("buy", tags=("procurement",)))
    [finding] = external.procurement_lead_time(plan_ctx(net))
    assert (finding.probability, finding.impact) == (0.5, "Medium")


# the catalogue as a whole ---------------------------------------------------------------------


def test_context_flags_imply_tags():
    """A regulated goal carries the compliance tag before decomposition."""
    ctx = goal_context(goal(context={"regulated": True}), SETTINGS)
    assert "compliance" in ctx.goal_tags
    [finding] = external.compliance_obligations(ctx)
    assert finding.evidence["from_goal_text"]


def test_tags_inferred_from_goal_text():
    """Keywords map to tags at word starts: 'GDPR audit' is compliance, 'vendor integration' two tags."""
    assert infer_tags("GDPR audit of the billing flow") == ["compliance"]
    assert infer_tags("Integrate the vendor billing API") == ["integration", "third_party"]
    assert infer_tags("Paint the fence") == []


def test_rules_whose_needs_are_missing_do_not_run():
    """Before scheduling, rules needing the schedule, the allocation or Monte Carlo are skipped."""
    _, evaluated = run_rules(goal_context(goal(), SETTINGS))
    skipped = {spec.name for spec in RULES} - evaluated
    assert skipped == {"demand_exceeds_capacity", "saturated_resource", "allocation_shortfall", "over_budget",
                       "schedule_compression", "deadline_below_p80", "poor_performance", "late_integration"}


def test_every_rule_is_documented():
    """Each rule has a docstring saying what it detects and why, and a row in docs/risk.md."""
    from pathlib import Path

    catalogue = (Path(__file__).resolve().parents[2] / "docs" / "risk.md").read_text()
    for spec in RULES:
        assert spec.rule.__doc__ and "Why" in spec.rule.__doc__, spec.name
        assert f"`{spec.name}`" in catalogue, spec.name
