"""Goals that list their tasks: explicit-only, mixed with domain work, artifacts and cycles."""

from __future__ import annotations

import pytest

from planning.decomposition import decompose
from planning.errors import PlanningError
from planning.goal import STRATEGIES, Goal
from tests.planning.conftest import check_network, make_goal


def explicit_goal(**fields) -> Goal:
    data = {
        "title": "Harden the public API",
        "deadline": "2027-02-26",
        "resources": [
            {"type": "engineer", "capacity": 3, "cost_per_hour": 95},
            {"type": "security", "capacity": 1, "cost_per_hour": 120},
            {"type": "qa", "capacity": 1, "cost_per_hour": 75},
        ],
        "tasks": [
            {"id": "threat", "name": "Threat model of the public API", "outputs": ["threat model"]},
            {
                "id": "limits",
                "name": "Add per-client rate limiting",
                "inputs": ["threat model"],
                "estimate": {"optimistic": 8, "most_likely": 16, "pessimistic": 32},
                "resources": {"engineer": 1},
                "outputs": ["rate limiter"],
            },
            {"id": "pentest", "name": "Security testing and dependency audit", "inputs": ["rate limiter"]},
            {
                "id": "notes",
                "name": "Release notes",
                "depends_on": ["pentest"],
                "estimate": {"optimistic": 1, "most_likely": 2, "pessimistic": 3},
                "resources": {"engineer": 1},
            },
        ],
    }
    data.update(fields)
    return Goal.from_dict(data)


def test_explicit_only_goal_gives_exactly_its_tasks(library, settings):
    """A goal with tasks and no domain or components plans exactly those tasks."""
    goal = explicit_goal()
    network = decompose(goal, settings, library)
    check_network(network, goal)
    assert [t.id for t in network.tasks] == ["threat", "limits", "pentest", "notes"]
    assert network.strategy == "explicit"
    assert all(t.origin == "explicit" for t in network.tasks)
    assert network.notes["strategy"]["requested"] == "hybrid"


def test_explicit_tasks_keep_what_the_caller_gave(library, settings):
    """Given estimates, resources and names are never overwritten."""
    network = decompose(explicit_goal(), settings, library)
    limits = network.task("limits")
    assert (limits.estimate.optimistic, limits.estimate.most_likely, limits.estimate.pessimistic) == (8, 16, 32)
    assert limits.resources == {"engineer": 1}
    assert limits.name == "Add per-client rate limiting"


def test_missing_estimates_and_resources_come_from_the_matching_domain_task(library, settings):
    """A task without estimate or resources takes them from the domain task it reads like."""
    network = decompose(explicit_goal(), settings, library)
    pentest = network.task("pentest")
    template = library.get("software_delivery").templates["security_test"]
    assert pentest.estimate == template.estimate
    assert pentest.resources == {"security": 1}
    assert "security" in pentest.risk_tags
    filled = network.notes["explicit"]["filled"]["pentest"]
    assert filled["from"] == "software_delivery:security_test" and "estimate" in filled["fields"]


def test_unmatched_task_without_estimate_gets_the_domain_default_with_a_warning(library, settings):
    """A task like no domain task gets the domain default estimate and a warning says so."""
    goal = Goal.from_dict({"title": "Tidy up", "tasks": [{"id": "x", "name": "Zqxj wobble"}]})
    network = decompose(goal, settings, library)
    assert network.task("x").estimate == library.get("generic").default_estimate
    assert any("'x'" in w and "default estimate" in w for w in network.warnings)


def test_dependencies_are_inferred_from_artifacts(library, settings):
    """A task consuming an artifact depends on the task that produces it."""
    network = decompose(explicit_goal(), settings, library)
    assert [d.task_id for d in network.task("limits").depends_on] == ["threat"]
    assert [d.task_id for d in network.task("pentest").depends_on] == ["limits"]
    inferred = network.notes["explicit"]["inferred_dependencies"]
    assert {"task_id": "pentest", "depends_on": "limits", "artifact": "rate limiter"} in inferred


def test_cycle_through_artifacts_is_named(library, settings):
    """A cycle made of artifacts is reported with every step and the field of the first task on it."""
    goal = explicit_goal(
        tasks=[
            {"id": "a", "name": "Write spec", "inputs": ["feedback"], "outputs": ["spec"]},
            {"id": "b", "name": "Review spec", "inputs": ["spec"], "outputs": ["feedback"]},
        ]
    )
    with pytest.raises(PlanningError) as caught:
        decompose(goal, settings, library)
    assert "a -> b" in caught.value.message and "b -> a" in caught.value.message
    assert "consumes 'feedback'" in caught.value.message
    assert caught.value.field == "tasks[0].inputs"


def test_cycle_in_declared_dependencies_is_refused_with_its_field():
    """Declared depends_on cycles are refused when the goal is built, naming the cycle."""
    with pytest.raises(PlanningError) as caught:
        explicit_goal(
            tasks=[
                {"id": "a", "name": "A", "depends_on": ["b"]},
                {"id": "b", "name": "B", "depends_on": ["a"]},
            ]
        )
    assert "a -> b -> a" in caught.value.message or "b -> a -> b" in caught.value.message
    assert caught.value.field.startswith("tasks[")


def test_mixed_goal_replaces_the_domain_task_it_names(library, settings):
    """An explicit task that plainly is a domain task takes its place, keeping its id and dependencies."""
    goal = make_goal(
        "software_delivery",
        "hierarchical",
        tasks=[
            {
                "id": "orders-contract",
                "name": "API contract for Orders API",
                "estimate": {"optimistic": 2, "most_likely": 4, "pessimistic": 6},
                "resources": {"engineer": 1},
            },
        ],
    )
    network = decompose(goal, settings, library)
    check_network(network, goal)
    ids = {t.id for t in network.tasks}
    assert "orders-contract" in ids and "orders_api.api_contract" not in ids
    task = network.task("orders-contract")
    assert [d.task_id for d in task.depends_on] == ["orders_api.component_design"]
    assert "orders-contract" in [d.task_id for d in network.task("orders_api.implement_service").depends_on]
    assert task.parent == "orders_api/deliver_component"
    assert network.notes["explicit"]["replaced_domain_tasks"] == {"orders-contract": "orders_api.api_contract"}


def test_mixed_goal_adds_new_work_after_kickoff_and_wires_artifacts(library, settings):
    """Explicit work the domain lacks is added, starts after kickoff and links through artifacts."""
    goal = make_goal(
        "software_delivery",
        "temporal",
        tasks=[
            {
                "id": "sync",
                "name": "Offline sync engine",
                "inputs": ["Orders API api contract"],
                "outputs": ["sync engine"],
                "estimate": {"optimistic": 40, "most_likely": 64, "pessimistic": 140},
                "resources": {"engineer": 2},
            },
            {"id": "pilot", "name": "Pilot with ten technicians", "inputs": ["sync engine"]},
            {"id": "brochure", "name": "Print brochure", "resources": {"writer": 1}},
        ],
    )
    network = decompose(goal, settings, library)
    check_network(network, goal)
    assert "sync" in [d.task_id for d in network.task("pilot").depends_on]
    inferred = network.notes["explicit"]["inferred_dependencies"]
    expected = {"task_id": "sync", "depends_on": "orders_api.api_contract", "artifact": "Orders API api contract"}
    assert expected in inferred
    assert "brochure" in network.notes["explicit"]["started_after_kickoff"]


def test_explicit_ids_win_over_domain_ids(library, settings):
    """When an explicit id equals a domain task id, the domain task is renamed, not the caller's."""
    goal = make_goal("software_delivery", "hierarchical", tasks=[{"id": "kickoff", "name": "Zqxj wobble"}])
    network = decompose(goal, settings, library)
    assert network.task("kickoff").origin == "explicit"
    assert network.task("kickoff_2").origin.startswith("domain:")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_mixed_goals_work_with_every_strategy(library, settings, strategy):
    """Mixed goals decompose into valid networks under every strategy."""
    goal = make_goal(
        "data_migration",
        strategy,
        tasks=[
            {"id": "gdpr", "name": "Data protection and retention sign-off"},
            {"id": "extra", "name": "Load historic archive", "inputs": ["inventory"], "outputs": ["archive load"]},
        ],
    )
    network = decompose(goal, settings, library)
    check_network(network, goal)
    assert {"gdpr", "extra"} <= {t.id for t in network.tasks}
