"""Retained logic from the status date: properties on random executing plans, and the rules one by one."""

from __future__ import annotations

import itertools
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.progress.status import TaskProgress
from planning.replanning import LOGICS, ReplanError, replan_input, replan_schedule, task_state
from scheduling import Activity, Precedence, ProblemData, Resource, verify_schedule
from scheduling.ga import initial_order
from scheduling.sgs import makespan, serial_sgs
from tests.scheduling.problems import projects

QUICK = {"time_limit": 0.15, "solver": "heuristic"}
# REPLAN_EXAMPLES=600 for a longer search (passes; about 16 s)
PROPERTY = settings(max_examples=int(os.environ.get("REPLAN_EXAMPLES", "80")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def schedule_of(data: ProblemData, starts: list[int]) -> dict:
    """A schedule stage result ({"tasks": {id: {start, finish}}}) from start times."""
    return {"tasks": {a.key: {"start": s, "finish": s + a.duration}
                      for a, s in zip(data.activities, starts, strict=True)}}


def optimal_starts(data: ProblemData) -> list[int]:
    """A shortest schedule by decoding every precedence-feasible list (small problems only)."""
    core = data.core
    best = None
    for perm in itertools.permutations(range(core.n)):
        where = {j: p for p, j in enumerate(perm)}
        if any(where[i] > where[j] for i in range(core.n) for j, _ in core.succ[i]):
            continue
        start = serial_sgs(core, list(perm))
        if best is None or makespan(core, start) < makespan(core, best):
            best = start
    return best


def as_planned(previous: dict, status: int) -> dict[str, TaskProgress]:
    """Progress exactly as planned at the status date: done, under way with the planned remainder, or not begun."""
    progress = {}
    for key, slot in previous["tasks"].items():
        start, finish = slot["start"], slot["finish"]
        if finish <= status and start < status or finish == start < status:
            progress[key] = TaskProgress(key, "completed", 100, actual_start_hours=start, actual_finish_hours=finish)
        elif start < status:
            done = 100 * (status - start) / (finish - start)
            progress[key] = TaskProgress(key, "in_progress", min(done, 99.0), actual_start_hours=start,
                                         remaining_hours=finish - status)
    return progress


@st.composite
def executing_plans(draw, kinds: bool = True):
    """A project, a previous schedule (serial SGS), a status date and arbitrary progress up to it."""
    data = draw(projects(max_activities=6, kinds=kinds, releases=False))
    core = data.core
    previous = schedule_of(data, serial_sgs(core, core.topo))
    status = draw(st.integers(0, makespan(core, serial_sgs(core, core.topo)) + 2))
    progress = {}
    for a in data.activities:
        state = draw(st.sampled_from(("completed", "in_progress", "not_started")))
        if state == "completed":
            start = draw(st.integers(0, status))
            finish = draw(st.integers(start, status))
            progress[a.key] = TaskProgress(a.key, "completed", 100, actual_start_hours=start,
                                           actual_finish_hours=finish)
        elif state == "in_progress":
            start = draw(st.integers(0, status))
            progress[a.key] = TaskProgress(a.key, "in_progress", draw(st.integers(1, 99)),
                                           actual_start_hours=start, remaining_hours=draw(st.integers(0, 6)))
    return data, previous, progress, status, draw(st.sampled_from(LOGICS))


def dates(result) -> dict[str, tuple[int, int]]:
    return {key: (slot["start"], slot["finish"]) for key, slot in result.schedule["tasks"].items()}


@PROPERTY
@given(executing_plans())
def test_replanned_schedules_keep_the_past_and_every_constraint(plan):
    """Nothing unfinished starts before the status date; precedences and capacities hold; actuals are kept."""
    data, previous, progress, status, logic = plan
    replan = replan_input(previous, data, progress, status, logic=logic)
    result = replan_schedule(replan, **QUICK)
    assert verify_schedule(replan.data, result.starts) == []
    tasks = result.schedule["tasks"]
    for key, slot in tasks.items():
        state = replan.states[key]
        report = progress.get(key)
        if state == "completed":
            assert (slot["start"], slot["finish"]) == (report.actual_start_hours, report.actual_finish_hours)
        elif state == "in_progress":
            assert slot["start"] == report.actual_start_hours
            assert slot["resume"] >= status
            assert slot["finish"] == slot["resume"] + report.remaining_hours
            if key not in replan.held:
                assert slot["resume"] == status  # it simply goes on
        else:
            assert slot["start"] >= status
            assert slot["finish"] == slot["start"] + data.activity(key).duration
    # the original links still hold on the new dates where retained logic keeps them
    for link in data.precedences:
        pred, succ = tasks[link.pred], tasks[link.succ]
        succ_state = replan.states[link.succ]
        if succ_state == "completed" or (succ_state == "in_progress" and logic == "progress_override"):
            continue
        begin = succ["resume"] if succ_state == "in_progress" else succ["start"]
        if link.kind == "FS":
            assert begin >= pred["finish"] + link.lag
        elif link.kind == "FF":
            assert succ["finish"] >= pred["finish"] + link.lag
        elif succ_state == "not_started":
            assert succ["start"] >= pred["start"] + link.lag


@PROPERTY
@given(projects(max_activities=6, kinds=False, releases=False), st.floats(0, 1))
def test_a_plan_with_no_deviation_replans_to_the_same_dates(data, where):
    """Progress exactly as planned at the status date: the (optimal) previous schedule comes back unchanged."""
    previous = schedule_of(data, optimal_starts(data))
    status = int(where * makespan(data.core, optimal_starts(data)))
    replan = replan_input(previous, data, as_planned(previous, status), status)
    result = replan_schedule(replan, **QUICK)
    assert result.moved == {} and result.moved_count == 0
    assert dates(result) == {key: (slot["start"], slot["finish"]) for key, slot in previous["tasks"].items()}


@PROPERTY
@given(executing_plans(kinds=False))
def test_warm_start_never_loses_to_the_previous_order(plan):
    """The replan's makespan is never above that of the previous order decoded under the new constraints."""
    data, previous, progress, status, logic = plan
    replan = replan_input(previous, data, progress, status, logic=logic)
    result = replan_schedule(replan, **QUICK)
    core = replan.data.core
    warm = serial_sgs(core, initial_order(core, replan.preferred))
    assert result.schedule["makespan_hours"] <= makespan(core, warm)


# -- the rules, one example each ------------------------------------------------------------

def chain() -> ProblemData:
    """a (4 h) -> b (6 h) -> c (3 h), one crew; d (2 h) alone on the crew too."""
    return ProblemData(
        [Activity("a", 4, {"crew": 1}), Activity("b", 6, {"crew": 1}), Activity("c", 3, {"crew": 1}),
         Activity("d", 2, {"other": 1})],
        [Resource("crew", 1), Resource("other", 1)],
        [Precedence("a", "b"), Precedence("b", "c")])


PREVIOUS = {"tasks": {"a": {"start": 0, "finish": 4}, "b": {"start": 4, "finish": 10},
                      "c": {"start": 10, "finish": 13}, "d": {"start": 0, "finish": 2}}}


def test_an_in_progress_task_finishes_at_status_plus_remaining():
    """b started at 4 with 9 h left at hour 7: it finishes at 16, and c follows at 16."""
    progress = {"a": TaskProgress("a", "completed", 100, actual_start_hours=0, actual_finish_hours=4),
                "b": TaskProgress("b", "in_progress", 30, actual_start_hours=4, remaining_hours=9),
                "d": TaskProgress("d", "completed", 100, actual_start_hours=0, actual_finish_hours=2)}
    result = replan_schedule(replan_input(PREVIOUS, chain(), progress, 7), time_limit=1)
    tasks = result.schedule["tasks"]
    assert (tasks["b"]["start"], tasks["b"]["resume"], tasks["b"]["finish"]) == (4, 7, 16)
    assert (tasks["c"]["start"], tasks["c"]["finish"]) == (16, 19)
    assert result.moved == {"b": 6, "c": 6}
    assert result.schedule["critical_path"] == ["b", "c"]  # completed work is history, not the path


def test_completed_tasks_keep_their_actual_dates_even_against_the_model():
    """a and d really overlapped b on the one-person crew and b started before a finished: kept as reported."""
    progress = {"a": TaskProgress("a", "completed", 100, actual_start_hours=0, actual_finish_hours=6),
                "b": TaskProgress("b", "completed", 100, actual_start_hours=2, actual_finish_hours=9),
                "d": TaskProgress("d", "completed", 100, actual_start_hours=1, actual_finish_hours=3)}
    result = replan_schedule(replan_input(PREVIOUS, chain(), progress, 10), time_limit=1)
    tasks = result.schedule["tasks"]
    assert {k: (tasks[k]["start"], tasks[k]["finish"]) for k in "abd"} == {"a": (0, 6), "b": (2, 9), "d": (1, 3)}
    assert tasks["c"]["start"] == 10  # not before the status date, though b finished at 9


def test_not_started_work_waits_for_the_status_date():
    """Nothing reported at hour 5: a, b, c and d all start at 5 or later."""
    result = replan_schedule(replan_input(PREVIOUS, chain(), {}, 5), time_limit=1)
    assert min(slot["start"] for slot in result.schedule["tasks"].values()) == 5
    assert result.schedule["makespan_hours"] == 18


def test_retained_logic_holds_out_of_sequence_work_progress_override_does_not():
    """b started before a finished: retained logic resumes b after a; progress override goes on at the status date."""
    progress = {"a": TaskProgress("a", "in_progress", 50, actual_start_hours=0, remaining_hours=3),
                "b": TaskProgress("b", "in_progress", 20, actual_start_hours=2, remaining_hours=5)}
    data = ProblemData([Activity("a", 4, {"x": 1}), Activity("b", 6, {"y": 1})], [Resource("x", 1), Resource("y", 1)],
                       [Precedence("a", "b")])
    previous = {"tasks": {"a": {"start": 0, "finish": 4}, "b": {"start": 4, "finish": 10}}}
    retained = replan_input(previous, data, progress, 3)
    assert "a" in retained.held["b"]
    tasks = replan_schedule(retained, time_limit=1).schedule["tasks"]
    assert (tasks["a"]["finish"], tasks["b"]["resume"], tasks["b"]["finish"]) == (6, 6, 11)
    override = replan_schedule(replan_input(previous, data, progress, 3, logic="progress_override"), time_limit=1)
    assert (override.schedule["tasks"]["b"]["resume"], override.schedule["tasks"]["b"]["finish"]) == (3, 8)


def test_an_ss_link_from_a_started_task_counts_from_its_actual_start():
    """b may start 2 h after a starts: a started at 1, so b may start at the status date 3, not 3 + 2."""
    data = ProblemData([Activity("a", 8), Activity("b", 2)], [], [Precedence("a", "b", "SS", 2)])
    previous = {"tasks": {"a": {"start": 0, "finish": 8}, "b": {"start": 2, "finish": 4}}}
    progress = {"a": TaskProgress("a", "in_progress", 20, actual_start_hours=1, remaining_hours=6)}
    tasks = replan_schedule(replan_input(previous, data, progress, 3), time_limit=1).schedule["tasks"]
    assert tasks["b"]["start"] == 3
    assert tasks["a"]["finish"] == 9


def test_a_running_task_waits_when_capacity_fell_below_what_runs():
    """Two running tasks on a pool now down to one unit: the earlier-started goes on, the other resumes after it."""
    data = ProblemData([Activity("a", 6, {"crew": 1}), Activity("b", 6, {"crew": 1})], [Resource("crew", 1)])
    previous = {"tasks": {"a": {"start": 0, "finish": 6}, "b": {"start": 0, "finish": 6}}}
    progress = {"a": TaskProgress("a", "in_progress", 50, actual_start_hours=0, remaining_hours=3),
                "b": TaskProgress("b", "in_progress", 50, actual_start_hours=1, remaining_hours=3)}
    replan = replan_input(previous, data, progress, 3)
    assert set(replan.held) == {"b"}
    result = replan_schedule(replan, time_limit=1)
    assert result.schedule["tasks"]["b"]["resume"] == 6
    assert result.schedule["replan"]["suspended"] == ["b"]


def test_not_before_holds_a_blocked_task():
    """A blocked task given not_before 12 starts at 12, whatever the status date."""
    tasks = replan_schedule(replan_input(PREVIOUS, chain(), {}, 0, not_before={"d": 12}), time_limit=1)
    assert tasks.schedule["tasks"]["d"]["start"] == 12


def test_missing_actuals_are_assumed_and_noted():
    """In progress without actual start or remaining hours: the planned start, and the undone share of the duration."""
    progress = {"a": TaskProgress("a", "in_progress", 25)}
    replan = replan_input(PREVIOUS, chain(), progress, 2)
    assert replan.actual_starts["a"] == 0 and replan.remaining_hours["a"] == 3
    assert any("without an actual start" in note for note in replan.notes)


def test_a_plan_document_serves_as_previous_schedule():
    """tasks[] with start_hour/finish_hour (the plan document) is read like the stage result."""
    document = {"tasks": [{"id": k, "start_hour": v["start"], "finish_hour": v["finish"]}
                          for k, v in PREVIOUS["tasks"].items()]}
    assert replan_input(document, chain(), {}, 0).previous == replan_input(PREVIOUS, chain(), {}, 0).previous


def test_task_state_reads_status_and_actuals():
    """Completed by status or 100 % without remaining hours; started by any sign of work; else not started."""
    assert task_state(None) == "not_started"
    assert task_state(TaskProgress("a", "completed")) == "completed"
    assert task_state(TaskProgress("a", "in_progress", 100)) == "completed"
    assert task_state(TaskProgress("a", "in_progress", 100, remaining_hours=2)) == "in_progress"
    assert task_state(TaskProgress("a", "blocked", 0, actual_start_hours=3)) == "in_progress"
    assert task_state(TaskProgress("a", "blocked")) == "not_started"


@pytest.mark.parametrize(("progress", "field"), [
    ({"a": TaskProgress("a", "completed", 100, actual_start_hours=0, actual_finish_hours=9)},
     "progress.a.actual_finish_hours"),
    ({"a": TaskProgress("a", "in_progress", 10, actual_start_hours=9)}, "progress.a.actual_start_hours"),
    ({"zz": TaskProgress("zz", "in_progress")}, "progress.zz"),
])
def test_actuals_after_the_status_date_are_refused(progress, field):
    """A finish or start after the status date, or progress of an unknown task, raises ReplanError naming it."""
    with pytest.raises(ReplanError) as error:
        replan_input(PREVIOUS, chain(), progress, 8)
    assert error.value.field == field


def test_bad_arguments_are_refused():
    """A fractional status date, an unknown logic or a previous schedule without tasks raise ReplanError."""
    for kwargs, field in (({"status_hours": 2.5}, "status_hours"), ({"logic": "guess"}, "logic"),
                          ({"previous_schedule": {}}, "previous.tasks")):
        args = {"previous_schedule": PREVIOUS, "problem": chain(), "progress": {}, "status_hours": 0, **kwargs}
        with pytest.raises(ReplanError) as error:
            replan_input(**args)
        assert error.value.field == field


def test_replanning_is_reproducible():
    """Same input and seed, same schedule (the solver proves its optimum, the pass stops by generations, not time)."""
    rnd = random.Random(3)
    acts = [Activity(f"t{i}", rnd.randint(1, 6), {"crew": rnd.randint(1, 2)}) for i in range(12)]
    data = ProblemData(acts, [Resource("crew", 3)], [Precedence(f"t{i}", f"t{i + 3}") for i in range(9)])
    previous = schedule_of(data, serial_sgs(data.core, data.core.topo))
    runs = [replan_schedule(replan_input(previous, data, {}, 4), time_limit=3, seed=7).starts for _ in range(2)]
    assert runs[0] == runs[1]
