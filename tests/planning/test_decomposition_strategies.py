"""Every strategy on every domain, and what makes each strategy's network its own."""

from __future__ import annotations

import itertools

import pytest

from planning.decomposition import RESOURCE_TYPES, decompose
from planning.goal import STRATEGIES
from tests.planning.conftest import COMPONENTS, check_network, make_goal

DOMAINS = sorted(COMPONENTS)
POOLS = [
    {"type": "engineer", "capacity": 3, "cost_per_hour": 95},
    {"type": "qa", "capacity": 1, "cost_per_hour": 75},
    {"type": "product_manager", "capacity": 1, "cost_per_hour": 110},
]


def signature(network) -> set[tuple[str, tuple[str, ...]]]:
    return {(task.id, tuple(sorted(dep.task_id for dep in task.depends_on))) for task in network.tasks}


@pytest.mark.parametrize(("domain", "strategy"), list(itertools.product(DOMAINS, STRATEGIES)))
def test_every_domain_and_strategy_gives_a_valid_network(library, settings, domain, strategy):
    """Each of the 42 domain x strategy pairs decomposes into a network meeting every invariant."""
    goal = make_goal(domain, strategy)
    network = decompose(goal, settings, library)
    check_network(network, goal)
    assert network.domain == domain
    assert network.strategy == strategy
    assert 20 <= len(network.tasks) <= 80


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_strategy_gives_a_different_network(library, settings, domain):
    """For one goal, the five base strategies produce five distinct networks."""
    networks = {s: decompose(make_goal(domain, s), settings, library) for s in STRATEGIES if s != "hybrid"}
    signatures = [frozenset(signature(n)) for n in networks.values()]
    assert len(set(signatures)) == len(signatures)


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_networks_start_with_a_single_task(library, settings, domain):
    """Domain-generated networks have exactly one start task, the kickoff."""
    for strategy in STRATEGIES:
        network = decompose(make_goal(domain, strategy), settings, library)
        assert [t.id for t in network.tasks if not t.depends_on] == ["kickoff"]


def test_builtin_domains_use_the_documented_resource_vocabulary(library):
    """Built-in domains only use resource types from the shared vocabulary."""
    for domain in library.domains.values():
        assert set(domain.resources) <= set(RESOURCE_TYPES), domain.id


def test_hierarchical_integrates_where_components_meet(library, settings):
    """Hierarchical adds one integration task per interface pair, after both components."""
    interfaces = [["Web app", "Orders API"], ["Orders API", "Payments service"]]
    goal = make_goal("software_delivery", "hierarchical", context={"interfaces": interfaces})
    network = decompose(goal, settings, library)
    integrations = [t for t in network.tasks if t.id.startswith("integrate.")]
    assert [t.id for t in integrations] == ["integrate.web_app.orders_api", "integrate.orders_api.payments_service"]
    ancestors = _ancestors(network)
    assert {"web_app.implement_ui", "orders_api.implement_service"} <= ancestors["integrate.web_app.orders_api"]
    assert "integrate.web_app.orders_api" in ancestors["system_test"]
    assert all(t.origin == "strategy:hierarchical" for t in integrations)


def test_hierarchical_wbs_follows_components(library, settings):
    """Hierarchical parents are the domain's compound tasks, one subtree per component."""
    network = decompose(make_goal("software_delivery", "hierarchical"), settings, library)
    assert network.task("orders_api.implement_service").parent == "orders_api/deliver_component"
    nodes = {node["id"]: node for node in network.notes["wbs"]}
    assert nodes["orders_api/deliver_component"]["parent"] == "deliver_software"


def test_functional_factors_out_shared_functions(library, settings):
    """Functional merges per-component shared work into one task every function waits for."""
    network = decompose(make_goal("software_delivery", "functional"), settings, library)
    ids = {t.id for t in network.tasks}
    assert "shared.ci_pipeline" in ids and "web_app.ci_pipeline" not in ids
    ancestors = _ancestors(network)
    for component in ("web_app", "orders_api", "payments_service"):
        build = next(t.id for t in network.tasks if t.id.startswith(component) and "implement" in t.id)
        assert "shared.ci_pipeline" in ancestors[build]
    assert network.task("shared.ci_pipeline").estimate.most_likely > 8  # bigger than one copy, smaller than three
    assert network.task("shared.ci_pipeline").estimate.most_likely < 24


def test_functional_gates_stages_inside_each_function(library, settings):
    """In a function, verification waits for every build task of that function."""
    network = decompose(make_goal("software_delivery", "functional"), settings, library)
    ancestors = _ancestors(network)
    assert "orders_api.data_model" in ancestors["orders_api.component_docs"]
    assert network.task("orders_api.component_docs").parent == "function:orders_api/verify"


def test_temporal_work_waits_for_the_previous_gate(library, settings):
    """No task of a phase starts before the previous phase's gate review."""
    network = decompose(make_goal("data_migration", "temporal"), settings, library)
    ancestors = _ancestors(network)
    phases = [p.id for p in network.phases]
    for previous, phase in zip(phases, phases[1:], strict=False):
        gate = f"gate.{previous}"
        for task in network.tasks:
            if task.phase == phase:
                assert gate in ancestors[task.id], (task.id, gate)
    assert all(m.depends_on == [f"gate.{m.phase}"] for m in network.milestones[:-1])


def test_resource_based_keeps_every_team_within_capacity(library, settings):
    """With earliest starts and no other limit, the resource-based network never over-uses a pool."""
    goal = make_goal("software_delivery", "resource_based", resources=POOLS)
    network = decompose(goal, settings, library)
    start, finish = _early_schedule(network)
    for pool in goal.resources:
        events = sorted(
            [(start[t.id], t.resources[pool.type]) for t in network.tasks if pool.type in t.resources]
            + [(finish[t.id], -t.resources[pool.type]) for t in network.tasks if pool.type in t.resources],
            key=lambda event: (event[0], event[1]),
        )
        in_use = 0
        for _, change in events:
            in_use += change
            assert in_use <= pool.capacity, pool.type
    assert all(t.parent.startswith("team:") for t in network.tasks)


def test_resource_based_groups_work_by_team(library, settings):
    """Resource-based parents are team streams named after the task's main resource type."""
    network = decompose(make_goal("research_study", "resource_based"), settings, library)
    task = network.task("survey.data_collection")
    assert task.parent.startswith("team:researcher/stream")


def test_risk_based_front_loads_spikes_mitigations_and_buffers(library, settings):
    """Risk-based adds spikes right after kickoff before risky work, mitigations per tag and phase buffers."""
    network = decompose(make_goal("ml_deployment", "risk_based"), settings, library)
    spikes = [t for t in network.tasks if t.id.startswith("spike.")]
    assert spikes
    for spike in spikes:
        assert [d.task_id for d in spike.depends_on] == ["kickoff"]
        target = spike.id.removeprefix("spike.")
        assert spike.id in [d.task_id for d in network.task(target).depends_on]
        assert spike.phase == network.phases[0].id
    mitigation = network.task("mitigate.model_quality")
    assert mitigation.name == "Evaluation protocol and early baseline"  # the domain's own mitigation
    tagged = [t.id for t in network.tasks if "model_quality" in t.risk_tags]
    assert all("mitigate.model_quality" in [d.task_id for d in network.task(t).depends_on] for t in tagged)
    buffers = [m.depends_on[0] for m in network.milestones[:-1]]
    assert all(b.startswith("buffer.") and network.task(b).resources == {} for b in buffers)


def test_risk_based_narrows_spiked_estimates(library, settings):
    """A spiked task keeps its most likely estimate but its pessimistic one shrinks."""
    plain = decompose(make_goal("ml_deployment", "hierarchical"), settings, library)
    risky = decompose(make_goal("ml_deployment", "risk_based"), settings, library)
    spiked = [t.id.removeprefix("spike.") for t in risky.tasks if t.id.startswith("spike.")]
    for task_id in spiked:
        before, after = plain.task(task_id).estimate, risky.task(task_id).estimate
        assert after.most_likely == before.most_likely and after.pessimistic < before.pessimistic


def test_hybrid_records_every_candidate_and_picks_the_lowest_score(library, settings):
    """Hybrid scores all five strategies, keeps the cheapest and says why."""
    network = decompose(make_goal("software_delivery", "hybrid", resources=POOLS), settings, library)
    note = network.notes["hybrid"]
    scores = {name: c["score"] for name, c in note["candidates"].items()}
    assert set(scores) == set(STRATEGIES) - {"hybrid"}
    assert note["winner"] == min(scores, key=scores.get)
    assert note["winner"] in note["reason"] and "score" in note["formula"]
    assert len(network.tasks) == note["candidates"][note["winner"]]["tasks"]


def test_hybrid_winner_network_matches_that_strategy(library, settings):
    """The hybrid network is exactly the winning strategy's network."""
    network = decompose(make_goal("research_study", "hybrid"), settings, library)
    winner = decompose(make_goal("research_study", network.notes["hybrid"]["winner"]), settings, library)
    assert signature(network) == signature(winner)


def test_goal_pools_replace_domain_types_with_the_closest(library, settings):
    """Domain types the goal lacks go to the closest pool listed, with a warning."""
    goal = make_goal("software_delivery", "hierarchical", resources=POOLS)
    network = decompose(goal, settings, library)
    assert network.notes["resource_mapping"]["designer"] == "engineer"
    assert any("'designer'" in w and "'engineer'" in w for w in network.warnings)
    assert "suggested_pools" not in network.notes


def test_without_goal_pools_the_domain_suggests_pools(library, settings):
    """A goal without pools gets suggested pools for exactly the resource types used."""
    network = decompose(make_goal("product_launch", "hierarchical"), settings, library)
    pools = {p["type"]: p for p in network.notes["suggested_pools"]}
    used = {r for t in network.tasks for r in t.resources}
    assert set(pools) == used
    assert pools["marketer"]["capacity"] == 3 and pools["marketer"]["cost_per_hour"] == 85


def test_preconditions_choose_methods_and_optional_tasks(library, settings):
    """Goal context switches HTN methods (on-premises sites) and optional tasks (regulated review)."""
    cloud = decompose(make_goal("infrastructure_rollout", "hierarchical"), settings, library)
    onprem = decompose(
        make_goal("infrastructure_rollout", "hierarchical", context={"hosting": "on_premises"}), settings, library
    )
    assert "dublin.account_setup" in {t.id for t in cloud.tasks}
    assert {"dublin.procure_hardware", "dublin.rack_and_cable"} <= {t.id for t in onprem.tasks}
    plain = decompose(make_goal("software_delivery", "hierarchical"), settings, library)
    regulated_goal = make_goal("software_delivery", "hierarchical", context={"regulated": True})
    regulated = decompose(regulated_goal, settings, library)
    assert "compliance_review" not in {t.id for t in plain.tasks}
    assert "compliance_review" in {t.id for t in regulated.tasks}


def test_component_names_choose_the_component_method(library, settings):
    """A user-facing component gets UX work; a service gets an API contract."""
    network = decompose(make_goal("software_delivery", "hierarchical"), settings, library)
    ids = {t.id for t in network.tasks}
    assert {"web_app.ux_design", "orders_api.api_contract"} <= ids
    assert "orders_api.ux_design" not in ids


def test_no_components_uses_the_domain_default_component(library, settings):
    """A goal without components is decomposed as one default component."""
    goal = make_goal("ml_deployment", "hierarchical", components=[])
    network = decompose(goal, settings, library)
    check_network(network, goal)
    assert "model.model_training" in {t.id for t in network.tasks}


def test_decomposition_is_deterministic(library, settings):
    """The same goal gives the same network, ids included."""
    goal = make_goal("data_migration", "hybrid")
    assert decompose(goal, settings, library).to_dict() == decompose(goal, settings, library).to_dict()


def _ancestors(network) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for task in network.tasks:  # tasks come in topological order
        out[task.id] = set()
        for dep in task.depends_on:
            out[task.id] |= {dep.task_id} | out[dep.task_id]
    return out


def _early_schedule(network):
    start, finish = {}, {}
    for task in network.tasks:
        duration = task.estimate.pert_mean
        begin = 0.0
        for dep in task.depends_on:
            if dep.kind == "SS":
                begin = max(begin, start[dep.task_id] + dep.lag_hours)
            elif dep.kind == "FF":
                begin = max(begin, finish[dep.task_id] + dep.lag_hours - duration)
            else:
                begin = max(begin, finish[dep.task_id] + dep.lag_hours)
        start[task.id], finish[task.id] = begin, begin + duration
    return start, finish
