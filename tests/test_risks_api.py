"""The risk API: a plan's ranked risks and recorded mitigations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


@pytest.fixture
def planned(client):
    """A planned (ready) plan of the software delivery example, with its risks."""
    from tests.conftest import load_example

    plan_id = client.post("/api/v1/plans", json=load_example("software-delivery-portal.json")).get_json()["id"]
    return plan_id, client.get(f"/api/v1/plans/{plan_id}").get_json()


def test_plan_risks_are_listed_ranked(client, planned):
    """GET /plans/{id}/risks lists every risk of the plan, ranked, with a global id and the plan's key."""
    plan_id, plan = planned
    body = client.get(f"/api/v1/plans/{plan_id}/risks").get_json()
    assert [r["key"] for r in body["risks"]] == [r["id"] for r in sorted(plan["risks"], key=lambda r: r["rank"])]
    assert len({r["id"] for r in body["risks"]}) == len(body["risks"])
    categories = {r["category"] for r in body["risks"]}
    assert len(categories) >= 3, categories
    for risk in body["risks"]:
        assert risk["mitigations"] and 0 <= risk["probability"] <= 1
        assert risk["score"] == pytest.approx(risk["probability"] * risk["impact_value"], abs=1e-6)


def test_risk_list_filters(client, planned):
    """?category= and ?status= filter the list; an unknown value is a 422 naming the parameter."""
    plan_id, _ = planned
    technical = client.get(f"/api/v1/plans/{plan_id}/risks?category=technical").get_json()["risks"]
    assert technical and {r["category"] for r in technical} == {"technical"}
    response = client.get(f"/api/v1/plans/{plan_id}/risks?category=weather")
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "category"


def test_mitigation_updates_the_risk_and_keeps_history(embedded_app, client, planned):
    """POST /risks/{id}/mitigate records who, why and the new values; the list shows the new state."""
    plan_id, _ = planned
    risk = client.get(f"/api/v1/plans/{plan_id}/risks").get_json()["risks"][0]
    body = {"who": "alice", "why": "prototype built", "probability": 0.2, "impact": "Medium"}
    response = client.post(f"/api/v1/risks/{risk['id']}/mitigate", json=body)
    assert response.status_code == 200
    updated = response.get_json()
    assert updated["status"] == "mitigated" and updated["probability"] == 0.2 and updated["impact"] == "Medium"
    assert updated["score"] < risk["score"]
    assert updated["history"][-1]["who"] == "alice" and updated["history"][-1]["why"] == "prototype built"
    listed = {r["id"]: r for r in client.get(f"/api/v1/plans/{plan_id}/risks").get_json()["risks"]}
    assert listed[risk["id"]]["status"] == "mitigated"

    from app.extensions import db
    from app.models import AuditEntry

    with embedded_app.app_context():
        actions = db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.entity_id == risk["id"]))
        assert list(actions.scalars()) == ["risk.mitigate"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"why": "x", "probability": 0.2, "impact": "Low"}, "who"),
        ({"who": "a", "why": "x", "probability": 1.5, "impact": "Low"}, "probability"),
        ({"who": "a", "why": "x", "probability": 0.2, "impact": "Enormous"}, "impact"),
        ({"who": "a", "why": "x", "probability": 0.2, "impact": "Low", "colour": "red"}, "colour"),
    ],
)
def test_bad_mitigation_is_a_422(client, planned, body, field):
    """A malformed mitigation is refused with 422 naming the field, and the risk is unchanged."""
    plan_id, _ = planned
    risk = client.get(f"/api/v1/plans/{plan_id}/risks").get_json()["risks"][0]
    response = client.post(f"/api/v1/risks/{risk['id']}/mitigate", json=body)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.get_json()["errors"]}
    again = {r["id"]: r for r in client.get(f"/api/v1/plans/{plan_id}/risks").get_json()["risks"]}[risk["id"]]
    assert again["status"] == risk["status"] and again["probability"] == risk["probability"]


def test_unknown_risk_is_a_404(client):
    """Mitigating a risk that does not exist answers 404 problem+json."""
    body = {"who": "a", "why": "x", "probability": 0.2, "impact": "Low"}
    response = client.post("/api/v1/risks/no-such-risk/mitigate", json=body)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
