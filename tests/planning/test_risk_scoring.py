"""Scoring, ranking, ids, thresholds and alerts, and the mitigation history of a risk."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from planning.errors import PlanningError
from planning.risk import IMPACT_SCALE, Risk, mitigate
from planning.risk.assessor import build_assessment
from planning.risk.mitigations import CATALOGUE, recommend
from planning.risk.model import rank_risks, risk_id
from planning.settings import PlanningSettings

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def make(rule: str = "wide_estimates", probability: float = 0.5, impact: str = "Medium", **fields) -> Risk:
    fields.setdefault("category", "technical")
    return Risk(id=risk_id(rule, fields.pop("subject", "plan")), rule=rule, title=rule, description="",
                probability=probability, impact=impact, **fields)


def test_impact_scale_is_linear_one_to_four():
    """Low, Medium, High, Critical are 1, 2, 3, 4."""
    assert IMPACT_SCALE == {"Low": 1, "Medium": 2, "High": 3, "Critical": 4}


@pytest.mark.parametrize(("probability", "impact", "expected"), [(0.5, "Medium", 1.0), (0.7, "High", 2.1),
                                                                  (1.0, "Critical", 4.0), (0.0, "Low", 0.0)])
def test_score_is_probability_times_impact(probability, impact, expected):
    """score = probability × IMPACT_SCALE[impact]."""
    assert make(probability=probability, impact=impact).score == pytest.approx(expected)


def test_ranking_orders_by_score_then_impact_then_probability_then_id():
    """Higher score first; at equal score the higher impact, then the higher probability, then the id."""
    low = make("a", 0.2, "Low")
    high_impact = make("b", 0.5, "High")  # 1.5
    high_probability = make("c", 0.75, "Medium")  # 1.5
    top = make("d", 0.9, "Critical")
    ranked = rank_risks([low, high_probability, top, high_impact])
    assert [r.rule for r in ranked] == ["d", "b", "c", "a"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]


def test_risk_ids_are_stable_and_distinct():
    """The id depends on rule and subject only."""
    assert risk_id("saturated_resource", "dev") == risk_id("saturated_resource", "dev")
    assert risk_id("saturated_resource", "dev") != risk_id("saturated_resource", "qa")
    assert risk_id("saturated_resource", "dev").startswith("R-saturated_resource-")


def test_risk_validates_itself():
    """Out-of-range probability, unknown impact, category or status raise PlanningError naming the field."""
    with pytest.raises(PlanningError) as error:
        make(probability=1.2)
    assert error.value.field == "probability"
    with pytest.raises(PlanningError) as error:
        make(impact="Huge")
    assert error.value.field == "impact"
    with pytest.raises(PlanningError):
        make(category="weather")
    with pytest.raises(PlanningError):
        make(status="forgotten")


@pytest.mark.parametrize(("probability", "impact", "alert"), [
    (0.7, "High", True), (0.69, "Critical", False), (1.0, "Medium", False), (0.9, "Critical", True),
])
def test_alert_needs_both_thresholds(probability, impact, alert):
    """An alert is at or above 0.7 and at or above High, both."""
    assert make(probability=probability, impact=impact).is_alert(PlanningSettings()) is alert


def test_thresholds_come_from_the_settings():
    """Raising the impact threshold to Critical turns a High risk into no alert."""
    risk = make(probability=0.8, impact="High")
    assert risk.is_alert(PlanningSettings())
    assert not risk.is_alert(PlanningSettings(risk_threshold_impact="Critical"))
    assert not risk.is_alert(PlanningSettings(risk_threshold_probability=0.85))


def test_alerts_block_auto_approval():
    """An assessment with an alert blocks auto-approval; closed risks never alert."""
    settings = PlanningSettings()
    alerting = build_assessment([make(probability=0.8, impact="High")], None, settings)
    assert alerting.blocks_auto_approval and len(alerting.alerts) == 1
    quiet = build_assessment([make(probability=0.8, impact="High", status="closed"), make()], None, settings)
    assert not quiet.blocks_auto_approval and quiet.alerts == []


def test_mitigate_records_who_why_and_new_figures():
    """Mitigation sets the new figures and status and appends one history entry; the old risk is unchanged."""
    risk = make(probability=0.8, impact="High")
    updated = mitigate(risk, who="alice", why="added a backup supplier", new_probability=0.3, new_impact="Medium",
                       at=AT)
    assert (updated.probability, updated.impact, updated.status, updated.score) == (0.3, "Medium", "mitigated", 0.6)
    [entry] = updated.history
    assert (entry.who, entry.why, entry.at, entry.score, entry.status) == ("alice", "added a backup supplier", AT,
                                                                           0.6, "mitigated")
    assert risk.history == () and risk.status == "open"
    again = mitigate(updated, who="bob", why="supplier signed", new_probability=0.1, new_impact="Low", at=AT)
    assert [h.who for h in again.history] == ["alice", "bob"]


def test_mitigation_clears_an_alert():
    """Mitigating below the thresholds stops the risk alerting."""
    risk = make(probability=0.9, impact="Critical")
    assert risk.is_alert(PlanningSettings())
    updated = mitigate(risk, who="alice", why="scope cut", new_probability=0.4, new_impact="High", at=AT)
    assert not updated.is_alert(PlanningSettings())


@pytest.mark.parametrize(("fields", "bad"), [
    ({"new_probability": 1.5}, "new_probability"),
    ({"new_probability": True}, "new_probability"),
    ({"new_impact": "Severe"}, "new_impact"),
    ({"who": "  "}, "who"),
    ({"why": ""}, "why"),
])
def test_mitigate_refuses_a_bad_body(fields, bad):
    """Bad input raises PlanningError naming the field (the API answers 422)."""
    body = {"who": "alice", "why": "because", "new_probability": 0.2, "new_impact": "Low", "at": AT} | fields
    with pytest.raises(PlanningError) as error:
        mitigate(make(), **body)
    assert error.value.field == bad


def test_closed_risk_cannot_be_mitigated():
    """A closed risk is over."""
    with pytest.raises(PlanningError):
        mitigate(make(status="closed"), who="a", why="b", new_probability=0.1, new_impact="Low", at=AT)


def test_risk_round_trips_through_json():
    """to_dict is JSON-serializable and from_dict restores an equal risk, history included."""
    risk = make(probability=0.8, impact="High", affected_tasks=("a", "b"),
                mitigations=recommend(("spike", "add_buffer"), {"tasks": "a, b", "buffer_hours": 12}),
                owner="technical_lead", evidence={"wide_tasks": 2})
    risk = replace(mitigate(risk, who="alice", why="spiked", new_probability=0.4, new_impact="High", at=AT), rank=3)
    data = json.loads(json.dumps(risk.to_dict()))
    assert Risk.from_dict(data) == risk
    assert data["score"] == 1.2 and data["impact_value"] == 3


def test_every_catalogue_entry_says_what_it_changes():
    """Each mitigation fills its template without leftovers and states its change."""
    for key in CATALOGUE:
        [recommendation] = recommend((key,), {})
        assert "{" not in recommendation.changes and len(recommendation.changes) > 40, key
    [filled] = recommend(("crash",), {"resource": "dev", "tasks": "t1, t2"})
    assert "adds units of dev to critical tasks (t1, t2)" in filled.changes
