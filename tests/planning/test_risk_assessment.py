"""The three entry points end to end: assess_goal, assess_plan and reassess."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from planning.errors import PlanningError
from planning.goal import Estimate
from planning.risk import AllocationSummary, RiskAssessment, assess_goal, assess_plan, mitigate, reassess
from planning.risk.model import CATEGORIES
from planning.risk.reassessment import earned_value, read_progress
from planning.settings import PlanningSettings
from tests.planning.test_risk_support import SETTINGS, START, goal, goal_task, network, pools, schedule, task

AT = datetime(2026, 11, 25, tzinfo=UTC)


def _plan():
    """Six tasks over two people, a tight deadline, tags from four categories, a thin budget."""
    net = network(
        task("design", 8, 12, 30, resources={"dev": 1}, tags=("new_technology",)),
        task("api", 10, 16, 24, deps=("design",), resources={"dev": 1}, tags=("security",)),
        task("ui", 10, 14, 20, deps=("design",), resources={"dev": 1}),
        task("vendor", 6, 8, 16, deps=("api",), resources={"dev": 1}, tags=("third_party",)),
        task("integrate", 6, 8, 12, deps=("ui", "vendor"), resources={"dev": 1}, tags=("integration",)),
        task("release", 2, 3, 4, deps=("integrate",), resources={"dev": 1}),
    )
    snapshot = schedule(net, {"dev": 1}, deadline=70)
    the_goal = goal(title="Payments", start=START, deadline=date(2026, 12, 14), budget=4000.0,
                    resources=pools(dev=1), components=("web", "api", "db", "psp"))
    allocation = AllocationSummary(total_cost=3900.0, budget=4000.0)
    return the_goal, net, snapshot, allocation


def test_assess_goal_ranks_risks_from_the_goal_alone():
    """The pre-assessment finds risks in the goal's text, dates and pools and ranks them 1..n."""
    the_goal = goal(title="Integrate the vendor payment API", description="GDPR audit before launch",
                    start=START, deadline=date(2026, 12, 2), resources=pools(dev=1),
                    tasks=(goal_task("a", 10, 15, 40, resources={"dev": 1}),
                           goal_task("b", 10, 15, 20, deps=("a",), resources={"dev": 1})))
    risks = assess_goal(the_goal, SETTINGS)
    rules = {risk.rule for risk in risks}
    assert {"schedule_compression", "demand_exceeds_capacity", "compliance_obligations", "third_party_dependency",
            "cross_system_work", "single_person_critical", "wide_estimates"} <= rules
    assert [risk.rank for risk in risks] == list(range(1, len(risks) + 1))
    assert [risk.score for risk in risks] == sorted((risk.score for risk in risks), reverse=True)


def test_assess_plan_reports_all_parts():
    """A plan assessment has ranked risks from several categories, mitigations, owners and P50/P80/P95."""
    result = assess_plan(*_plan(), SETTINGS)
    categories = {risk.category for risk in result.risks}
    assert categories == set(CATEGORIES)
    for risk in result.risks:
        assert risk.mitigations and risk.owner and risk.history[0].who == "risk-assessor"
    schedule_risk = result.schedule_risk.to_dict()
    assert schedule_risk["p50"] <= schedule_risk["p80"] <= schedule_risk["p95"]
    assert schedule_risk["iterations"] == SETTINGS.monte_carlo_iterations
    assert 0.0 <= schedule_risk["deadline_probability"] <= 1.0


def test_assess_plan_alerts_and_approval():
    """Alerts are exactly the risks at or above both thresholds, and they block auto-approval."""
    result = assess_plan(*_plan(), SETTINGS)
    expected = [r for r in result.risks if r.probability >= 0.7 and r.impact in ("High", "Critical")]
    assert result.alerts == expected and result.blocks_auto_approval == bool(expected)
    lenient = assess_plan(*_plan(), PlanningSettings(risk_threshold_probability=1.0))
    assert lenient.alerts == [] and not lenient.blocks_auto_approval


def test_assess_plan_is_reproducible():
    """The same plan gives byte-identical rows, ids included (a redelivered stage writes the same)."""
    first = json.dumps(assess_plan(*_plan(), SETTINGS, at=AT).to_dict(), sort_keys=True)
    second = json.dumps(assess_plan(*_plan(), SETTINGS, at=AT).to_dict(), sort_keys=True)
    assert first == second


def test_assessment_round_trips():
    """RiskAssessment.to_dict / from_dict keep risks, alerts and the schedule risk."""
    result = assess_plan(*_plan(), SETTINGS)
    data = json.loads(json.dumps(result.to_dict()))
    again = RiskAssessment.from_dict(data)
    assert again.to_dict() == data and [r.id for r in again.alerts] == [r.id for r in result.alerts]


def _progress_on_plan(overrun: float = 1.0) -> dict:
    """design and api done (design in `overrun` × its planned 15 hours), ui half done, all on pace."""
    return {
        "design": {"percent_complete": 100, "actual_hours": 15 * overrun, "status": "completed"},
        "api": {"percent_complete": 100, "actual_hours": 16, "status": "completed"},
        "ui": {"percent_complete": 50, "actual_hours": 7, "status": "in_progress"},
    }


def test_reassess_simulates_the_remaining_work_only():
    """With the first tasks done, the forecast is now + the remaining work's simulation."""
    the_goal, net, snapshot, allocation = _plan()
    previous = assess_plan(the_goal, net, snapshot, allocation, SETTINGS).risks
    result = reassess(previous, the_goal, net, snapshot, _progress_on_plan(), SETTINGS, now_hours=46.0, at=AT)
    schedule_risk = result.schedule_risk
    assert schedule_risk.origin_hours == 46.0
    assert set(schedule_risk.criticality) == {"ui", "vendor", "integrate", "release"}
    # ui: half of its estimate left (on pace), then vendor, integrate, release in order on one dev
    remaining = 0.5 * Estimate(10, 14, 20).pert_mean + sum(Estimate(*e).pert_mean for e in [(6, 8, 16), (6, 8, 12),
                                                                                              (2, 3, 4)])
    assert schedule_risk.mean == pytest.approx(46.0 + remaining, rel=0.05)


def test_reassess_marks_realized_risks():
    """A task that ran past its pessimistic estimate realizes the risks it is affected by."""
    the_goal, net, snapshot, allocation = _plan()
    previous = assess_plan(the_goal, net, snapshot, allocation, SETTINGS).risks
    result = reassess(previous, the_goal, net, snapshot, _progress_on_plan(overrun=2.2), SETTINGS, now_hours=60.0,
                      at=AT)
    new_tech = next(r for r in result.risks if r.rule == "new_technology")
    assert new_tech.status == "realized" and new_tech.probability == 1.0
    assert new_tech.history[-1].why.startswith("realized: design ran past") and new_tech.history[-1].at == AT


def test_reassess_closes_risks_no_longer_found_and_keeps_mitigations():
    """Finished security work closes its risk; a mitigated risk keeps its agreed figures."""
    the_goal, net, snapshot, allocation = _plan()
    previous = assess_plan(the_goal, net, snapshot, allocation, SETTINGS).risks
    third_party = next(r for r in previous if r.rule == "third_party_dependency")
    agreed = mitigate(third_party, who="alice", why="second vendor", new_probability=0.2, new_impact="Medium", at=AT)
    previous = [agreed if r.id == agreed.id else r for r in previous]
    result = reassess(previous, the_goal, net, snapshot, _progress_on_plan(), SETTINGS, now_hours=46.0, at=AT)
    by_rule = {r.rule: r for r in result.risks}
    assert by_rule["security_exposure"].status == "closed"
    assert by_rule["security_exposure"].history[-1].why == "no longer detected on the remaining work"
    kept = by_rule["third_party_dependency"]
    assert (kept.status, kept.probability, kept.impact) == ("mitigated", 0.2, "Medium")


def test_reassess_leaves_risks_of_rules_it_cannot_run():
    """Without an allocation the shortfall risk is neither re-scored nor closed."""
    the_goal, net, snapshot, _ = _plan()
    allocation = AllocationSummary(shortfalls=[{"task_id": "release", "resource": "dev", "needed": 2, "available": 1}])
    previous = assess_plan(the_goal, net, snapshot, allocation, SETTINGS).risks
    shortfall = next(r for r in previous if r.rule == "allocation_shortfall")
    result = reassess(previous, the_goal, net, snapshot, _progress_on_plan(), SETTINGS, now_hours=46.0)
    after = next(r for r in result.risks if r.id == shortfall.id)
    assert after.status == "open" and after.history == shortfall.history


def test_reassess_rescores_from_earned_value():
    """Work running at half speed raises poor_performance and slows the remaining forecast."""
    the_goal, net, snapshot, allocation = _plan()
    snapshot = replace(snapshot, deadline_hours=200)
    previous = assess_plan(the_goal, net, snapshot, allocation, SETTINGS).risks
    slow = {"design": {"percent_complete": 100, "actual_hours": 26, "status": "completed"},
            "api": {"percent_complete": 50, "actual_hours": 17, "status": "in_progress"}}
    result = reassess(previous, the_goal, net, snapshot, slow, SETTINGS, now_hours=40.0, at=AT)
    assert result.performance["cpi"] < 0.9 and result.performance["performance_factor"] > 1.0
    poor = next(r for r in result.risks if r.rule == "poor_performance")
    assert poor.status == "open" and poor.history[0].why.startswith("identified on reassessment")
    on_pace = reassess(previous, the_goal, net, snapshot,
                       {"design": {"percent_complete": 100, "actual_hours": 13, "status": "completed"}},
                       SETTINGS, now_hours=13.0)
    assert result.schedule_risk.p50 - 40.0 > on_pace.schedule_risk.p50 - 13.0


def test_reassess_realizes_a_deadline_that_can_no_longer_be_met():
    """When no simulated outcome of the remaining work meets the deadline, deadline risks are realized."""
    the_goal, net, snapshot, allocation = _plan()
    previous = assess_plan(the_goal, net, snapshot, allocation, SETTINGS).risks
    late = {"design": {"percent_complete": 100, "actual_hours": 15, "status": "completed"}}
    result = reassess(previous, the_goal, net, snapshot, late, SETTINGS, now_hours=66.0, at=AT)
    assert result.schedule_risk.deadline_probability == 0.0
    compression = next(r for r in result.risks if r.rule == "schedule_compression")
    assert compression.status == "realized"
    assert compression.history[-1].why == "realized: no simulated outcome meets the deadline"


def test_earned_value_in_hours():
    """EV, AC, PV and the indices follow the textbook formulas on planned hours."""
    the_goal, net, snapshot, _ = _plan()
    state = read_progress(net, {"design": {"percent_complete": 100, "actual_hours": 26},
                                "api": {"percent_complete": 50, "actual_hours": 17}})
    figures = earned_value(net, snapshot, state, now_hours=snapshot.finishes["api"])
    planned = {t.id: t.duration_hours for t in net.tasks}
    ev = planned["design"] + 0.5 * planned["api"]
    assert figures["ev_hours"] == pytest.approx(ev) and figures["ac_hours"] == 43
    assert figures["cpi"] == pytest.approx(ev / 43, abs=1e-4)
    assert figures["pv_hours"] >= planned["design"] + planned["api"]


@pytest.mark.parametrize(("progress", "field"), [
    ({"nope": {"percent_complete": 10}}, "progress.nope"),
    ({"api": {"percent_complete": 150}}, "progress.api.percent_complete"),
    ({"api": {"actual_hours": -1}}, "progress.api.actual_hours"),
    ({"api": {"status": "sleeping"}}, "progress.api.status"),
])
def test_reassess_refuses_bad_progress(progress, field):
    """Bad progress raises PlanningError naming the field."""
    the_goal, net, snapshot, _ = _plan()
    with pytest.raises(PlanningError) as error:
        reassess([], the_goal, net, snapshot, progress, SETTINGS)
    assert error.value.field == field


def test_reassess_refuses_a_negative_now():
    """now_hours before the project start is refused."""
    the_goal, net, snapshot, _ = _plan()
    with pytest.raises(PlanningError) as error:
        reassess([], the_goal, net, snapshot, {}, SETTINGS, now_hours=-1)
    assert error.value.field == "now_hours"


def test_reassess_without_now_estimates_it_and_says_so():
    """Without now_hours the latest start plus actual hours stands in, with a warning."""
    the_goal, net, snapshot, _ = _plan()
    result = reassess([], the_goal, net, snapshot, _progress_on_plan(), SETTINGS)
    assert result.schedule_risk.origin_hours == max(snapshot.starts[t] + p["actual_hours"]
                                                    for t, p in _progress_on_plan().items())
    assert any("now_hours" in warning for warning in result.warnings)


def test_reassess_when_everything_is_done():
    """With all work finished the forecast is now, and task risks close."""
    the_goal, net, snapshot, allocation = _plan()
    previous = assess_plan(the_goal, net, snapshot, allocation, SETTINGS).risks
    done = {t.id: {"percent_complete": 100, "actual_hours": t.duration_hours, "status": "completed"}
            for t in net.tasks}
    result = reassess(previous, the_goal, net, snapshot, done, SETTINGS, now_hours=68.0, at=AT)
    assert result.schedule_risk.p50 == 68.0 and result.schedule_risk.deadline_probability == 1.0
    assert next(r for r in result.risks if r.rule == "security_exposure").status == "closed"
