"""Loading domain files: built-ins, a user directory, and broken files rejected whole with clear errors."""

from __future__ import annotations

import textwrap

import pytest

from planning.decomposition import DomainFileError, decompose, load_domain_library
from planning.decomposition.library import BUILTIN_DIR
from tests.planning.conftest import check_network, make_goal

BUILTINS = {
    "software_delivery",
    "data_migration",
    "ml_deployment",
    "infrastructure_rollout",
    "research_study",
    "product_launch",
    "generic",
}

GOOD = """
id: event_planning
name: Event planning
description: Plan and run an in-person event such as a conference, meetup or offsite.
keywords: [event, conference, meetup, venue, catering, speakers]
phases:
  - {id: plan, name: Planning}
  - {id: run, name: Running}
resources:
  marketer: {capacity: 2, cost_per_hour: 60}
root: hold_event
component: track
tasks:
  hold_event:
    name: Hold {goal}
    methods:
      - id: standard
        subtasks: [book_venue, "@components", run_day]
  track:
    name: Track {component}
    methods:
      - id: standard
        subtasks: [invite_speakers]
  book_venue:
    name: Book the venue
    phase: plan
    estimate: [2, 4, 8]
    resources: {marketer: 1}
    success_criteria: [Venue contract signed]
    risk_tags: [third_party]
  invite_speakers:
    name: Invite speakers for {component}
    phase: plan
    estimate: [4, 8, 16]
    resources: {marketer: 1}
    success_criteria: [Three speakers confirmed]
  run_day:
    name: Run the day
    phase: run
    estimate: [8, 8, 12]
    resources: {marketer: 2}
    success_criteria: [Event held with at least 90% of registrants attending]
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_library_has_every_required_domain(library):
    """The seven built-in domains load and the fallback is among them."""
    assert set(library.ids) == BUILTINS
    assert {p.name for p in BUILTIN_DIR.glob("*.yaml")} == {f"{d}.yaml" for d in BUILTINS} | {"roles.yaml"}


def test_user_domain_is_loaded_and_planned_with(tmp_path, settings):
    """A valid file in the user directory adds a domain that decomposition can use at once."""
    write(tmp_path, "events.yaml", GOOD)
    library = load_domain_library(extra_dir=tmp_path)
    assert "event_planning" in library and BUILTINS <= set(library.ids)
    goal = make_goal("event_planning", "temporal", components=["Keynotes", "Workshops"])
    network = decompose(goal, settings, library)
    check_network(network, goal)
    assert "keynotes.invite_speakers" in {t.id for t in network.tasks}


def test_user_domain_is_matched_by_its_keywords(tmp_path, settings):
    """Goals are matched against user domains' descriptions and keywords too."""
    write(tmp_path, "events.yaml", GOOD)
    library = load_domain_library(extra_dir=tmp_path)
    network = decompose(
        make_goal(None, title="Spring conference with speakers and catering", components=[]), settings, library
    )
    assert network.domain == "event_planning"


def test_user_file_can_replace_a_builtin_domain(tmp_path):
    """A user file with a built-in id replaces it, and the library records that."""
    write(tmp_path, "generic.yaml", GOOD.replace("id: event_planning", "id: generic"))
    library = load_domain_library(extra_dir=tmp_path)
    assert library.get("generic").name == "Event planning"
    assert library.overridden == ("generic",)


def test_toml_domain_files_load(tmp_path):
    """Domain files may be TOML as well as YAML."""
    write(
        tmp_path,
        "tiny.toml",
        """
        id = "tiny"
        name = "Tiny"
        description = "A tiny domain"
        root = "do_it"
        phases = [{id = "only", name = "Only"}]
        [resources.engineer]
        capacity = 1
        [tasks.do_it]
        name = "Do it"
        methods = [{id = "standard", subtasks = ["step"]}]
        [tasks.step]
        name = "Step"
        phase = "only"
        estimate = [1, 2, 3]
        resources = {engineer = 1}
        success_criteria = ["Done"]
    """,
    )
    assert "tiny" in load_domain_library(extra_dir=tmp_path)


@pytest.mark.parametrize(
    ("broken", "path", "problem"),
    [
        (
            GOOD.replace("risk_tags: [third_party]", "risk_tags: [thrid_party]"),
            "tasks.book_venue.risk_tags[0]",
            "unknown risk tag 'thrid_party'",
        ),
        (
            GOOD.replace("estimate: [2, 4, 8]", "estimate: [8, 4, 2]"),
            "tasks.book_venue.estimate",
            "optimistic <= most_likely <= pessimistic",
        ),
        (
            GOOD.replace("subtasks: [invite_speakers]", "subtasks: [invite_speakerz]"),
            "tasks.track.methods[0].subtasks",
            "unknown task 'invite_speakerz'",
        ),
        (
            GOOD.replace("resources: {marketer: 2}", "resources: {caterer: 2}"),
            "tasks.run_day.resources.caterer",
            "not listed under the file's resources",
        ),
        (GOOD.replace("    phase: run\n", "    phase: later\n"), "tasks.run_day.phase", "must name one of the phases"),
        (
            GOOD.replace("success_criteria: [Venue contract signed]", "success_criteria: []"),
            "tasks.book_venue.success_criteria",
            "at least one measurable success criterion",
        ),
        (GOOD.replace("root: hold_event", "root: book_venue"), "root", "not a compound task"),
        (
            GOOD.replace("name: Invite speakers for {component}", "name: Invite {speaker}"),
            "tasks.invite_speakers.name",
            "unknown placeholder {speaker}",
        ),
        (
            GOOD.replace("subtasks: [invite_speakers]", "subtasks: [invite_speakers, track]"),
            "tasks.track.methods",
            "contain each other",
        ),
        (
            GOOD.replace(
                'subtasks: [book_venue, "@components", run_day]', 'subtasks: [run_day, book_venue, "@components"]'
            ),
            "tasks.hold_event.methods[0].ordering[0]",
            "earlier phase 'plan'",
        ),
        (
            GOOD.replace(
                "    methods:\n      - id: standard\n        subtasks: [invite_speakers]",
                "    methods:\n      - id: standard\n        subtasks: [invite_speakers]\n"
                "        preconditions: [{field: colour, op: eq, value: red}]",
            ),
            "tasks.track.methods[0].preconditions[0].field",
            "unknown goal field 'colour'",
        ),
        (GOOD + "\nbogus: 1\n", "bogus", "unknown key"),
        (GOOD.replace("  run_day:\n", "  book_venue:\n"), "line ", "duplicate key 'book_venue'"),
        ("id: [unclosed\n", "line ", "not valid YAML"),
        ("- just\n- a list\n", "", "must hold a mapping"),
    ],
)
def test_broken_user_file_is_rejected_naming_file_path_and_problem(tmp_path, broken, path, problem):
    """Each kind of mistake raises DomainFileError with the file, the path inside it and what is wrong."""
    target = write(tmp_path, "events.yaml", broken)
    with pytest.raises(DomainFileError) as caught:
        load_domain_library(extra_dir=tmp_path)
    error = caught.value
    assert error.source == str(target)
    assert str(target) in error.message
    assert any(p.startswith(path) and problem in what for p, what in error.problems), error.problems


def test_one_broken_file_rejects_the_load_even_beside_good_ones(tmp_path):
    """A good file next to a broken one does not produce a half-loaded library."""
    write(tmp_path, "a_good.yaml", GOOD)
    write(tmp_path, "b_broken.yaml", GOOD.replace("id: event_planning", "id: other").replace("[2, 4, 8]", "[2, 4]"))
    with pytest.raises(DomainFileError) as caught:
        load_domain_library(extra_dir=tmp_path)
    assert caught.value.source.endswith("b_broken.yaml")


def test_every_problem_in_a_file_is_reported(tmp_path):
    """All problems of a file come back together, so it can be fixed in one go."""
    broken = GOOD.replace("[2, 4, 8]", "[8, 4, 2]").replace("risk_tags: [third_party]", "risk_tags: [nope]")
    write(tmp_path, "events.yaml", broken)
    with pytest.raises(DomainFileError) as caught:
        load_domain_library(extra_dir=tmp_path)
    paths = [p for p, _ in caught.value.problems]
    assert "tasks.book_venue.estimate" in paths and "tasks.book_venue.risk_tags[0]" in paths


def test_two_user_files_with_one_id_are_refused(tmp_path):
    """Two files defining the same domain id are an error naming the other file."""
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(DomainFileError) as caught:
        load_domain_library(extra_dir=tmp_path)
    assert "a.yaml" in caught.value.message and caught.value.path == "id"


def test_missing_user_directory_is_an_error(tmp_path):
    """A configured directory that does not exist is reported, not silently ignored."""
    with pytest.raises(DomainFileError) as caught:
        load_domain_library(extra_dir=tmp_path / "nope")
    assert "does not exist" in caught.value.message


def test_domain_file_error_is_a_planning_error(tmp_path):
    """DomainFileError is a PlanningError, so callers handle it like any bad input."""
    from planning.errors import PlanningError

    assert issubclass(DomainFileError, PlanningError)


def test_the_documented_example_domain_file_loads(tmp_path, settings):
    """The domain file shown in docs/decomposition.md is valid and plans a goal."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "decomposition.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    write(tmp_path, "events.yaml", example)
    library = load_domain_library(extra_dir=tmp_path)
    goal = make_goal("event_planning", "risk_based", components=["Keynotes", "Hands-on workshop"])
    network = decompose(goal, settings, library)
    check_network(network, goal)
    ids = {t.id for t in network.tasks}
    assert "hands_on_workshop.prepare_materials" in ids and "keynotes.prepare_materials" not in ids
    assert library.get("event_planning").mitigations["third_party"].name == "Back-up venue and caterer shortlisted"
