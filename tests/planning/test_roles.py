"""Role matching (issue 12): the goal's pools, named as teams name them, get the work a person would give them."""

from __future__ import annotations

import pytest

from planning.decomposition import decompose
from planning.decomposition.library import load_domain_library
from planning.errors import PlanningError
from tests.planning.conftest import check_network, make_goal

# (domain, pools as name: capacity, the mapping a person would make: role -> pools). Roles a case leaves out
# are not asserted here (they go to the closest role's pools, with a warning; see the tests below).
CASES = [
    # mobile, web, backend, games, embedded: software delivery
    ("software_delivery", {"ios_developer": 2, "android_developer": 2, "ux_designer": 1, "tester": 2, "devops": 1,
                           "pm": 1, "security_analyst": 1},
     {"engineer": {"ios_developer", "android_developer"}, "designer": {"ux_designer"}, "qa": {"tester"},
      "ops": {"devops"}, "product_manager": {"pm"}, "security": {"security_analyst"}}),
    ("software_delivery", {"backend_engineer": 3, "qa_engineer": 2, "sre": 1, "product_manager": 1},
     {"engineer": {"backend_engineer"}, "qa": {"qa_engineer"}, "ops": {"sre"}, "product_manager": {"product_manager"}}),
    ("software_delivery", {"frontend_developer": 2, "backend_developer": 2, "ui_designer": 1, "qa_analyst": 1,
                           "platform_engineer": 1, "product_owner": 1, "technical_writer": 1},
     {"engineer": {"frontend_developer", "backend_developer"}, "designer": {"ui_designer"}, "qa": {"qa_analyst"},
      "ops": {"platform_engineer"}, "product_manager": {"product_owner"}, "writer": {"technical_writer"}}),
    ("software_delivery", {"Software Engineers": 4, "QA": 2, "DevOps": 1, "Product Manager": 1, "UX": 1},
     {"engineer": {"Software Engineers"}, "qa": {"QA"}, "ops": {"DevOps"}, "product_manager": {"Product Manager"},
      "designer": {"UX"}}),
    ("software_delivery", {"FullStackDeveloper": 3, "TestEngineer": 1, "CloudOps": 1, "ScrumMaster": 1, "AppSec": 1},
     {"engineer": {"FullStackDeveloper"}, "qa": {"TestEngineer"}, "ops": {"CloudOps"},
      "product_manager": {"ScrumMaster"}, "security": {"AppSec"}}),
    ("software_delivery", {"developers": 4, "testers": 2, "sysadmins": 1, "project_manager": 1, "designers": 1,
                           "security_engineers": 1, "docs_writer": 1},
     {"engineer": {"developers"}, "qa": {"testers"}, "ops": {"sysadmins"}, "product_manager": {"project_manager"},
      "designer": {"designers"}, "security": {"security_engineers"}, "writer": {"docs_writer"}}),
    ("software_delivery", {"java_devs": 3, "manual_testers": 2, "infra_team": 1, "po": 1, "graphic_designer": 1},
     {"engineer": {"java_devs"}, "qa": {"manual_testers"}, "ops": {"infra_team"}, "product_manager": {"po"},
      "designer": {"graphic_designer"}}),
    ("software_delivery", {"engineer": 3, "senior_engineer": 2, "qa": 1, "ops": 1},
     {"engineer": {"engineer", "senior_engineer"}, "qa": {"qa"}, "ops": {"ops"}}),
    ("software_delivery", {"gameplay_programmer": 3, "qa_tester": 2, "build_engineer": 1, "producer": 1},
     {"engineer": {"gameplay_programmer"}, "qa": {"qa_tester"}, "ops": {"build_engineer"},
      "product_manager": {"producer"}}),
    ("software_delivery", {"web_developer": 2, "web_designer": 1, "site_reliability_engineer": 1},
     {"engineer": {"web_developer"}, "designer": {"web_designer"}, "ops": {"site_reliability_engineer"}}),
    ("software_delivery", {"firmware_engineer": 2, "hardware_test_engineer": 1, "it_ops": 1, "program_manager": 1},
     {"engineer": {"firmware_engineer"}, "qa": {"hardware_test_engineer"}, "ops": {"it_ops"},
      "product_manager": {"program_manager"}}),
    ("software_delivery", {"python_developer": 2, "react_developer": 2, "sdet": 1, "kubernetes_admin": 1,
                           "delivery_manager": 1, "pentester": 1},
     {"engineer": {"python_developer", "react_developer"}, "qa": {"sdet"}, "ops": {"kubernetes_admin"},
      "product_manager": {"delivery_manager"}, "security": {"pentester"}}),
    # data
    ("data_migration", {"etl_developer": 2, "data_analyst": 1, "sysadmin": 1, "test_analyst": 1, "pm": 1,
                        "infosec": 1, "backend_dev": 1, "compliance_officer": 1},
     {"data_engineer": {"etl_developer"}, "analyst": {"data_analyst"}, "ops": {"sysadmin"}, "qa": {"test_analyst"},
      "product_manager": {"pm"}, "security": {"infosec"}, "engineer": {"backend_dev"},
      "legal": {"compliance_officer"}}),
    ("data_migration", {"Data Engineers": 3, "Business Analyst": 1, "DBA": 1, "QA Engineer": 1,
                        "Project Manager": 1, "Platform Team": 1},
     {"data_engineer": {"Data Engineers", "DBA"}, "analyst": {"Business Analyst"}, "qa": {"QA Engineer"},
      "product_manager": {"Project Manager"}, "ops": {"Platform Team"}}),
    ("data_migration", {"analytics_engineer": 2, "bi_developer": 1, "cloud_engineer": 1, "quality_assurance": 1,
                        "project_lead": 1},
     {"data_engineer": {"analytics_engineer"}, "analyst": {"bi_developer"}, "ops": {"cloud_engineer"},
      "qa": {"quality_assurance"}, "product_manager": {"project_lead"}}),
    # ML
    ("ml_deployment", {"data_scientist": 2, "data_engineer": 1, "mlops_engineer": 1, "backend_developer": 1,
                       "product_owner": 1, "data_analyst": 1, "privacy_counsel": 1},
     {"ml_engineer": {"data_scientist", "mlops_engineer"}, "data_engineer": {"data_engineer"},
      "engineer": {"backend_developer"}, "product_manager": {"product_owner"}, "analyst": {"data_analyst"},
      "legal": {"privacy_counsel"}}),
    ("ml_deployment", {"ML Engineers": 2, "Data Platform": 1, "SRE": 1, "Software Engineer": 1, "PM": 1,
                       "Statistician": 1},
     {"ml_engineer": {"ML Engineers"}, "data_engineer": {"Data Platform"}, "ops": {"SRE"},
      "engineer": {"Software Engineer"}, "product_manager": {"PM"}, "analyst": {"Statistician"}}),
    ("ml_deployment", {"machine_learning_engineer": 2, "pipeline_engineer": 1, "devops": 1, "api_developer": 1,
                       "insights_analyst": 1, "product_manager": 1},
     {"ml_engineer": {"machine_learning_engineer"}, "data_engineer": {"pipeline_engineer"}, "ops": {"devops"},
      "engineer": {"api_developer"}, "analyst": {"insights_analyst"}, "product_manager": {"product_manager"}}),
    # infrastructure
    ("infrastructure_rollout", {"network_engineer": 2, "systems_engineer": 2, "security_officer": 1,
                                "automation_developer": 1, "capacity_analyst": 1, "programme_manager": 1,
                                "tech_writer": 1},
     {"ops": {"network_engineer", "systems_engineer"}, "security": {"security_officer"},
      "engineer": {"automation_developer"}, "analyst": {"capacity_analyst"},
      "product_manager": {"programme_manager"}, "writer": {"tech_writer"}}),
    ("infrastructure_rollout", {"cloud_architect": 1, "platform_engineers": 3, "secops": 1, "developer": 1,
                                "project_coordinator": 1},
     {"ops": {"cloud_architect", "platform_engineers"}, "security": {"secops"}, "engineer": {"developer"},
      "product_manager": {"project_coordinator"}}),
    ("infrastructure_rollout", {"datacenter_technician": 2, "linux_admin": 2, "cybersecurity": 1, "pm": 1},
     {"ops": {"datacenter_technician", "linux_admin"}, "security": {"cybersecurity"}, "product_manager": {"pm"}}),
    # research
    ("research_study", {"ux_researcher": 2, "data_analyst": 1, "research_ops": 1, "report_writer": 1,
                        "ethics_counsel": 1},
     {"researcher": {"ux_researcher"}, "analyst": {"data_analyst"}, "writer": {"report_writer"},
      "legal": {"ethics_counsel"}}),
    ("research_study", {"research_scientist": 2, "statistician": 1, "project_manager": 1, "editor": 1},
     {"researcher": {"research_scientist"}, "analyst": {"statistician"}, "product_manager": {"project_manager"},
      "writer": {"editor"}}),
    ("research_study", {"postdoc": 2, "phd_student": 2, "bi_analyst": 1, "lab_manager": 1, "science_writer": 1},
     {"researcher": {"postdoc", "phd_student"}, "analyst": {"bi_analyst"}, "writer": {"science_writer"}}),
    ("research_study", {"user_researcher": 1, "interviewer": 2, "research_analyst": 1, "pm": 1},
     {"researcher": {"user_researcher", "interviewer"}, "analyst": {"research_analyst"}, "product_manager": {"pm"}}),
    # marketing
    ("product_launch", {"marketing_manager": 1, "growth_marketer": 2, "brand_designer": 1, "copywriter": 1,
                        "marketing_analyst": 1, "product_marketing_manager": 1, "web_developer": 1, "lawyer": 1},
     {"marketer": {"marketing_manager", "growth_marketer", "product_marketing_manager"}, "designer": {"brand_designer"},
      "writer": {"copywriter"}, "analyst": {"marketing_analyst"}, "engineer": {"web_developer"},
      "legal": {"lawyer"}}),
    ("product_launch", {"Campaign Manager": 1, "Social Media": 1, "Creative": 1, "Content Writer": 1,
                        "Data Analyst": 1, "Product Owner": 1, "Frontend Dev": 1},
     {"marketer": {"Campaign Manager", "Social Media"}, "designer": {"Creative"}, "writer": {"Content Writer"},
      "analyst": {"Data Analyst"}, "product_manager": {"Product Owner"}, "engineer": {"Frontend Dev"}}),
    ("product_launch", {"pr_team": 1, "seo_specialist": 1, "visual_designer": 1, "communications": 1,
                        "reporting_analyst": 1, "launch_pm": 1},
     {"marketer": {"pr_team", "seo_specialist"}, "designer": {"visual_designer"}, "writer": {"communications"},
      "analyst": {"reporting_analyst"}, "product_manager": {"launch_pm"}}),
    # office move and other generic work
    ("generic", {"facilities_manager": 1, "movers": 4, "it_support": 2, "office_admin": 1},
     {"product_manager": {"facilities_manager"}}),
    ("generic", {"project_manager": 1, "business_analyst": 1, "contractors_developer": 2, "technical_writer": 1},
     {"product_manager": {"project_manager"}, "analyst": {"business_analyst"}, "engineer": {"contractors_developer"},
      "writer": {"technical_writer"}}),
    ("generic", {"event_coordinator": 1, "finance_analyst": 1, "engineers": 2, "editor": 1},
     {"product_manager": {"event_coordinator"}, "analyst": {"finance_analyst"}, "engineer": {"engineers"},
      "writer": {"editor"}}),
    ("generic", {"move_coordinator": 1, "removals_crew": 3, "network_technician": 1, "ops_analyst": 1},
     {"product_manager": {"move_coordinator"}}),
]


@pytest.fixture(scope="module")
def networks(settings):
    library = load_domain_library()
    out = []
    for domain, pools, _ in CASES:
        resources = [{"type": name, "capacity": units, "cost_per_hour": 50} for name, units in pools.items()]
        goal = make_goal(domain, "hierarchical", resources=resources)
        out.append((goal, decompose(goal, settings, library)))
    return out


def test_the_table_has_at_least_thirty_pool_sets_over_every_domain():
    """The table covers 30+ pool-name sets and every built-in domain."""
    assert len(CASES) >= 30
    assert {domain for domain, _, _ in CASES} == set(load_domain_library().ids)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{'-'.join(list(c[1])[:2])}" for c in CASES])
def test_each_role_goes_to_the_pools_a_person_would_choose(networks, index):
    """The decomposition's role_map gives each role exactly the pools a person would, without a warning."""
    _, _, expected = CASES[index]
    goal, network = networks[index]
    check_network(network, goal)
    role_map = network.notes["role_map"]
    got = {role: set(role_map[role]["pools"]) for role in expected if role in role_map}
    assert got == {role: pools for role, pools in expected.items() if role in role_map}
    assert set(expected) - set(role_map) <= {"legal", "writer", "security", "analyst"}  # roles this domain may not use
    for role in expected:
        if role in role_map:
            assert role_map[role]["how"] in ("role vocabulary", "same name"), (role, role_map[role])
    assert not [w for w in network.warnings if any(f"no {role!r} pool" in w or f"no pool for {role!r}" in w
                                                   for role in expected)]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{'-'.join(list(c[1])[:2])}" for c in CASES])
def test_every_pool_whose_role_the_tasks_need_gets_work(networks, index):
    """Property: a pool that fits a role some task needs is given some of that work (none sits idle)."""
    goal, network = networks[index]
    library = load_domain_library()
    needed = set(network.notes["role_map"])
    used = {pool for task in network.tasks for pool in task.resources}
    for pool in goal.resources:
        fit = library.roles.role_of(pool.type)
        if fit is not None and fit.role in needed:
            assert pool.type in used, (pool.type, fit.role)


def test_the_mobile_goal_spreads_engineering_and_follows_the_tasks_words(settings, library):
    """iOS work goes to ios_developer, Android work to android_developer, shared work is spread over both."""
    pools = CASES[0][1]
    goal = make_goal("software_delivery", "hierarchical", components=["iOS app", "Android app", "Ticketing API"],
                     resources=[{"type": name, "capacity": units} for name, units in pools.items()])
    network = decompose(goal, settings, library)
    by_name = {task.name: task.resources for task in network.tasks}
    assert set(by_name["Implement iOS app user interface"]) == {"ios_developer"}
    assert set(by_name["Implement Android app user interface"]) == {"android_developer"}
    hours = network.notes["role_map"]["engineer"]["unit_hours"]
    assert min(hours.values()) >= 0.3 * max(hours.values()), hours


def test_the_goals_role_map_wins(settings, library):
    """role_map sends a role to the pools it names, even against the vocabulary."""
    goal = make_goal("software_delivery", "hierarchical",
                     resources=[{"type": "backend_engineer", "capacity": 2}, {"type": "qa_engineer", "capacity": 2},
                                {"type": "lead", "capacity": 1}],
                     role_map={"qa": "backend_engineer", "product_manager": ["lead"]})
    network = decompose(goal, settings, library)
    role_map = network.notes["role_map"]
    assert role_map["qa"] == {**role_map["qa"], "pools": ["backend_engineer"], "how": "the goal's role_map"}
    assert role_map["product_manager"]["pools"] == ["lead"]
    assert not any("for 'product_manager' work" in warning for warning in network.warnings)


def test_a_role_map_naming_an_unknown_pool_is_refused():
    """role_map may only name the goal's own pools; the error names role_map.<role>."""
    with pytest.raises(PlanningError) as caught:
        make_goal("software_delivery", resources=[{"type": "dev", "capacity": 1}], role_map={"qa": "tester"})
    assert caught.value.field == "role_map.qa"


def test_without_a_fitting_pool_the_closest_role_wins_over_the_largest_pool(settings, library):
    """Security work with no security pool goes to the ops pool (the closest role), not to the biggest team."""
    goal = make_goal("software_delivery", "hierarchical",
                     resources=[{"type": "developers", "capacity": 9}, {"type": "sre", "capacity": 1},
                                {"type": "testers", "capacity": 1}, {"type": "pm", "capacity": 1}])
    network = decompose(goal, settings, library)
    assert network.notes["role_map"]["security"] == {**network.notes["role_map"]["security"], "pools": ["sre"],
                                                     "how": "closest role: ops"}
    assert any("'security'" in w and "closest role" in w for w in network.warnings)
    assert not any("largest pool" in w for w in network.warnings)


def test_a_deployment_adds_words_with_a_roles_file(tmp_path, settings):
    """A roles.yaml in the domains directory adds synonyms: 'crew' becomes ops there, and nowhere else."""
    (tmp_path / "roles.yaml").write_text("roles:\n  ops:\n    synonyms: [crew, road crew]\n")
    extended = load_domain_library(tmp_path)
    assert extended.roles.role_of("road_crew").role == "ops"
    assert load_domain_library().roles.role_of("road_crew") is None
    assert "roles" not in extended.ids  # the role file is not a domain


def test_a_broken_roles_file_names_the_file_and_the_place(tmp_path):
    """A role file with a bad entry is refused, naming the file and the path inside it."""
    (tmp_path / "roles.yaml").write_text("roles:\n  Ops:\n    synonyms: [crew]\n")
    with pytest.raises(PlanningError) as caught:
        load_domain_library(tmp_path)
    assert "roles.yaml" in caught.value.message and caught.value.field == "roles.Ops"


def test_layer8_or_local_pools_named_in_other_words_do_the_roles_they_fit(settings, library):
    """A goal without pools, a local pool set in the team's words: engineer work goes to backend_engineer and qa
    work to qa_engineer (standing in for the roles), not to suggested pools that do not exist."""
    from planning.allocation import allocate_with_sources

    goal = make_goal("software_delivery", "hierarchical", components=["Orders API"])
    network = decompose(goal, settings, library)
    local = [{"type": "backend_engineer", "capacity": 3, "cost_rate": 90}, {"type": "qa_engineer", "capacity": 2},
             {"type": "barista", "capacity": 1}]

    def role_of(name):
        fit = library.roles.role_of(name)
        return fit.role if fit else None

    result = allocate_with_sources(goal, network, settings, local_pools=local, layer8=None, role_of=role_of)
    rows = result["allocations"]
    work: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["requested_resource"], row["resource"])
        work[key] = work.get(key, 0) + row["units"] * row["hours"]
    # (when the fitting pool has no room within a task's float, the allocator leaves that task on the role's
    # own, assumed pool, as it does for any declared substitute)
    assert work[("engineer", "backend_engineer")] > 4 * work.get(("engineer", "engineer"), 0)
    assert work[("qa", "qa_engineer")] > 4 * work.get(("qa", "qa"), 0)
    assert not {"engineer", "qa"} & {pool["type"] for pool in result["pools"] if pool["source"] == "suggested"}
    assert result["role_map"]["engineer"]["pools"] == ["backend_engineer"]
    assert result["role_map"]["engineer"]["unit_hours"]["backend_engineer"] > 0
    assert "designer" in {pool["type"] for pool in result["pools"]}  # no local designer: the suggestion stays
