"""Bad input and configured limits: clear PlanningErrors naming the field, never a runaway."""

from __future__ import annotations

import dataclasses

import pytest

from planning.decomposition import decompose
from planning.errors import PlanningError
from planning.goal import Goal
from planning.settings import PlanningSettings
from tests.planning.conftest import make_goal


def test_too_many_tasks_for_the_limit_is_refused(library):
    """A goal whose decomposition passes max_tasks_per_plan fails with field 'components'."""
    goal = make_goal("software_delivery", "hierarchical", components=[f"Service {i}" for i in range(30)])
    with pytest.raises(PlanningError) as caught:
        decompose(goal, PlanningSettings(max_tasks_per_plan=100), library)
    assert caught.value.field == "components"
    assert "max_tasks_per_plan=100" in caught.value.message


def test_a_strategy_that_adds_too_many_tasks_is_refused(library):
    """When only the strategy's extra tasks pass the limit, the error names the strategy."""
    base = len(decompose(make_goal("ml_deployment", "hierarchical"), PlanningSettings(), library).tasks)
    with pytest.raises(PlanningError) as caught:
        decompose(make_goal("ml_deployment", "risk_based"), PlanningSettings(max_tasks_per_plan=base + 1), library)
    assert caught.value.field == "strategy"


def test_hybrid_skips_candidates_over_the_limit(library):
    """Hybrid leaves out candidates past the limit and records why."""
    base = len(decompose(make_goal("ml_deployment", "hierarchical"), PlanningSettings(), library).tasks)
    network = decompose(make_goal("ml_deployment", "hybrid"), PlanningSettings(max_tasks_per_plan=base + 1), library)
    assert "skipped" in network.notes["hybrid"]["candidates"]["risk_based"]
    assert len(network.tasks) <= base + 1


def test_too_many_explicit_tasks_is_refused(library):
    """More explicit tasks than max_tasks_per_plan fails with field 'tasks'."""
    goal = Goal.from_dict({"title": "Big", "tasks": [{"id": f"t{i}", "name": f"Task {i}"} for i in range(11)]})
    with pytest.raises(PlanningError) as caught:
        decompose(goal, PlanningSettings(max_tasks_per_plan=10), library)
    assert caught.value.field == "tasks"


def test_decomposition_deeper_than_the_limit_is_refused(library):
    """A domain nesting deeper than max_decomposition_depth fails with field 'domain'."""
    with pytest.raises(PlanningError) as caught:
        decompose(make_goal("software_delivery", "hierarchical"), PlanningSettings(max_decomposition_depth=1), library)
    assert caught.value.field == "domain"
    assert "max_decomposition_depth=1" in caught.value.message


def test_unknown_domain_is_refused(library, settings):
    """An unknown domain fails with field 'domain' and lists the known ones."""
    with pytest.raises(PlanningError) as caught:
        decompose(make_goal("quantum_baking"), settings, library)
    assert caught.value.field == "domain"
    assert "software_delivery" in caught.value.message


def test_unknown_strategy_is_refused(library, settings):
    """An unknown strategy fails with field 'strategy', at goal validation and in decompose."""
    with pytest.raises(PlanningError) as caught:
        make_goal("software_delivery", "clairvoyant")
    assert caught.value.field == "strategy"
    goal = make_goal("software_delivery")
    object.__setattr__(goal, "strategy", "clairvoyant")  # bypass validation, as a stale caller might
    with pytest.raises(PlanningError) as caught:
        decompose(goal, settings, library)
    assert caught.value.field == "strategy"


def test_unreadable_estimate_names_its_field():
    """An estimate out of order fails with the estimate's field path."""
    with pytest.raises(PlanningError) as caught:
        Goal.from_dict(
            {
                "title": "x",
                "tasks": [{"id": "a", "name": "A", "estimate": {"optimistic": 5, "most_likely": 3, "pessimistic": 9}}],
            }
        )
    assert caught.value.field == "tasks[0].estimate.most_likely"


def test_components_that_collide_as_ids_are_refused(library, settings):
    """Two components spelling the same id fail with the second component's field."""
    goal = make_goal("software_delivery", components=["Web app", "web-app"])
    with pytest.raises(PlanningError) as caught:
        decompose(goal, settings, library)
    assert caught.value.field == "components[1]"


def test_interfaces_must_name_components(library, settings):
    """An interface naming an unknown component fails with its field path."""
    goal = make_goal("software_delivery", "hierarchical", context={"interfaces": [["Web app", "Mainframe"]]})
    with pytest.raises(PlanningError) as caught:
        decompose(goal, settings, library)
    assert caught.value.field == "context.interfaces[0]"


def test_goal_matching_no_domain_falls_back_to_generic_with_a_warning(library, settings):
    """Without a domain and with no good match, the generic domain is used and the plan says so."""
    goal = make_goal(None, title="Organise the office party", description="Food, music and a venue.")
    network = decompose(goal, settings, library)
    assert network.domain == "generic"
    assert any("generic" in w for w in network.warnings)
    assert network.notes["domain_match"]["domain"] == "generic"


@pytest.mark.parametrize(
    ("title", "domain"),
    [
        ("Migrate the orders database from Oracle to PostgreSQL", "data_migration"),
        ("Deploy a churn prediction model", "ml_deployment"),
        ("Roll out Kubernetes clusters in three regions", "infrastructure_rollout"),
        ("User research study on onboarding drop-off", "research_study"),
        ("Launch campaign for the new analytics product", "product_launch"),
        ("Build a mobile app for field technicians", "software_delivery"),
    ],
)
def test_domain_is_matched_from_the_title(library, settings, title, domain):
    """TF-IDF matching picks the right domain from the title and records its score."""
    network = decompose(make_goal(None, "hierarchical", title=title, components=[]), settings, library)
    assert network.domain == domain
    note = network.notes["domain_match"]
    assert note["domain"] == domain and note["score"] >= note["threshold"]


def test_named_domain_still_records_the_match_scores(library, settings):
    """A goal naming its domain gets it, with the text match scores recorded for reference."""
    network = decompose(make_goal("research_study", "hierarchical"), settings, library)
    assert network.notes["domain_match"]["method"] == "named by the goal"
    assert set(network.notes["domain_match"]["scores"]) == set(library.ids) - {"generic"}


def test_settings_are_not_mutated(library):
    """Decomposition reads settings but never changes them."""
    settings = PlanningSettings()
    before = dataclasses.asdict(settings)
    decompose(make_goal("software_delivery"), settings, library)
    assert dataclasses.asdict(settings) == before
