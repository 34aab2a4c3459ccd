"""Goals written in other people's words (tests/data/other_vocabulary), planned end to end in-process (issue 12).

Each goal names its pools as its team does and lists some tasks in its own words. The plan must
give every role to the pools a person would, warn of no "largest pool" where a pool of the role
exists, leave no pool of a needed role idle, show the priority by number and name, and hold no
near-duplicate tasks (an explicit task that is a domain task takes it over).
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import pytest

from planning.decomposition.library import load_domain_library
from planning.decomposition.text import tokens
from planning.goal import Goal
from planning.settings import PlanningSettings
from planning.stages.allocate import allocate_resources
from planning.stages.decompose import decompose_goal
from planning.stages.finalize import finalize_plan
from planning.stages.input import StageInput
from planning.stages.risk import assess_goal_risks
from planning.stages.schedule import schedule_tasks

DATA = Path(__file__).resolve().parent.parent / "data" / "other_vocabulary"
EXPECTED = json.loads((DATA / "expectations.json").read_text())
NAMES = sorted(path.stem for path in DATA.glob("*.json") if path.stem != "expectations")
NEAR_DUPLICATE = 0.75  # Jaccard of two task names' words at or above which they read as the same work


def plan_in_process(raw: dict) -> dict:
    """risk -> decompose -> allocate -> schedule -> finalize, as the farm runs them, without the farm."""
    goal = Goal.from_dict(raw)
    base = {"goal": goal, "settings": PlanningSettings(schedule_time_limit_seconds=1.0), "plan_id": "p",
            "created_at": datetime(2027, 1, 4, tzinfo=UTC)}
    results: dict = {}
    for name, stage in (("risk", assess_goal_risks), ("decompose", decompose_goal), ("allocate", allocate_resources),
                        ("schedule", schedule_tasks)):
        results[name] = stage(StageInput(**base, results=dict(results)))
    return finalize_plan(StageInput(**base, results=dict(results)))


@functools.cache
def planned(name: str) -> tuple[dict, dict]:
    raw = json.loads((DATA / f"{name}.json").read_text())
    return raw, plan_in_process(raw)


def test_there_are_at_least_ten_such_goals():
    """At least ten goals, each with its expectations."""
    assert len(NAMES) >= 10 and set(NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", NAMES)
def test_roles_go_to_the_pools_a_person_would_choose(name):
    """allocation.role_map gives every expected role its pools, found in the vocabulary, with no largest-pool guess."""
    raw, plan = planned(name)
    role_map = plan["allocation"]["role_map"]
    for role, pools in EXPECTED[name]["roles"].items():
        assert sorted(role_map[role]["pools"]) == sorted(pools), (role, role_map[role])
        assert role_map[role]["how"] in ("role vocabulary", "same name", "the goal's role_map"), role_map[role]
    assert not [w for w in plan["warnings"] if "largest pool" in w]
    if "domain" in EXPECTED[name]:
        assert plan["domain"] == EXPECTED[name]["domain"]


@pytest.mark.parametrize("name", NAMES)
def test_no_pool_of_a_needed_role_sits_idle(name):
    """Every goal pool that fits a role the tasks need is allocated work and costs something."""
    raw, plan = planned(name)
    roles = load_domain_library().roles
    needed = set(plan["allocation"]["role_map"])
    working = {row["resource"] for row in plan["allocations"]}
    for pool in raw["resources"]:
        fit = roles.role_of(pool["type"])
        if fit is not None and fit.role in needed:
            assert pool["type"] in working, (pool["type"], fit.role)
            assert plan["cost"]["by_pool"].get(pool["type"], 0) > 0


@pytest.mark.parametrize("name", NAMES)
def test_no_near_duplicate_tasks(name):
    """No two tasks read as the same work, and each explicit task took over the domain task it names."""
    raw, plan = planned(name)
    names = {task["id"]: set(tokens(task["name"])) for task in plan["tasks"]}
    for (a, words_a), (b, words_b) in combinations(names.items(), 2):
        if words_a and words_b:
            assert len(words_a & words_b) / len(words_a | words_b) < NEAR_DUPLICATE, (a, b)
    took_over = plan["decomposition"]["notes"].get("explicit", {}).get("took_over", {})
    templates_left = {re.sub(r"_\d+$", "", task["id"].rsplit(".", 1)[-1]) for task in plan["tasks"]
                      if task["origin"] != "explicit"}
    for task_id, template in EXPECTED[name].get("took_over", {}).items():
        assert took_over[task_id]["template"] == template, took_over.get(task_id)
        assert template not in templates_left, template


@pytest.mark.parametrize("name", NAMES)
def test_priority_is_shown_by_number_and_name(name):
    """The plan shows the goal's priority as a number and a name; a task's own priority wins for that task."""
    raw, plan = planned(name)
    number, label = EXPECTED[name].get("priority", [None, None])
    if number is not None:
        assert (plan["priority"], plan["priority_name"]) == (number, label)
    own = {task["id"]: task["priority"] for task in raw.get("tasks", ()) if "priority" in task}
    for task in plan["tasks"]:
        if task["id"] in own:
            assert task["priority_name"] == own[task["id"]].lower()
        else:
            assert (task["priority"], task["priority_name"]) == (plan["priority"], plan["priority_name"])


@pytest.mark.parametrize("name", [name for name in NAMES if "words" in EXPECTED[name]])
def test_a_tasks_own_words_choose_among_the_pools_of_its_role(name):
    """Frontend work goes to the frontend pool, backend work to the backend pool."""
    _, plan = planned(name)
    resources = {task["id"]: set(task["resources"]) for task in plan["tasks"]}
    engineers = set(EXPECTED[name]["roles"]["engineer"])
    for task_id, pools in EXPECTED[name]["words"].items():
        assert resources[task_id] & engineers == set(pools), (task_id, resources[task_id])
