"""Conflicts and their resolution, in order: level within float, substitute, request from Layer 8, shortfall."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.resources import allocate
from planning.resources.levelling import Precedences, critical_path
from tests.planning.resources_cases import SETTINGS, goal, network, pool, rows_of, task


def two_engineer_tasks(with_float: bool):
    """t1 and t2 (8 h, one engineer each) at once; with float, a 24 h designer task sets the length."""
    tasks = [task("t1", 8, {"engineer": 1}), task("t2", 8, {"engineer": 1})]
    if with_float:
        tasks.append(task("long", 24, {"designer": 1}))
    return network(*tasks)


def test_conflict_is_detected_on_the_early_start_profile():
    """Two 8 h engineer tasks at hour 0 on a pool of 1: one conflict, hours 0-8, demand 2, available 1."""
    result = allocate(goal(), two_engineer_tasks(False), [pool("engineer", 1, 50)], {}, SETTINGS)
    [conflict] = result["conflicts"]
    assert {k: conflict[k] for k in ("resource", "from_hour", "to_hour", "demand", "available", "task_ids")} == {
        "resource": "engineer", "from_hour": 0, "to_hour": 8, "demand": 2, "available": 1, "task_ids": ["t1", "t2"]}
    assert (conflict["from"], conflict["to"]) == ("2027-01-04", "2027-01-04")


def test_levelling_within_float_comes_first():
    """With 16 h of float, t2 waits until t1 is done (hour 8) even though a senior could stand in."""
    pools = [pool("engineer", 1, 50), pool("designer", 1, 10), pool("senior", 1, 90, substitutes=("engineer",))]
    result = allocate(goal(), two_engineer_tasks(True), pools, {}, SETTINGS)
    assert [(r["resource"], r["start_hour"]) for r in rows_of(result, "t2")] == [("engineer", 8)]
    assert result["conflicts"][0]["resolution"] == "levelled"
    assert result["levelled"]["outcomes"]["levelled"] == ["t2"]
    assert result["levelled"]["finish_hour"] == result["levelled"]["critical_path_hours"] == 24


def test_substitute_when_levelling_cannot_help():
    """No float: t2 is served by the senior pool (8 h x 90 = 720), marked as standing in for engineer."""
    pools = [pool("engineer", 1, 50), pool("senior", 1, 90, substitutes=("engineer",))]
    result = allocate(goal(), two_engineer_tasks(False), pools, {}, SETTINGS)
    [row] = rows_of(result, "t2")
    assert (row["resource"], row["substitute_for"], row["units"], row["cost"], row["start_hour"]) == (
        "senior", "engineer", 1, 720, 0)
    assert result["conflicts"][0]["resolution"] == "substituted"
    assert result["shortfalls"] == []


def test_substitution_is_one_way():
    """An engineer pool that does not list senior cannot do senior work: the second senior task is short."""
    net = network(task("s1", 8, {"senior": 1}), task("s2", 8, {"senior": 1}))
    pools = [pool("engineer", 3, 50), pool("senior", 1, 90, substitutes=("engineer",))]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    assert [(s["task_id"], s["resource"], s["needed"], s["available"]) for s in result["shortfalls"]] == [
        ("s2", "senior", 1, 0)]
    assert all(row["resource"] == "senior" for row in result["allocations"])


def test_partial_substitution_and_the_capacity_the_scheduler_sees():
    """Needing 2 engineers with 1 in the pool: 1 engineer + 1 senior; the scheduler sees 2, the real 1 is kept."""
    net = network(task("pair", 8, {"engineer": 2}))
    pools = [pool("engineer", 1, 50), pool("senior", 1, 90, substitutes=("engineer",))]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    assert sorted((r["resource"], r["units"]) for r in result["allocations"]) == [("engineer", 1), ("senior", 1)]
    engineer = next(p for p in result["pools"] if p["type"] == "engineer")
    assert (engineer["capacity"], engineer["available_capacity"]) == (2, 1)
    assert any("has 1 unit(s) but a task needs 2" in w for w in result["warnings"])


def test_cheapest_substitute_is_taken_first():
    """Of two pools that may stand in, the cheaper per hour serves."""
    pools = [pool("engineer", 1, 50), pool("senior", 1, 90, substitutes=("engineer",)),
             pool("contractor", 1, 70, substitutes=("engineer",))]
    result = allocate(goal(), two_engineer_tasks(False), pools, {}, SETTINGS)
    assert rows_of(result, "t2")[0]["resource"] == "contractor"


def test_request_from_layer8_when_no_substitute_has_room():
    """A Layer 8 type short by one unit: a request for 1 engineer over t2's hours, the row `requested`."""
    result = allocate(goal(), two_engineer_tasks(False), [pool("engineer", 1, 50, source="layer8")], {}, SETTINGS,
                      requestable={"engineer"})
    assert [(r["resource"], r["units"], r["task_ids"], r["from_hour"], r["to_hour"]) for r in result["requests"]] == [
        ("engineer", 1, ["t2"], 0, 8)]
    assert [(r["status"], r["units"]) for r in rows_of(result, "t2")] == [("requested", 1)]
    assert result["shortfalls"] == []
    assert result["conflicts"][0]["resolution"] == "requested"
    assert result["task_demands"] == {"t1": {"engineer": 1}, "t2": {"engineer": 1}}  # until Layer 8 grants it


def test_shortfall_is_reported_for_the_risk_assessor():
    """No substitute, not a Layer 8 type: a shortfall row; the task stays on its pool for the scheduler to delay."""
    result = allocate(goal(), two_engineer_tasks(False), [pool("engineer", 1, 50)], {}, SETTINGS)
    [shortfall] = result["shortfalls"]
    assert {k: shortfall[k] for k in ("task_id", "resource", "needed", "available")} == {
        "task_id": "t2", "resource": "engineer", "needed": 1, "available": 0}
    assert [(r["resource"], r["status"]) for r in rows_of(result, "t2")] == [("engineer", "planned")]
    assert result["conflicts"][0]["resolution"] == "shortfall"
    assert any("the schedule will delay them" in w for w in result["warnings"])


def test_least_latest_start_goes_first_and_successors_follow():
    """t2 (latest start 24) goes before t1 (latest start 32): t2 at 0, t1 levelled to 8, t3 after t2."""
    net = network(task("t1", 8, {"engineer": 1}), task("t2", 8, {"engineer": 1}),
                  task("t3", 8, {"qa": 1}, deps=("t2",)), task("long", 40, {"designer": 1}))
    pools = [pool("engineer", 1, 1), pool("qa", 1, 1), pool("designer", 1, 1)]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    starts = result["levelled"]["starts"]
    assert (starts["t2"], starts["t1"], starts["t3"]) == (0, 8, 8)
    assert result["shortfalls"] == []


def test_a_levelled_predecessor_pushes_its_successor():
    """t1 and t2 share one engineer; t2 goes second (more float) and its successor t3 moves with it."""
    net = network(task("t1", 8, {"engineer": 1}, deps=()), task("t2", 8, {"engineer": 1}),
                  task("t3", 8, {"qa": 1}, deps=("t2",)), task("t4", 32, {"designer": 1}, deps=("t1",)))
    pools = [pool("engineer", 1, 1), pool("qa", 1, 1), pool("designer", 1, 1)]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    starts = result["levelled"]["starts"]
    assert (starts["t1"], starts["t2"], starts["t3"], starts["t4"]) == (0, 8, 16, 8)
    assert result["levelled"]["finish_hour"] == 40


@st.composite
def random_networks(draw):
    count = draw(st.integers(min_value=1, max_value=12))
    tasks = []
    for index in range(count):
        deps = draw(st.lists(st.integers(min_value=0, max_value=max(index - 1, 0)), max_size=2, unique=True)) \
            if index else []
        kind = draw(st.sampled_from(["engineer", "qa", "senior"]))
        units = draw(st.integers(min_value=1, max_value=2))
        tasks.append(task(f"t{index}", draw(st.integers(min_value=1, max_value=20)), {kind: units},
                          deps=tuple(f"t{d}" for d in deps)))
    return network(*tasks)


@given(net=random_networks(), engineers=st.integers(min_value=1, max_value=3))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_resolved_tasks_never_exceed_capacity_nor_the_critical_path(net, engineers):
    """Planned rows never overload a pool, no task starts after its latest start, and every need is served."""
    pools = [pool("engineer", engineers, 50), pool("qa", 2, 40), pool("senior", 2, 90, substitutes=("engineer",))]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    cpm = critical_path(net)
    assert Precedences(net).makespan({}) == cpm.makespan  # the crash evaluation's forward pass agrees with CPM
    load: dict[tuple[str, int], int] = {}
    short = {(s["task_id"], s["resource"]) for s in result["shortfalls"]}
    for row in result["allocations"]:
        if row["status"] == "planned" and (row["task_id"], row["requested_resource"]) not in short:
            for hour in range(row["start_hour"], row["finish_hour"]):
                load[row["resource"], hour] = load.get((row["resource"], hour), 0) + row["units"]
    capacity = {"engineer": engineers, "qa": 2, "senior": 2}
    assert all(units <= capacity[kind] for (kind, _), units in load.items())
    for t in net.tasks:
        assert result["levelled"]["starts"][t.id] <= max(cpm.ls[t.id], cpm.es[t.id])
        for kind, units in t.resources.items():
            served = sum(r["units"] for r in rows_of(result, t.id) if r["requested_resource"] == kind)
            assert served == units


def test_shortfalls_and_cost_are_what_the_risk_assessor_reads():
    """The shortfall rows and the cost block build the risk assessor's AllocationSummary as they are."""
    from planning.risk import AllocationSummary

    result = allocate(goal(budget=100), two_engineer_tasks(False), [pool("engineer", 1, 50)], {}, SETTINGS)
    summary = AllocationSummary(shortfalls=result["shortfalls"], total_cost=result["cost"]["total"],
                                budget=result["cost"]["budget"], currency=result["cost"]["currency"])
    assert [(s["task_id"], s["needed"] - s["available"]) for s in summary.shortfalls] == [("t2", 1)]
    assert (summary.total_cost, summary.budget) == (800, 100)
