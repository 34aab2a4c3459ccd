"""Property tests: whatever the goal, decomposition gives a sound network or a clear PlanningError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.decomposition import decompose, load_domain_library
from planning.errors import PlanningError
from planning.goal import STRATEGIES, Goal
from planning.settings import PlanningSettings
from tests.planning.conftest import check_network

LIBRARY = load_domain_library()
SETTINGS = PlanningSettings()
WORDS = ["web", "api", "orders", "billing", "survey", "email", "model", "region", "data", "portal", "search", "admin"]
POOL_TYPES = ["engineer", "qa", "designer", "ops", "product_manager", "analyst", "marketer", "researcher"]
ARTIFACTS = ["spec", "design", "build", "report", "inventory", "requirements", "findings"]
DOMAIN_ARTIFACTS = ["requirements", "inventory", "architecture", "findings", "market research"]


@st.composite
def goals(draw):
    domain = draw(st.sampled_from([None, *LIBRARY.ids]))
    components = draw(st.lists(st.sampled_from(WORDS), max_size=4, unique=True))
    pools = draw(st.lists(st.sampled_from(POOL_TYPES), max_size=4, unique=True))
    resources = [{"type": t, "capacity": draw(st.integers(1, 4)), "cost_per_hour": 50} for t in pools]
    tasks = []
    for index in range(draw(st.integers(0, 5))):
        task = {
            "id": f"t{index}",
            "name": draw(
                st.sampled_from(
                    [
                        "Write requirements",
                        "Implement the API",
                        "Load test",
                        "Zqxj wobble",
                        "Pilot study",
                        "Train model",
                    ]
                )
            ),
        }
        if index and draw(st.booleans()):
            task["depends_on"] = [f"t{draw(st.integers(0, index - 1))}"]
        if draw(st.booleans()):
            low = draw(st.integers(1, 20))
            task["estimate"] = {
                "optimistic": low,
                "most_likely": low + draw(st.integers(0, 10)),
                "pessimistic": low + draw(st.integers(10, 40)),
            }
        if pools and draw(st.booleans()):
            task["resources"] = {pools[0]: 1}
        # Artifacts only flow forward (earlier output, later input), so the goal itself is acyclic.
        task["outputs"] = [f"{draw(st.sampled_from(ARTIFACTS))}{index}"] if draw(st.booleans()) else []
        if index and draw(st.booleans()):
            task["inputs"] = [draw(st.sampled_from(ARTIFACTS)) + str(draw(st.integers(0, index - 1)))]
        if draw(st.integers(0, 4)) == 0:  # an artifact some domain task produces
            task["inputs"] = [*task.get("inputs", []), draw(st.sampled_from(DOMAIN_ARTIFACTS))]
        tasks.append(task)
    context = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "regulated": st.booleans(),
                "needs_labels": st.booleans(),
                "publish": st.booleans(),
                "hosting": st.sampled_from(["cloud", "on_premises"]),
            },
        )
    )
    return Goal.from_dict(
        {
            "title": draw(st.sampled_from(["Ship the portal", "Migrate the warehouse", "Office move", "Churn model"])),
            "domain": domain,
            "strategy": draw(st.sampled_from(STRATEGIES)),
            "deadline": "2027-09-30",
            "components": components,
            "resources": resources,
            "tasks": tasks,
            "context": context,
        }
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(goals())
def test_every_decomposition_is_a_sound_network(goal):
    """Acyclic, every task reachable from a start and leading to the end, sane estimates, known dependencies."""
    try:
        network = decompose(goal, SETTINGS, LIBRARY)
    except PlanningError as error:
        # Consuming a domain artifact can close a loop through domain work; that must be named, not planned.
        assert error.message.startswith("dependency cycle: ") and error.field.startswith("tasks["), error
        return
    check_network(network, goal)


@settings(max_examples=60, deadline=None)
@given(goals(), st.integers(min_value=5, max_value=60), st.integers(min_value=1, max_value=4))
def test_limits_give_a_planning_error_or_a_network_within_them(goal, max_tasks, max_depth):
    """Under tight limits decomposition either stays within them or raises a PlanningError with a field."""
    limits = PlanningSettings(max_tasks_per_plan=max_tasks, max_decomposition_depth=max_depth)
    try:
        network = decompose(goal, limits, LIBRARY)
    except PlanningError as error:
        # A mixed goal can also meet a cycle through inferred input/output links: named, on a task field.
        assert error.field in ("tasks", "components", "domain", "strategy") or error.field.startswith("tasks[")
        return
    assert len(network.tasks) <= max_tasks
