"""`/api/v1/resources` (the local pool set) and the allocate stage's I/O around Layer 8, on the embedded app."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.layer8 import Layer8Client
from app.models import AuditEntry, Goal, Plan, PlanVersion
from app.services.resources import gather_resource_sources, reserve_with_layer8
from planning.allocation import allocate_with_sources
from planning.goal import Goal as PlanningGoal
from planning.settings import PlanningSettings
from tests.layer8_server import Layer8TestServer
from tests.planning.resources_cases import network, task
from tests.security_support import admin_actor

ENGINEER = {"type": "engineer", "capacity": 3, "cost_rate": 90.0, "rate_unit": "hour", "currency": "EUR",
            "hours_per_day": 8, "substitutes": []}
SENIOR = {"type": "senior_engineer", "capacity": 1, "cost_rate": 960.0, "rate_unit": "day", "currency": "EUR",
          "hours_per_day": 8, "substitutes": ["engineer"]}


def put(client, *pools, **headers):
    return client.put("/api/v1/resources", json={"resources": list(pools)}, headers=headers)


def problem_fields(response) -> list[str]:
    assert response.mimetype == "application/problem+json"
    return [error["field"] for error in response.get_json().get("errors", [])]


# the API -------------------------------------------------------------------------------------


def test_the_local_set_starts_empty(client):
    """GET on a new service lists no pools."""
    assert client.get("/api/v1/resources").get_json() == {"resources": [], "updated_at": None}


def test_put_replaces_the_set_and_get_returns_it(client):
    """PUT stores the pools with their defaults filled in; GET returns exactly them."""
    response = put(client, {"type": "qa", "capacity": 2}, ENGINEER)
    assert response.status_code == 200
    body = response.get_json()
    assert body["changed"] == ["engineer", "qa"] and body["flagged_plans"] == []
    listed = client.get("/api/v1/resources").get_json()
    assert listed["resources"] == [ENGINEER, {"type": "qa", "capacity": 2, "cost_rate": 0.0, "rate_unit": "hour",
                                              "currency": "USD", "hours_per_day": 8, "substitutes": []}]
    assert listed["updated_at"]


def test_changed_lists_added_removed_and_modified_types_only(client):
    """Replacing {engineer, qa} by {engineer, senior} with qa dropped: changed is qa and senior, not engineer."""
    put(client, ENGINEER, {"type": "qa", "capacity": 2})
    body = put(client, ENGINEER, SENIOR).get_json()
    assert body["changed"] == ["qa", "senior_engineer"]
    assert [p["type"] for p in body["resources"]] == ["engineer", "senior_engineer"]


def test_put_leaves_an_audit_row(client, embedded_app):
    """Each replacement is audited with who did it and digests of the set before and after."""
    put(client, ENGINEER, **{"X-Actor": "ops-team"})
    with embedded_app.app_context():
        from app.extensions import db
        [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "resources.replace")).all()
        # X-Actor is ignored: the row names the authenticated key (app/security)
        assert (entry.actor, entry.entity, entry.entity_id) == (admin_actor(embedded_app), "resource_pools", "local")
        assert entry.after_digest and entry.before_digest


@pytest.mark.parametrize("pools, field", [
    ([{"type": "qa", "capacity": -1}], "resources[0].capacity"),
    ([{"type": "qa", "capacity": 1.5}], "resources[0].capacity"),
    ([{"type": "qa", "capacity": 1, "rate_unit": "week"}], "resources[0].rate_unit"),
    ([{"type": "qa", "capacity": 1, "currency": "euro"}], "resources[0].currency"),
    ([{"type": "qa", "capacity": 1, "hours_per_day": 25}], "resources[0].hours_per_day"),
    ([{"type": "qa", "capacity": 1, "substitutes": ["qa"]}], "resources[0].substitutes"),
    ([{"type": "qa", "capacity": 1, "colour": "red"}], "resources[0].colour"),
    ([{"type": "qa", "capacity": 1}, {"type": "qa", "capacity": 2}], "resources[1].type"),
    ([{"capacity": 1}], "resources[0].type"),
])
def test_invalid_pools_are_a_422_naming_the_field(client, pools, field):
    """Every invalid pool is refused as problem+json naming the field; nothing is stored."""
    response = put(client, *pools)
    assert response.status_code == 422
    assert field in problem_fields(response)
    assert response.get_json()["type"] == "/problems/invalid-resources"
    assert client.get("/api/v1/resources").get_json()["resources"] == []


def test_body_must_be_a_json_object_with_resources(client):
    """No `resources` key is a 422; a list body a 400; text a 415."""
    assert "resources" in problem_fields(client.put("/api/v1/resources", json={}))
    assert client.put("/api/v1/resources", json=[ENGINEER]).status_code == 400
    assert client.put("/api/v1/resources", data="engineer=3", content_type="text/plain").status_code == 415


# reallocation flags ---------------------------------------------------------------------------


def store_plan(session, *, pools: dict[str, str], status: str = "ready", current_version: int = 1) -> str:
    """A plan whose current version allocated each type in `pools` from the pool source given."""
    document = {"allocations": [{"task_id": "t", "resource": kind, "requested_resource": kind} for kind in pools],
                "resource_pools": [{"type": kind, "source": source} for kind, source in pools.items()]}
    goal = Goal(title="g", document={"title": "g"})
    plan = Plan(goal=goal, status=status, current_version=current_version)
    session.add_all([goal, plan, PlanVersion(plan=plan, version=1, status=status, document=document)])
    if current_version == 2:
        session.add(PlanVersion(plan=plan, version=2, status="ready", document={"allocations": []}))
    session.commit()
    return plan.id


def test_plans_using_a_changed_local_pool_are_flagged(client, embedded_app):
    """Only planned (ready) current versions whose changed type came from a pool following the local set are flagged."""
    with embedded_app.app_context():
        from app.extensions import db
        local = store_plan(db.session, pools={"engineer": "local"})
        suggested = store_plan(db.session, pools={"qa": "suggested", "engineer": "goal"})
        store_plan(db.session, pools={"engineer": "goal"})  # its own pool: not affected
        store_plan(db.session, pools={"engineer": "layer8"})  # Layer 8's pool: not affected
        store_plan(db.session, pools={"engineer": "local"}, status="failed")
        store_plan(db.session, pools={"engineer": "local"}, current_version=2)  # v2 no longer uses it
    body = put(client, ENGINEER, {"type": "qa", "capacity": 1}).get_json()
    assert sorted(body["flagged_plans"]) == sorted([local, suggested])
    assert put(client, ENGINEER, {"type": "qa", "capacity": 1}).get_json()["flagged_plans"] == []  # no change


def test_a_real_plan_on_suggested_pools_is_flagged_when_the_local_pool_changes(client):
    """A goal without pools is planned on the domain's suggested pools, so defining one of them locally flags it."""
    goal = {"title": "Build an orders API", "domain": "software_delivery", "components": ["Orders API"],
            "start": "2027-01-04"}
    plan_id = client.post("/api/v1/plans", json=goal).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    assert plan["version_status"] == "ready"
    kind = plan["allocations"][0]["resource"]
    assert put(client, {"type": kind, "capacity": 5}).get_json()["flagged_plans"] == [plan_id]


# the allocate stage's I/O ----------------------------------------------------------------------

SETTINGS = PlanningSettings()
PLANNED_GOAL = PlanningGoal.from_dict({"title": "Portal", "start": "2026-12-01", "deadline": "2027-01-29",
                                       "currency": "EUR", "budget": 50_000})
WORK = network(task("api", 16, {"engineer": 1}), task("ui", 16, {"engineer": 1}),
               task("test", 8, {"qa": 1}, deps=("api", "ui")))


@pytest.fixture
def layer8():
    with Layer8TestServer(hold_ttl=60) as server:
        yield server


@pytest.fixture
def layer8_client(layer8):
    made = Layer8Client(layer8.url, timeout=0.3, max_attempts=2, sleep=lambda _: None)
    yield made
    made.close()


def test_gather_reads_the_local_pools_and_layer8(client, embedded_app, layer8_client):
    """gather_resource_sources returns the stored pools and Layer 8's answer over the planning window."""
    put(client, ENGINEER)
    with embedded_app.app_context():
        from app.extensions import db
        sources = gather_resource_sources(session=db.session, goal=PLANNED_GOAL, settings=SETTINGS,
                                          layer8_client=layer8_client)
        without = gather_resource_sources(session=db.session, goal=PLANNED_GOAL, settings=SETTINGS,
                                          layer8_client=None)
    assert sources["local_pools"] == [ENGINEER]
    assert (sources["layer8"]["from"], sources["layer8"]["to"]) == ("2026-12-01", "2027-01-29")
    assert without["layer8"] is None


def test_gather_never_raises_when_layer8_is_down(client, embedded_app, layer8, layer8_client):
    """With Layer 8 stopped, the sources carry its error instead of raising."""
    layer8.stop()
    with embedded_app.app_context():
        from app.extensions import db
        sources = gather_resource_sources(session=db.session, goal=PLANNED_GOAL, settings=SETTINGS,
                                          layer8_client=layer8_client)
    assert sources["layer8"]["kind"] == "connection" and "error" in sources["layer8"]


def test_allocations_from_layer8_are_confirmed_there(client, embedded_app, layer8, layer8_client):
    """Gather, allocate, reserve: Layer 8's pools serve the work and every such row is confirmed at Layer 8."""
    put(client, {"type": "qa", "capacity": 1, "cost_rate": 50.0, "currency": "EUR"})
    with embedded_app.app_context():
        from app.extensions import db
        sources = gather_resource_sources(session=db.session, goal=PLANNED_GOAL, settings=SETTINGS,
                                          layer8_client=layer8_client)
    allocation = allocate_with_sources(PLANNED_GOAL, WORK, SETTINGS, **sources)
    result = reserve_with_layer8(allocation=allocation, layer8_client=layer8_client, reference="plan-7/v1")
    by_task = {row["task_id"]: row for row in result["allocations"]}
    assert (by_task["api"]["source"], by_task["api"]["status"]) == ("layer8", "confirmed")
    assert (by_task["ui"]["source"], by_task["ui"]["status"]) == ("layer8", "confirmed")
    assert (by_task["test"]["source"], by_task["test"]["status"]) == ("layer8", "confirmed")  # Layer 8 qa wins
    held = {a["id"]: a for a in layer8.allocations()}
    assert {held[row["layer8_allocation_id"]]["status"] for row in result["allocations"]} == {"confirmed"}
    assert held[by_task["api"]["layer8_allocation_id"]]["from"] == "2026-12-01"
    assert result["integration"]["layer8"]["status"] == "ok"


def test_with_layer8_stopped_the_plan_comes_from_the_local_pool_with_a_warning(client, embedded_app, layer8,
                                                                              layer8_client):
    """Layer 8 down: the allocation is still made, from the local pools, and carries an integration warning."""
    put(client, ENGINEER, {"type": "qa", "capacity": 1, "cost_rate": 50.0, "currency": "EUR"})
    layer8.stop()
    with embedded_app.app_context():
        from app.extensions import db
        sources = gather_resource_sources(session=db.session, goal=PLANNED_GOAL, settings=SETTINGS,
                                          layer8_client=layer8_client)
    result = reserve_with_layer8(allocation=allocate_with_sources(PLANNED_GOAL, WORK, SETTINGS, **sources),
                                 layer8_client=layer8_client, reference="plan-8/v1")
    assert {row["source"] for row in result["allocations"]} == {"local"}
    assert {row["status"] for row in result["allocations"]} == {"planned"}
    assert result["integration"]["layer8"]["status"] == "unavailable"
    assert any(w.startswith("Layer 8 resource manager unavailable") for w in result["warnings"])
    assert result["cost"]["total"] == 2 * 16 * 90 + 8 * 50


def test_planning_window_runs_to_the_deadline_or_the_horizon():
    """The availability query spans start to the later of the deadline and start + planning_horizon_days."""
    from app.services.resources import planning_window

    assert planning_window(PLANNED_GOAL, SETTINGS) == (date(2026, 12, 1), date(2027, 1, 29))
    short = PlanningGoal.from_dict({"title": "x", "start": "2026-12-01", "deadline": "2026-12-05"})
    assert planning_window(short, SETTINGS) == (date(2026, 12, 1), date(2026, 12, 31))


def test_an_unchanged_pool_keeps_its_updated_at(client, embedded_app):
    """Replacing the set with one pool changed leaves the other's row and updated_at as they were."""
    put(client, ENGINEER, {"type": "qa", "capacity": 2})
    with embedded_app.app_context():
        from app.extensions import db
        from app.models import ResourcePoolRecord

        stamps = {r.type: (r.id, r.updated_at) for r in db.session.scalars(sa.select(ResourcePoolRecord))}
    put(client, ENGINEER, {"type": "qa", "capacity": 3})
    with embedded_app.app_context():
        after = {r.type: (r.id, r.updated_at) for r in db.session.scalars(sa.select(ResourcePoolRecord))}
    assert after["engineer"] == stamps["engineer"]
    assert after["qa"][0] == stamps["qa"][0] and after["qa"][1] > stamps["qa"][1]
