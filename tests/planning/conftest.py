"""Fixtures for the pure planning tests: the domain library, settings and a network checker."""

from __future__ import annotations

from collections import deque

import pytest

from planning.decomposition import RISK_TAGS, load_domain_library
from planning.goal import Goal
from planning.network import TaskNetwork
from planning.settings import PlanningSettings

COMPONENTS = {
    "software_delivery": ("Web app", "Orders API", "Payments service"),
    "data_migration": ("Customers", "Orders", "Invoices"),
    "ml_deployment": ("Churn model", "Uplift model"),
    "infrastructure_rollout": ("Frankfurt", "Dublin", "Virginia"),
    "research_study": ("Survey", "Interviews"),
    "product_launch": ("Email", "Paid social", "Webinar"),
    "generic": ("Stream A", "Stream B"),
}


@pytest.fixture(scope="session")
def library():
    return load_domain_library()


@pytest.fixture(scope="session")
def settings():
    return PlanningSettings()


def make_goal(domain: str | None = "software_delivery", strategy: str = "hybrid", **fields) -> Goal:
    data = {
        "title": fields.pop("title", f"Example goal for {domain}"),
        "domain": domain,
        "strategy": strategy,
        "start": "2027-01-04",
        "deadline": "2027-06-30",
        "components": list(COMPONENTS.get(domain or "generic", ())),
    }
    data.update(fields)
    return Goal.from_dict(data)


def check_network(network: TaskNetwork, goal: Goal) -> None:
    """Every invariant a decomposed network must satisfy, whatever the strategy."""
    network.validate()
    index = {task.id: task for task in network.tasks}
    assert len(index) == len(network.tasks)
    successors: dict[str, list[str]] = {task.id: [] for task in network.tasks}
    for task in network.tasks:
        estimate = task.estimate
        assert 0 < estimate.optimistic <= estimate.most_likely <= estimate.pessimistic, task.id
        for dep in task.depends_on:
            assert dep.task_id in index, (task.id, dep.task_id)
            assert dep.kind in ("FS", "SS", "FF")
            successors[dep.task_id].append(task.id)
        assert task.phase, task.id
        assert task.origin, task.id
        assert task.success_criteria, task.id
        assert set(task.risk_tags) <= set(RISK_TAGS), task.id
        if goal.resources:
            for resource_type, units in task.resources.items():
                pool = goal.pool(resource_type)
                assert pool is not None, (task.id, resource_type)
                assert 1 <= units <= pool.capacity, (task.id, resource_type, units)
    sources = [task.id for task in network.tasks if not task.depends_on]
    sinks = [task_id for task_id, succ in successors.items() if not succ]
    assert _reach(sources, successors) == set(index), "every task is reachable from a start"
    predecessors = {task.id: [dep.task_id for dep in task.depends_on] for task in network.tasks}
    assert _reach(sinks, predecessors) == set(index), "every task leads to an end"
    final = network.milestones[-1]
    assert set(final.depends_on) == set(sinks)
    expected_due = goal.deadline.isoformat() if hasattr(goal.deadline, "isoformat") else goal.deadline
    assert final.due == expected_due
    phased = [task_id for phase in network.phases for task_id in phase.task_ids]
    assert sorted(phased) == sorted(index), "every task is in exactly one phase"
    assert {m.phase for m in network.milestones[:-1]} == {phase.id for phase in network.phases}
    for milestone in network.milestones:
        assert milestone.depends_on and set(milestone.depends_on) <= set(index)
    wbs = {node["id"] for node in network.notes["wbs"]}
    assert all(task.parent in wbs for task in network.tasks)
    assert "domain_match" in network.notes
    assert TaskNetwork.from_dict(network.to_dict()).to_dict() == network.to_dict()


def _reach(starts: list[str], edges: dict[str, list[str]]) -> set[str]:
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for nxt in edges[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
