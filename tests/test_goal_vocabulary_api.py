"""Named priorities and role_map at the API (issue 12), on the embedded app."""

from __future__ import annotations

import pytest


def mobile_goal(**fields) -> dict:
    pools = {"ios_developer": 2, "android_developer": 2, "tester": 1, "devops": 1, "pm": 1}
    return {"title": "Ship the ticketing apps", "domain": "software_delivery", "strategy": "hierarchical",
            "start": "2027-01-04", "components": ["iOS app", "Android app"],
            "resources": [{"type": name, "capacity": units, "cost_per_hour": 80} for name, units in pools.items()],
            **fields}


def test_a_named_priority_is_accepted_and_the_plan_shows_number_and_name(client):
    """priority "High" is priority 2; the plan and each task show 2 and "high", a task's own priority wins."""
    goal = mobile_goal(priority="High", tasks=[{"id": "store", "name": "App store listing", "priority": "LOW"}])
    answer = client.post("/api/v1/plans", json=goal)
    assert answer.status_code == 202, answer.get_json()
    plan = client.get(answer.headers["Location"]).get_json()
    assert plan["version_status"] == "ready", plan.get("error")
    assert (plan["priority"], plan["priority_name"]) == (2, "high")
    tasks = {task["id"]: task for task in plan["tasks"]}
    assert (tasks["store"]["priority"], tasks["store"]["priority_name"]) == (4, "low")
    assert {task["priority_name"] for task_id, task in tasks.items() if task_id != "store"} == {"high"}


def test_the_plan_shows_which_pools_served_every_role(client):
    """allocation.role_map names the pools of each role; engineering work is on both mobile pools."""
    plan_id = client.post("/api/v1/plans", json=mobile_goal(role_map={"writer": "pm"})).get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    role_map = plan["allocation"]["role_map"]
    assert sorted(role_map["engineer"]["pools"]) == ["android_developer", "ios_developer"]
    assert role_map["qa"]["pools"] == ["tester"] and role_map["ops"]["pools"] == ["devops"]
    assert role_map["writer"] == {**role_map["writer"], "pools": ["pm"], "how": "the goal's role_map"}
    assert {"android_developer", "ios_developer", "tester", "devops", "pm"} <= set(plan["cost"]["by_pool"])


@pytest.mark.parametrize("role_map, field", [
    ({"qa": "quality_team"}, "role_map.qa"),  # not one of the goal's pools
    ({"qa": 3}, "role_map"),
    ({"qa": []}, "role_map"),
])
def test_a_bad_role_map_is_a_422_naming_it(client, role_map, field):
    """A role_map naming no pool of the goal, or not a pool name, is refused naming the field; nothing is planned."""
    answer = client.post("/api/v1/plans", json=mobile_goal(role_map=role_map))
    assert answer.status_code == 422
    problem = answer.get_json()
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert any(error["field"].startswith(field) for error in problem["errors"]), problem
