"""Replanning from the status date with retained logic, and the replan's warm-started, stable solve.

`replan_input` turns the previous schedule, the problem (`build_problem` of the network and
its allocation) and the progress reports into the problem of the work that remains:

- a completed task keeps its actual dates: a fixed activity [actual start, actual finish)
  that uses no capacity (the past is a fact: overtime and out-of-sequence work happened
  whatever the model's capacities and links said) and from which links still bind;
- an in-progress task keeps its actual start; its remaining hours become one activity at or
  after the status date T, fixed at T (it simply continues) unless retained logic or
  capacity holds it: a predecessor not finished yet (FS/FF: it waits for it), a
  `not_before` hour, or too little capacity left at T for every running task. The task's
  finish is then T + remaining hours when nothing else constrains it;
- a task not started begins at T or later (release = T), with its reported remaining hours
  as a re-estimate of its duration when given;
- links into a completed task are dropped (its dates are facts); an SS link into a started
  task is met; an SS link out of a started task becomes a release of its successor
  (actual start + lag). Under `logic="progress_override"` links into a started task are
  ignored altogether (P6's progress override). Rules and their comparison with P6 and MS
  Project: docs/lifecycle.md (The replan rules).

`replan_schedule` solves it with the previous schedule as the warm start (`scheduling.solve`'s
`initial`), then a stability pass (`planning.replanning.stability`) picks, among schedules
of the same objective, the one that moves the fewest tasks. Hours are WORKING hours from the
project start, as in the schedule stage.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planning.progress.status import TaskProgress
from planning.replanning.errors import ReplanError
from planning.replanning.stability import StabilityOutcome, moved_of, stabilize
from scheduling import Activity, Precedence, ProblemData, ProblemError, SolveResult, analyse_cpm, solve, verify_schedule
from scheduling.objective_solve import due_date_core
from scheduling.objectives import availability_cost, deadline_overrun, weighted_tardiness
from scheduling.sgs import makespan

LOGICS = ("retained", "progress_override")
COMPLETED, IN_PROGRESS, NOT_STARTED = "completed", "in_progress", "not_started"
#: The solver's share of the replan's time limit; the stability pass gets the rest (and any time it left).
#: Half: the solver starts from the previous schedule, and what a replan needs most is the pass
#: (bench/replan.py, 4 seeds at 1.5 s: 0.8 left 95-123 tasks moved on two of them, 0.5 moved 9-17 on three).
SOLVE_SHARE = 0.5
EPSILON = 1e-9  # reported hours are floats: 8.000000001 is still 8 whole hours
VALUE_DIGITS = 6  # objective values are sums of floats: equal to this many places counts as equal


@dataclass(frozen=True)
class ReplanProblem:
    """The remaining work from the status date, as a scheduling problem keyed by task id.

    Each task is one activity of `data`: a completed one fixed at its actual dates, an
    in-progress one as its remaining part (from `resume`, >= the status date), a not-started
    one as a whole. `preferred` is the start that would leave each activity where the
    previous schedule had it (the status date for a running task: it goes on).
    """

    data: ProblemData
    status_hours: int
    logic: str
    states: Mapping[str, str]  # task -> completed | in_progress | not_started
    actual_starts: Mapping[str, int]  # completed and in-progress tasks
    remaining_hours: Mapping[str, int]  # in-progress tasks: hours left after the status date
    previous: Mapping[str, tuple[int, int]]  # task -> (start, finish) in the previous schedule
    preferred: Mapping[str, int]
    held: Mapping[str, str] = field(default_factory=dict)  # in-progress tasks not fixed at T, and why
    notes: tuple[str, ...] = ()  # assumptions made for missing actuals


@dataclass(frozen=True)
class ReplanResult:
    """The replanned schedule (`schedule`, shaped like the schedule stage's result) and what moved."""

    schedule: dict[str, Any]
    starts: dict[str, int]  # the activities' starts in `ReplanProblem.data` (in-progress: the resumption)
    moved: dict[str, int]  # task -> hours its dates moved (start; finish for a started task); 0s left out
    moved_count: int
    solve: SolveResult
    stability: StabilityOutcome | None  # None from scratch (`warm_start=False`)


def replan_input(previous_schedule: Mapping[str, Any], problem: ProblemData, progress: Mapping[str, TaskProgress],
                 status_hours: int, *, logic: str = "retained",
                 not_before: Mapping[str, int] | None = None) -> ReplanProblem:
    """The problem of the remaining work at `status_hours` (see the module docstring).

    `previous_schedule` is the schedule stage's result (`{"tasks": {id: {"start", "finish"}}}`)
    or a plan document (`{"tasks": [{"id", "start_hour", "finish_hour"}]}`); `problem` is
    `build_problem(network, pools, task_demands)` with the pools as they are now;
    `progress` maps task ids to their TaskProgress (a task left out has not started);
    `not_before` gives unfinished tasks an hour they cannot (re)start before (a blocked task's
    expected release, say). Raises ReplanError naming the offending field.
    """
    status = _whole(status_hours, "status_hours")
    if logic not in LOGICS:
        raise ReplanError(f"logic must be one of {', '.join(LOGICS)}, got {logic!r}", "logic")
    previous = previous_times(previous_schedule)
    activities = {a.key: a for a in problem.activities}
    for task_id, report in progress.items():
        if task_id not in activities:
            raise ReplanError(f"progress for {task_id!r}, which is not a task of the plan", f"progress.{task_id}")
        if not isinstance(report, TaskProgress) or report.task_id != task_id:
            raise ReplanError(f"progress.{task_id} must be the TaskProgress of {task_id!r}", f"progress.{task_id}")
    hold = {}
    for task_id, hour in (not_before or {}).items():
        if task_id not in activities:
            raise ReplanError(f"not_before names {task_id!r}, which is not a task of the plan", f"not_before.{task_id}")
        hold[task_id] = _whole(hour, f"not_before.{task_id}")
    notes: list[str] = []
    states: dict[str, str] = {}
    actual: dict[str, int] = {}
    remaining: dict[str, int] = {}
    durations: dict[str, int] = {}
    for key, activity in activities.items():
        report = progress.get(key)
        states[key] = state = task_state(report)
        where = f"progress.{key}"
        planned = previous.get(key)
        if state == COMPLETED:
            start, finish = _completed_dates(report, planned, activity.duration, status, where, notes)
            actual[key], durations[key] = start, finish - start
        elif state == IN_PROGRESS:
            actual[key] = _started_at(report, planned, status, where, notes)
            remaining[key] = durations[key] = _remaining(report, activity.duration, where)
        else:
            durations[key] = activity.duration if report is None or report.remaining_hours is None \
                else _hours_up(report.remaining_hours)

    release = {key: max(a.release, status, hold.get(key, 0)) for key, a in activities.items()}
    kept: list[Precedence] = []
    for link in problem.precedences:
        pred, succ = states[link.pred], states[link.succ]
        if succ == COMPLETED:
            continue  # its dates are facts
        if succ == IN_PROGRESS and (logic == "progress_override" or link.kind == "SS"):
            continue  # its start (what SS binds) is a fact; progress override ignores all logic into it
        if pred == IN_PROGRESS and link.kind == "SS":
            # the predecessor's start is a fact; its activity here is only its remaining part
            release[link.succ] = max(release[link.succ], actual[link.pred] + link.lag)
            continue
        kept.append(link)

    fixed_at, held = _running_from_status(problem, states, actual, durations, release, kept, status, hold)
    built = []
    for key, a in activities.items():
        if states[key] == COMPLETED:
            built.append(Activity(key, durations[key], {}, 0, None, actual[key], a.name, a.weight))
        else:
            built.append(Activity(key, durations[key], dict(a.demands), release[key], a.deadline,
                                  fixed_at.get(key), a.name, a.weight))
    try:
        data = ProblemData(built, list(problem.resources), kept)
    except ProblemError as error:
        raise ReplanError(f"the remaining work cannot be scheduled: {error}", getattr(error, "field", None)) from None

    preferred = {}
    for key in activities:
        if states[key] == COMPLETED:
            preferred[key] = actual[key]
        elif states[key] == IN_PROGRESS:
            preferred[key] = status
        elif key in previous:
            preferred[key] = previous[key][0]
    missing = sorted(set(activities) - set(previous))
    if missing:
        notes.append(f"{len(missing)} task(s) are not in the previous schedule and are planned afresh: "
                     f"{', '.join(missing[:10])}")
    dropped = sorted(set(previous) - set(activities))
    if dropped:
        notes.append(f"{len(dropped)} task(s) of the previous schedule are no longer in the plan: "
                     f"{', '.join(dropped[:10])}")
    return ReplanProblem(data=data, status_hours=status, logic=logic, states=states, actual_starts=actual,
                         remaining_hours=remaining, previous=previous, preferred=preferred, held=held,
                         notes=tuple(notes))


def task_state(report: TaskProgress | None) -> str:
    """completed, in_progress or not_started, from the report's status and actuals.

    Completed: status "completed", or 100 % with no remaining hours reported. Started: status
    "in_progress", or any sign of work (an actual start, percent complete, actual hours),
    whatever the status (a blocked or failed task that had started is under way).
    """
    if report is None:
        return NOT_STARTED
    if report.status == "completed" or (report.done and not report.remaining_hours):
        return COMPLETED
    if report.status == "in_progress" or report.actual_start_hours is not None or report.percent_complete > 0 \
            or (report.actual_hours or 0) > 0:
        return IN_PROGRESS
    return NOT_STARTED


def previous_times(schedule: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """task -> (start, finish) from a schedule stage result or a plan document."""
    tasks = schedule.get("tasks") if isinstance(schedule, Mapping) else None
    out: dict[str, tuple[int, int]] = {}
    if isinstance(tasks, Mapping):
        for key, slot in tasks.items():
            out[key] = (_whole(slot.get("start"), f"previous.tasks.{key}.start"),
                        _whole(slot.get("finish"), f"previous.tasks.{key}.finish"))
    elif isinstance(tasks, list):
        for index, slot in enumerate(tasks):
            if not isinstance(slot, Mapping) or not isinstance(slot.get("id"), str):
                raise ReplanError(f"previous tasks[{index}] has no id", f"previous.tasks[{index}].id")
            out[slot["id"]] = (_whole(slot.get("start_hour"), f"previous.tasks[{index}].start_hour"),
                               _whole(slot.get("finish_hour"), f"previous.tasks[{index}].finish_hour"))
    else:
        raise ReplanError("the previous schedule has no tasks", "previous.tasks")
    return out


def replan_schedule(replan: ReplanProblem, *, time_limit: float = 10.0, seed: int = 0, objective: str = "makespan",
                    solver: str = "auto", warm_start: bool = True, stability_tolerance: float = 0.0) -> ReplanResult:
    """Solve the remaining work within `time_limit` seconds; the new schedule and what moved.

    With `warm_start` (the default) the solver starts from the previous schedule and a
    stability pass then keeps, among schedules of the same objective, the one that moves
    the fewest tasks; `stability_tolerance` (in the objective's unit: hours for makespan and
    tardiness) lets it give up that much objective for fewer moves. `warm_start=False` plans
    the remaining work from scratch (the solver alone, with the whole limit): a baseline.
    """
    if not time_limit > 0:
        raise ReplanError("time_limit must be > 0", "time_limit")
    if isinstance(stability_tolerance, bool) or not isinstance(stability_tolerance, int | float) \
            or not 0 <= stability_tolerance < math.inf:
        raise ReplanError("stability_tolerance must be a finite number >= 0", "stability_tolerance")
    data = replan.data
    t0 = time.perf_counter()
    if not warm_start:
        result = solve(data, time_limit=time_limit, seed=seed, objective=objective, solver=solver)
        starts, stability = dict(result.starts), None
    else:
        result = solve(data, time_limit=SOLVE_SHARE * time_limit, seed=seed, objective=objective, solver=solver,
                       initial=replan.preferred)
        core, rank, horizon = _ranking(data, objective, result)
        incumbent = [result.starts[key] for key in core.keys]
        left = max(0.0, t0 + time_limit - time.perf_counter())
        stability = stabilize(core, rank, replan.preferred, incumbent, seconds=left, seed=seed,
                              tolerance=stability_tolerance, makespan_of=horizon)
        starts = dict(zip(core.keys, stability.start, strict=True))
        if verify_schedule(data, starts, deadlines=objective != "weighted_tardiness") and not verify_schedule(
                data, result.starts, deadlines=objective != "weighted_tardiness"):
            starts = dict(result.starts)  # never trust a pass that broke what the solver kept
    moved = _moved(replan, starts)
    schedule = _schedule_dict(replan, starts, result, objective, moved, stability,
                              stability_tolerance if warm_start else None)
    return ReplanResult(schedule=schedule, starts=starts, moved=moved, moved_count=len(moved), solve=result,
                        stability=stability)


def moved_tasks(replan: ReplanProblem, starts: Mapping[str, int]) -> dict[str, int]:
    """task -> hours moved against the previous schedule, for the unfinished tasks that moved.

    A task not started moves by the shift of its start; a started task by the shift of its
    finish (its start is a fact). Completed tasks and tasks new to the plan are left out.
    """
    return _moved(replan, starts)


def _moved(replan: ReplanProblem, starts: Mapping[str, int]) -> dict[str, int]:
    out = {}
    durations = {a.key: a.duration for a in replan.data.activities}
    for key, state in replan.states.items():
        before = replan.previous.get(key)
        if before is None or state == COMPLETED:
            continue
        shift = starts[key] + durations[key] - before[1] if state == IN_PROGRESS else starts[key] - before[0]
        if shift:
            out[key] = shift
    return out


def _ranking(data: ProblemData, objective: str, result: SolveResult):
    """The solver's ranking of schedules as (hard violation, value), the core it ranks on, and
    the makespan a schedule must keep for a given value (None: no such limit)."""
    if objective == "weighted_tardiness":
        core = due_date_core(data)

        def rank(start: list[int]) -> tuple:
            return (deadline_overrun(core, start), round(weighted_tardiness(core, start), VALUE_DIGITS))

        return core, rank, None
    core = data.core
    if objective == "cost":
        limit = int(result.stats.get("makespan_limit", core.horizon))

        def rank(start: list[int]) -> tuple:
            over = deadline_overrun(core, start) + max(0, makespan(core, start) - limit)
            return (over, round(availability_cost(core, start), VALUE_DIGITS))

        return core, rank, lambda value: limit

    def rank(start: list[int]) -> tuple:
        return (deadline_overrun(core, start), makespan(core, start))

    return core, rank, lambda value: math.floor(value)


def _schedule_dict(replan: ReplanProblem, starts: Mapping[str, int], result: SolveResult, objective: str,
                   moved: dict[str, int], stability: StabilityOutcome | None,
                   tolerance: float | None) -> dict[str, Any]:
    data = replan.data
    cpm = analyse_cpm(data, starts=dict(starts))
    durations = {a.key: a.duration for a in data.activities}
    tasks: dict[str, dict[str, Any]] = {}
    for key, start in starts.items():
        state = replan.states[key]
        finish = start + durations[key]
        if state == COMPLETED:
            tasks[key] = {"start": start, "finish": finish, "es": start, "ef": finish, "ls": start, "lf": finish,
                          "total_float": 0, "free_float": 0, "critical": False, "state": state}
            continue
        entry = {
            "start": replan.actual_starts[key] if state == IN_PROGRESS else start,
            "finish": finish,
            **{name: getattr(cpm, name)[key] for name in ("es", "ef", "ls", "lf", "total_float", "free_float")},
            "critical": bool(cpm.critical[key]),
            "state": state,
        }
        if state == IN_PROGRESS:
            entry.update({"actual_start": replan.actual_starts[key], "remaining_hours": durations[key],
                          "resume": start})
        tasks[key] = entry
    suspended = sorted(key for key, state in replan.states.items()
                       if state == IN_PROGRESS and starts[key] > replan.status_hours)
    core = data.core
    wanted = [replan.preferred.get(key) for key in core.keys]
    block: dict[str, Any] = {
        "status_hours": replan.status_hours,
        "logic": replan.logic,
        "warm_start": tolerance is not None,
        "stability_tolerance": tolerance,
        "moved": dict(sorted(moved.items())),
        "moved_count": len(moved),
        "completed": sorted(k for k, s in replan.states.items() if s == COMPLETED),
        "in_progress": sorted(k for k, s in replan.states.items() if s == IN_PROGRESS),
        "suspended": suspended,
        "held": dict(sorted(replan.held.items())),
        "notes": list(replan.notes),
    }
    if stability is not None:
        solver_moves = moved_of(core, wanted, [result.starts[key] for key in core.keys])[0]
        block["stability"] = {"seconds": round(stability.seconds, 3), "generations": stability.generations,
                              "activities_moved_by_solver": solver_moves, "activities_moved": stability.score[2]}
    value = _objective_value(data, objective, starts)
    status = result.status.name.lower()
    solver = {
        "method": result.method,
        "status": status,
        "requested_objective": objective,
        "solved_objective": objective,
        "objective": value,
        "lower_bound": result.lower_bound,
        "gap": max((value - result.lower_bound) / value, 0.0) if value > 0 else 0.0,
        "seconds": round(result.seconds, 3),
    }
    if value > result.objective + 1e-9:
        # the stability tolerance gave up some objective for fewer moves: no longer the proven optimum
        solver["status"] = "feasible" if status == "optimal" else status
        solver["note"] = (f"{value - result.objective:g} of objective given up for stability "
                          f"(the solver's best was {result.objective:g})")
    return {
        "tasks": tasks,
        "critical_path": [key for key in cpm.critical_path if replan.states[key] != COMPLETED],
        "makespan_hours": max((t["finish"] for t in tasks.values()), default=0),
        "capacities": {resource.key: resource.capacity for resource in data.resources},
        "solver": solver,
        "replan": block,
    }


def _objective_value(data: ProblemData, objective: str, starts: Mapping[str, int]) -> float:
    start = [starts[key] for key in data.core.keys]
    if objective == "weighted_tardiness":
        return weighted_tardiness(due_date_core(data), start)
    if objective == "cost":
        return availability_cost(data.core, start)
    return float(makespan(data.core, start))


# -- progress to activities ---------------------------------------------------------------

def _completed_dates(report: TaskProgress, planned: tuple[int, int] | None, duration: int, status: int,
                     where: str, notes: list[str]) -> tuple[int, int]:
    start = None if report.actual_start_hours is None else math.floor(report.actual_start_hours + EPSILON)
    finish = None if report.actual_finish_hours is None else _hours_up(report.actual_finish_hours)
    if finish is not None and finish > status:
        raise ReplanError(f"completed at hour {report.actual_finish_hours:g}, after the status date {status}",
                          f"{where}.actual_finish_hours")
    if start is not None and start > status:
        raise ReplanError(f"started at hour {report.actual_start_hours:g}, after the status date {status}",
                          f"{where}.actual_start_hours")
    if finish is None:
        if start is not None:
            finish = min(status, start + duration)
        else:
            finish = min(status, planned[1]) if planned else status
        notes.append(f"{where}: completed without an actual finish; taken as hour {finish}")
    if start is None:
        start = planned[0] if planned and planned[0] <= finish else max(0, finish - duration)
        notes.append(f"{where}: completed without an actual start; taken as hour {start}")
    return start, max(start, finish)


def _started_at(report: TaskProgress, planned: tuple[int, int] | None, status: int, where: str,
                notes: list[str]) -> int:
    if report.actual_start_hours is not None:
        start = math.floor(report.actual_start_hours + EPSILON)
        if start > status:
            raise ReplanError(f"started at hour {report.actual_start_hours:g}, after the status date {status}",
                              f"{where}.actual_start_hours")
        return start
    start = min(planned[0], status) if planned else status
    notes.append(f"{where}: in progress without an actual start; taken as hour {start}")
    return start


def _remaining(report: TaskProgress, duration: int, where: str) -> int:
    """Hours left: as reported, else the planned duration times the share not done."""
    if report.remaining_hours is not None:
        return _hours_up(report.remaining_hours)
    return _hours_up((1.0 - report.fraction) * duration)


def _running_from_status(problem: ProblemData, states: dict[str, str], actual: dict[str, int],
                         durations: dict[str, int], release: dict[str, int], kept: list[Precedence], status: int,
                         hold: dict[str, int]) -> tuple[dict[str, int], dict[str, str]]:
    """Which running tasks simply go on at the status date (fixed there), and why the others wait.

    A running task waits (released at T, not fixed) for a predecessor that has not finished,
    for a completed predecessor's lag, for its `not_before` hour, or for capacity: the
    running tasks are fixed at T in order of actual start while they fit.
    """
    finish_of = {key: actual[key] + durations[key] for key, state in states.items() if state == COMPLETED}
    held: dict[str, str] = {}
    candidates = []
    for key in sorted((k for k, s in states.items() if s == IN_PROGRESS), key=lambda k: (actual[k], k)):
        why = None
        if release[key] > status:
            why = f"not before hour {release[key]}"
        for link in kept:
            if link.succ != key or why:
                continue
            if states[link.pred] != COMPLETED:
                why = f"waits for {link.pred} ({link.kind}) to finish"
            elif link.kind == "FS" and finish_of[link.pred] + link.lag > status:
                why = f"waits for the lag after {link.pred}"
            elif link.kind == "FF" and finish_of[link.pred] + link.lag > status + durations[key]:
                why = f"may not finish before {link.pred} + lag"
        if why:
            held[key] = why
        else:
            candidates.append(key)
    steps = {resource.key: resource.steps() for resource in problem.resources}
    demands = {a.key: a.demands for a in problem.activities}
    load: dict[str, dict[int, int]] = {name: {} for name in steps}
    fixed: dict[str, int] = {}
    for key in candidates:
        span = range(status, status + durations[key])
        use = {name: units for name, units in demands[key].items() if units > 0}
        if all(load[name].get(t, 0) + units <= _capacity(steps[name], t) for name, units in use.items()
               for t in span):
            for name, units in use.items():
                for t in span:
                    load[name][t] = load[name].get(t, 0) + units
            fixed[key] = status
        else:
            held[key] = "not enough capacity left at the status date for every running task"
    return fixed, held


def _capacity(steps: list[tuple[int, int]], t: int) -> int:
    level = steps[0][1]
    for start, units in steps:
        if start > t:
            break
        level = units
    return level


def _hours_up(hours: float) -> int:
    return max(0, math.ceil(hours - EPSILON))


def _whole(value: object, name: str) -> int:
    """A whole number of hours >= 0 (an integral float such as 8.0 is accepted)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0 \
            or int(value) != value:
        raise ReplanError(f"{name} must be a whole number of hours >= 0, got {value!r}", name)
    return int(value)


def with_data(replan: ReplanProblem, data: ProblemData) -> ReplanProblem:
    """The same replan over other problem data (due dates or unit costs added by the caller)."""
    return dataclasses.replace(replan, data=data)
