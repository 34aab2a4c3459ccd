"""Mixed goals (issue 12): which domain task an explicit task is the same work as (docs/decomposition.md's table)."""

from __future__ import annotations

import pytest

from planning.decomposition import decompose
from planning.goal import Goal

COMPONENTS = ["Ticketing API", "Web app"]
# explicit task name -> the domain tasks it takes over (empty: none, it is added beside them), and by what
CASES = [
    ("Build ticketing API", ["ticketing_api.implement_service"], "name"),
    ("Implement ticketing-api", ["ticketing_api.implement_service"], "name"),
    ("Kick-off meeting", ["kickoff"], "alias"),
    ("Pen test", ["security_test"], "alias"),
    ("Set up CI pipeline", ["ticketing_api.ci_pipeline", "web_app.ci_pipeline"], "alias"),
    ("CI pipeline for the web app", ["web_app.ci_pipeline"], "alias"),
    ("Design the web app screens", ["web_app.ux_design"], "alias"),
    ("Load testing", ["performance_test"], "alias"),
    ("Deploy to production", ["production_deploy"], "name"),
    ("UAT with the box office", ["acceptance_test"], "alias"),
    ("Write API docs", ["ticketing_api.component_docs"], "similarity"),
    ("Fix bugs", ["defect_fixing"], "alias"),
    ("Retro", ["retrospective"], "alias"),
    ("Ticketing API contract", ["ticketing_api.api_contract"], "name"),
    ("Set up monitoring", ["ticketing_api.observability", "web_app.observability"], "alias"),
    ("Test the web app", ["web_app.component_tests"], "alias"),
    ("Technical design", [], ""),  # two components have one: which is meant is not clear
    ("Automated tests", [], ""),  # the same
    ("Offline sync engine", [], ""),  # new work
    ("Marketing campaign", [], ""),
    ("Code review", [], ""),  # reviewing code is not setting up the review workflow
]


def plan_with(name: str, settings, library):
    goal = Goal.from_dict({"title": "Ticketing platform", "domain": "software_delivery", "strategy": "hierarchical",
                           "components": COMPONENTS, "tasks": [{"id": "x", "name": name}]})
    return decompose(goal, settings, library)


@pytest.mark.parametrize("name, taken, by", CASES, ids=[case[0] for case in CASES])
def test_an_explicit_task_takes_over_exactly_the_domain_tasks_it_is(name, taken, by, settings, library):
    """The explicit task replaces the domain tasks a person would say it is, and no others."""
    network = plan_with(name, settings, library)
    ids = {task.id for task in network.tasks}
    note = network.notes.get("explicit", {}).get("took_over", {}).get("x")
    if taken:
        assert note is not None and note["domain_tasks"] == taken and note["by"].startswith(by), note
        assert not ids & set(taken) and "x" in ids
    else:
        assert note is None, note


def test_a_shared_template_taken_over_keeps_every_copys_dependencies(settings, library):
    """One CI pipeline for both components: it precedes what each copy preceded and follows what each followed."""
    plain = plan_with("Offline sync engine", settings, library)
    network = plan_with("Set up CI pipeline", settings, library)
    copies = ("ticketing_api.ci_pipeline", "web_app.ci_pipeline")
    successors = {t.id for t in plain.tasks if any(d.task_id in copies for d in t.depends_on)}
    assert successors and successors <= {t.id for t in network.tasks if "x" in [d.task_id for d in t.depends_on]}
    predecessors = {d.task_id for t in plain.tasks if t.id in copies for d in t.depends_on}
    assert predecessors <= {d.task_id for d in network.task("x").depends_on}


def test_a_task_that_took_over_is_filled_from_that_template(settings, library):
    """'Pen test' has no estimate of its own: it gets the security test's estimate, criteria and risk tags."""
    network = plan_with("Pen test", settings, library)
    template = library.get("software_delivery").templates["security_test"]
    task = network.task("x")
    assert task.estimate.most_likely == template.estimate.most_likely
    assert "security" in task.risk_tags and tuple(task.success_criteria) == template.success_criteria
