"""Monte Carlo schedule risk: sampled durations pushed through the network, all iterations at once.

Durations come from each task's three-point estimate (beta-PERT by default, triangular on
request; see `sampling`). They propagate through

* the precedence network (FS, SS, FF with lags), and
* resource-order edges taken from the schedule (`resource_order_edges`), so tasks that
  share a saturated resource keep the order the scheduler gave them.

Every task is an array of shape (iterations,); the passes loop over tasks in topological
order, never over iterations. Each iteration starts every task as early as those edges
allow (the schedule's other reasons for a later start, such as calendars, are not kept).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planning.errors import PlanningError
from planning.graph import topological_order
from planning.network import PlannedTask, TaskNetwork
from planning.risk import workspace
from planning.risk.inputs import ScheduleSnapshot
from planning.risk.sampling import DISTRIBUTIONS, draw_keys, quantile_rows, sample

DEFAULT_ITERATIONS = 2000
#: Up to this many tasks the simulation runs in float32: half the memory traffic, and the
#: rounding error of a path sum (at most tasks × 1.2e-7 × the finish) stays under minutes.
FLOAT32_MAX_TASKS = 200
TORNADO_SIZE = 10
#: Size guard: iterations x tasks above this are cut to fit (never below GUARDED_MIN_ITERATIONS).
#: 2,000 iterations of a 2,000-task plan fit; a 5,000-task plan gets 800 (the P80's standard
#: error grows by about 1.6x), in about a second instead of three and a fraction of the memory.
MAX_SIMULATION_CELLS = 4_000_000
GUARDED_MIN_ITERATIONS = 500
PERCENTILES = (0.5, 0.8, 0.95)


@dataclass(frozen=True)
class ScheduleRisk:
    """The simulated finish, in working hours from the project start, and what drives it."""

    p50: float
    p80: float
    p95: float
    mean: float
    std: float
    deadline_hours: float | None
    deadline_probability: float | None  # share of iterations finishing by the deadline
    deterministic_finish: float  # PERT means pushed through the same network and resource order
    scheduled_finish: float  # the schedule's makespan (whole-hour durations)
    iterations: int
    seed: int
    distribution: str
    criticality: dict[str, float]  # share of iterations in which the task is critical
    sensitivity: dict[str, float]  # Spearman rank correlation of duration with the finish
    tornado: tuple[dict[str, Any], ...]  # top drivers by |sensitivity|
    resource_edges: tuple[tuple[str, str, str], ...] = ()  # (before, after, resource)
    origin_hours: float = 0.0  # where the simulation starts (now, on reassessment)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "p50": round(self.p50, 3),
            "p80": round(self.p80, 3),
            "p95": round(self.p95, 3),
            "mean": round(self.mean, 3),
            "std": round(self.std, 3),
            "deadline_hours": self.deadline_hours,
            "deadline_probability": None if self.deadline_probability is None else round(self.deadline_probability, 4),
            "deterministic_finish": round(self.deterministic_finish, 3),
            "scheduled_finish": self.scheduled_finish,
            "iterations": self.iterations,
            "seed": self.seed,
            "distribution": self.distribution,
            "criticality": {k: round(v, 4) for k, v in self.criticality.items()},
            "sensitivity": {k: round(v, 4) for k, v in self.sensitivity.items()},
            "tornado": [dict(entry) for entry in self.tornado],
            "resource_edges": [list(edge) for edge in self.resource_edges],
            "origin_hours": self.origin_hours,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScheduleRisk:
        return cls(
            p50=data["p50"], p80=data["p80"], p95=data["p95"], mean=data["mean"], std=data["std"],
            deadline_hours=data.get("deadline_hours"), deadline_probability=data.get("deadline_probability"),
            deterministic_finish=data["deterministic_finish"], scheduled_finish=data["scheduled_finish"],
            iterations=data["iterations"], seed=data["seed"],
            distribution=data["distribution"], criticality=dict(data.get("criticality") or {}),
            sensitivity=dict(data.get("sensitivity") or {}),
            tornado=tuple(dict(e) for e in data.get("tornado") or ()),
            resource_edges=tuple(tuple(e) for e in data.get("resource_edges") or ()),
            origin_hours=data.get("origin_hours", 0.0), warnings=tuple(data.get("warnings") or ()),
        )


def derive_seed(tasks: list[PlannedTask]) -> int:
    """A seed from the tasks' ids and estimates, so the same plan gives the same numbers (48 bits)."""
    text = ";".join(
        f"{t.id}:{t.estimate.optimistic!r}:{t.estimate.most_likely!r}:{t.estimate.pessimistic!r}" for t in tasks
    )
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big")


def simulate_schedule(network: TaskNetwork, snapshot: ScheduleSnapshot, iterations: int = DEFAULT_ITERATIONS,
                      seed: int | None = None, distribution: str = "beta_pert") -> ScheduleRisk:
    """Simulate the schedule's finish `iterations` times; see the module docstring."""
    return simulate_tasks(network.tasks, snapshot, iterations=iterations, seed=seed, distribution=distribution)


def simulate_tasks(tasks: list[PlannedTask], snapshot: ScheduleSnapshot, *, iterations: int, seed: int | None,
                   distribution: str, origin_hours: float = 0.0) -> ScheduleRisk:
    """`simulate_schedule` over a task list; times are reported as `origin_hours` + simulated hours."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 10:
        raise PlanningError("iterations must be an integer of at least 10", "iterations")
    if distribution not in DISTRIBUTIONS:
        raise PlanningError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}", "distribution")
    unscheduled = [t.id for t in tasks if t.id not in snapshot.starts]
    if unscheduled:
        raise PlanningError(f"tasks missing from the schedule: {', '.join(unscheduled[:5])}", "snapshot.starts")
    if seed is None:
        seed = derive_seed(tasks)
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PlanningError("seed must be a non-negative integer", "seed")
    edges, warnings = resource_order_edges(tasks, snapshot)
    if tasks and iterations * len(tasks) > MAX_SIMULATION_CELLS:
        fitted = max(GUARDED_MIN_ITERATIONS, MAX_SIMULATION_CELLS // len(tasks))
        if fitted < iterations:
            warnings.append(f"size guard (risk): {fitted:,} Monte Carlo iterations instead of {iterations:,} "
                            f"for {len(tasks):,} tasks")
            iterations = fitted
    deadline = snapshot.deadline_hours
    if not tasks:
        return _empty(snapshot, iterations, seed, distribution, origin_hours)
    network = _Network.build(tasks, edges)
    rng = np.random.default_rng(seed)
    keys = draw_keys(rng, len(tasks), iterations)
    estimates = np.array([(t.estimate.optimistic, t.estimate.most_likely, t.estimate.pessimistic) for t in tasks])
    dtype = np.float32 if len(tasks) <= FLOAT32_MAX_TASKS else np.float64
    rows, steps = quantile_rows(estimates[:, 0], estimates[:, 1], estimates[:, 2], distribution, dtype)
    durations = sample(rows, steps, keys, out=workspace.array("durations", keys.shape, dtype))
    deterministic = network.deterministic_finish([t.estimate.pert_mean for t in tasks]) + origin_hours
    _, finishes = network.forward(durations)
    finish_raw = finishes.max(axis=0)
    critical = network.critical(durations, finishes, finish_raw)
    finish = finish_raw.astype(np.float64)
    rank_order = workspace.keep("rank_order", np.argsort(keys, axis=1, kind="stable"))  # radix sort, 16-bit keys
    constant = estimates[:, 2] <= estimates[:, 0]
    finish_total = finish + origin_hours
    finish_order = np.argsort(finish_total)
    ordered = finish_total[finish_order]
    sensitivity = _spearman(rank_order, _average_ranks(ordered, finish_order), constant)
    p50, p80, p95 = (_quantile(ordered, q) for q in PERCENTILES)
    ids = [t.id for t in tasks]
    return ScheduleRisk(
        p50=p50, p80=p80, p95=p95,
        mean=float(finish_total.mean()), std=float(finish_total.std()),
        deadline_hours=deadline,
        deadline_probability=None if deadline is None else float(np.mean(finish_total <= deadline + 1e-9)),
        deterministic_finish=deterministic, scheduled_finish=float(snapshot.makespan),
        iterations=iterations, seed=seed, distribution=distribution,
        criticality={task_id: float(c) for task_id, c in zip(ids, critical, strict=True)},
        sensitivity={task_id: float(s) for task_id, s in zip(ids, sensitivity, strict=True)},
        tornado=_tornado(tasks, sensitivity, critical, rank_order, finish_total),
        resource_edges=tuple(edges),
        origin_hours=origin_hours,
        warnings=tuple(warnings),
    )


def resource_order_edges(tasks: list[PlannedTask], snapshot: ScheduleSnapshot
                         ) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Finish-to-start edges that keep the schedule's order on saturated resources.

    Rule: a resource is saturated when the tasks using it need more units together than its
    capacity (so they cannot all run at once). For each saturated resource, tasks are taken
    in schedule order (start, finish, id) and each unit of capacity is a chain of tasks
    that use it in turn; a task takes its units from chains that are free at its scheduled
    start, preferring (1) units nobody used yet, (2) units last held by one of its own
    predecessors, (3) the unit freed earliest. Every unit taken from another task adds the
    edge "that task finishes before this one starts" (a resource flow, as in chaining for
    partial-order schedules). Whatever the sampled durations, no saturated resource is
    then over-booked, and no edge is added that the schedule does not already imply.
    Returns the edges and warnings (a schedule that over-books a resource).
    """
    starts, finishes = snapshot.starts, snapshot.finishes
    # Only finish-to-start links guarantee a hand-over; SS and FF links allow overlap.
    predecessors = {t.id: {d.task_id for d in t.depends_on if d.kind == "FS" and d.lag_hours >= 0} for t in tasks}
    edges: list[tuple[str, str, str]] = []
    warnings: list[str] = []
    seen: set[tuple[str, str]] = set()
    for resource in sorted(snapshot.capacities):
        capacity = snapshot.capacities[resource]
        users = [t for t in tasks if t.resources.get(resource, 0) > 0]
        if capacity <= 0 or sum(t.resources[resource] for t in users) <= capacity:
            continue
        users.sort(key=lambda t: (starts[t.id], finishes[t.id], t.id))
        fresh = capacity  # units no task has held yet
        holders: list[str] = []  # one entry per used unit: the task that last held it
        for task in users:
            need = task.resources[resource]
            if need > capacity:
                warnings.append(f"{task.id} needs {need} {resource}, capacity is {capacity}")
                need = capacity
            from_fresh = min(fresh, need)
            fresh -= from_fresh
            need -= from_fresh
            if need:
                start, preds = starts[task.id], predecessors[task.id]
                free: list[tuple[bool, int, str, int]] = []
                busy: list[tuple[bool, int, str, int]] = []
                for unit, holder in enumerate(holders):
                    done = finishes[holder]
                    (free if done <= start else busy).append((holder not in preds, done, holder, unit))
                free.sort()
                taken = free[:need]
                if len(taken) < need:
                    warnings.append(f"the schedule over-books {resource} at hour {start} (task {task.id})")
                    taken += sorted(busy)[: need - len(taken)]
                for not_pred, _, holder, unit in taken:
                    if not_pred and (holder, task.id) not in seen:
                        seen.add((holder, task.id))
                        edges.append((holder, task.id, resource))
                    holders[unit] = task.id
            holders.extend([task.id] * from_fresh)
    return edges, warnings


@dataclass
class _Network:
    """Integer-indexed arcs in topological order: pred[j] = [(i, kind, lag)], succ[i] = [(j, kind, lag)]."""

    order: list[int]
    pred: list[list[tuple[int, str, float]]]
    succ: list[list[tuple[int, str, float]]]

    @classmethod
    def build(cls, tasks: list[PlannedTask], resource_edges: list[tuple[str, str, str]]) -> _Network:
        index = {t.id: i for i, t in enumerate(tasks)}
        pred: list[list[tuple[int, str, float]]] = [[] for _ in tasks]
        succ: list[list[tuple[int, str, float]]] = [[] for _ in tasks]
        arcs = [(dep.task_id, t.id, dep.kind, float(dep.lag_hours)) for t in tasks for dep in t.depends_on
                if dep.task_id in index]
        arcs += [(before, after, "FS", 0.0) for before, after, _ in resource_edges]
        for before, after, kind, lag in arcs:
            i, j = index[before], index[after]
            pred[j].append((i, kind, lag))
            succ[i].append((j, kind, lag))
        try:
            order = topological_order({t.id: [tasks[j].id for j, _, _ in succ[i]] for i, t in enumerate(tasks)})
        except ValueError as error:
            raise PlanningError(f"the schedule's resource order contradicts the network: {error}",
                                "snapshot") from None
        # Kahn's order depends on dict order only, so it is deterministic.
        return cls([index[task_id] for task_id in order], pred, succ)

    def deterministic_finish(self, durations: list[float]) -> float:
        """The forward pass for one set of durations, in plain floats (faster than 1-wide arrays)."""
        starts = [0.0] * len(durations)
        finishes = [0.0] * len(durations)
        for j in self.order:
            start = 0.0
            for i, kind, lag in self.pred[j]:
                if kind == "SS":
                    candidate = starts[i] + lag
                elif kind == "FF":
                    candidate = finishes[i] + lag - durations[j]
                else:
                    candidate = finishes[i] + lag
                start = max(start, candidate)
            starts[j], finishes[j] = start, start + durations[j]
        return max(finishes, default=0.0)

    def forward(self, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Earliest starts and finishes, shape (tasks, iterations), in the workspace."""
        starts = workspace.array("starts", durations.shape, durations.dtype)
        finishes = workspace.array("finishes", durations.shape, durations.dtype)
        starts.fill(0.0)
        for j in self.order:
            start = starts[j]
            for i, kind, lag in self.pred[j]:
                if kind == "SS":
                    candidate = starts[i]
                elif kind == "FF":
                    candidate = finishes[i] - durations[j]
                else:
                    candidate = finishes[i]
                if lag:
                    candidate = candidate + lag
                np.maximum(start, candidate, out=start)
            np.add(start, durations[j], out=finishes[j])
        return starts, finishes

    def critical(self, durations: np.ndarray, finishes: np.ndarray, finish: np.ndarray) -> np.ndarray:
        """Criticality index per task: share of iterations with zero total float (backward pass)."""
        late_finish = workspace.array("late_finish", durations.shape, durations.dtype)
        late_start = workspace.array("late_start", durations.shape, durations.dtype)
        for i in reversed(self.order):
            latest = late_finish[i]
            latest[...] = finish
            for j, kind, lag in self.succ[i]:
                if kind == "SS":
                    candidate = late_start[j] + durations[i]
                elif kind == "FF":
                    candidate = late_finish[j]
                else:
                    candidate = late_start[j]
                if lag:
                    candidate = candidate - lag
                np.minimum(latest, candidate, out=latest)
            np.subtract(latest, durations[i], out=late_start[i])
        # Forward and backward sums each round by at most (path length × eps × finish).
        tolerance = 2 * len(self.order) * float(np.finfo(durations.dtype).eps) * max(1.0, float(finish.max()))
        slack = np.subtract(late_finish, finishes, out=late_finish)
        critical = np.less_equal(slack, tolerance, out=workspace.array("critical", slack.shape, np.bool_))
        share: np.ndarray = np.count_nonzero(critical, axis=1) / durations.shape[1]
        return share


def _spearman(rank_order: np.ndarray, finish_ranks: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """Spearman correlation of each task's duration with the finish.

    `rank_order[i]` lists iterations from the shortest duration of task i to the longest,
    so task ranks are 0..n-1 by position; the finish gets average ranks for ties. Equal
    16-bit draws (about 30 pairs in 2,000) keep draw order instead of an averaged rank, a
    difference far below sampling error. Tasks with a fixed duration correlate 0.
    """
    n = finish_ranks.shape[0]
    centred = finish_ranks - (n - 1) / 2.0
    spread = float(np.sqrt(np.dot(centred, centred) * (n * (n * n - 1) / 12.0)))
    if spread == 0.0:
        return np.zeros(rank_order.shape[0])
    gathered = np.take(centred, rank_order, out=workspace.array("spearman_gather", rank_order.shape))
    covariance = gathered @ np.arange(n, dtype=np.float64)
    result: np.ndarray = covariance / spread
    result[constant] = 0.0
    return result


def _quantile(ordered: np.ndarray, q: float) -> float:
    """Linear interpolation between order statistics (NumPy's default method), on sorted data."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def _average_ranks(ordered: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of the values that sort as `ordered` by `order`; ties share their average rank."""
    boundaries = np.flatnonzero(np.diff(ordered)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(ordered)]))
    group_rank = (starts + ends - 1) / 2.0
    ranks = np.empty(len(ordered))
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def _tornado(tasks: list[PlannedTask], sensitivity: np.ndarray, critical: np.ndarray, rank_order: np.ndarray,
             finish: np.ndarray) -> tuple[dict[str, Any], ...]:
    """Top drivers: mean finish when the task's duration is in its lowest and highest tenth."""
    ranked = sorted(range(len(tasks)), key=lambda i: (-abs(sensitivity[i]), -critical[i], tasks[i].id))
    top = [i for i in ranked[:TORNADO_SIZE] if sensitivity[i] != 0.0]
    tenth = max(1, rank_order.shape[1] // 10)
    short = finish[rank_order[top, :tenth]].mean(axis=1)
    long = finish[rank_order[top, -tenth:]].mean(axis=1)
    entries = []
    for position, i in enumerate(top):
        entries.append({
            "task": tasks[i].id,
            "name": tasks[i].name,
            "sensitivity": round(float(sensitivity[i]), 4),
            "criticality": round(float(critical[i]), 4),
            "finish_if_short": round(float(short[position]), 3),
            "finish_if_long": round(float(long[position]), 3),
            "swing_hours": round(float(long[position] - short[position]), 3),
        })
    return tuple(entries)


def _empty(snapshot: ScheduleSnapshot, iterations: int, seed: int, distribution: str, origin: float) -> ScheduleRisk:
    deadline = snapshot.deadline_hours
    return ScheduleRisk(
        p50=origin, p80=origin, p95=origin, mean=origin, std=0.0, deadline_hours=deadline,
        deadline_probability=None if deadline is None else float(origin <= deadline),
        deterministic_finish=origin, scheduled_finish=float(snapshot.makespan), iterations=iterations, seed=seed,
        distribution=distribution, criticality={}, sensitivity={}, tornado=(), origin_hours=origin,
    )
