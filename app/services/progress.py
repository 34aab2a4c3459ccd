"""Progress of a plan under execution: the read side of execution feedback.

Everything here is measured against the plan's *baseline* version (the approved one): its
immutable document gives each task's planned window and value, the live `plan_tasks` rows
(or, for an earlier moment, the `feedback_events` up to it) give what was reported. The
figures themselves come from the pure `planning.progress` package (EVM, Earned Schedule,
S-curve, slip and severity) and `planning.risk.reassess` (Monte Carlo of the remaining
work, re-scored risks); this module only loads, converts and assembles.

Time: the plan's calendar (planning/work_calendar.py) has no time zone; a moment is
converted to UTC and its wall time read on that calendar, as the plan's own dates are
written. Working hours count from the project start (`PlanClock`).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import FeedbackEvent, Goal, Plan, PlanIssue, PlanProgress, PlanRisk, PlanTask, PlanVersion, StageResult
from planning.identity import task_uid
from planning.progress import (
    STATUSES,
    Baseline,
    TaskProgress,
    earned_schedule,
    evm,
    s_curve,
    slip_hours,
)
from planning.settings import PlanningSettings
from planning.work_calendar import calendar_for
from scheduling.calendar import WorkCalendar

#: A remaining task is on the critical path now when it is critical in at least this share
#: of the Monte Carlo outcomes of the remaining work.
CRITICAL_NOW_SHARE = 0.5
#: Datetimes outside these years are refused: no plan runs then, and the clock's day table stays small.
YEAR_RANGE = (1970, 2200)


# --------------------------------------------------------------------------- time


def as_utc(moment: datetime | None) -> datetime | None:
    """Aware UTC; a naive datetime (SQLite gives those back, the plan document writes them) is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    moment = as_utc(moment)
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


class PlanClock:
    """Working hours from the project start <-> datetimes, on the plan calendar.

    `hours` is `WorkCalendar.to_work_hours` with the fraction of the hour kept, and a table of
    working days counted once, so converting a moment costs a lookup, not a walk over the days.
    """

    def __init__(self, calendar: WorkCalendar, start: date):
        self.calendar, self.start = calendar, start
        self._before = [0]  # working days in [start, start + i)
        self._lock = threading.Lock()

    def _working_days_before(self, day: date) -> int:
        offset = (day - self.start).days
        if offset >= len(self._before):
            with self._lock:
                while len(self._before) <= offset:
                    previous = self.start + timedelta(days=len(self._before) - 1)
                    self._before.append(self._before[-1] + self.calendar.is_working_day(previous))
        return self._before[offset]

    def hours(self, moment: datetime) -> float:
        """Working hours from the project start to `moment`; 0 before the start."""
        wall = as_utc(moment).replace(tzinfo=None)
        if wall.date() < self.start:
            return 0.0
        per_day = self.calendar.hours_per_day
        hours = float(self._working_days_before(wall.date()) * per_day)
        if self.calendar.is_working_day(wall.date()):
            day_start = datetime.combine(wall.date(), time(self.calendar.day_start_hour))
            hours += min(max((wall - day_start).total_seconds() / 3600.0, 0.0), float(per_day))
        return hours

    def moment(self, hours: float, *, as_finish: bool = True) -> datetime:
        """The datetime (UTC) of working hour `hours`, rounded up to a whole hour; the end of the hour before it."""
        whole = max(0, math.ceil(hours - 1e-9))
        return self.calendar.to_datetime(self.start, whole, as_finish=as_finish).replace(tzinfo=UTC)


# --------------------------------------------------------------------------- the baseline


@dataclass(frozen=True)
class PlanBaseline:
    """What progress is measured against, read once per process from the immutable document."""

    plan_id: str
    version: int
    version_id: int
    document: dict
    baseline: Baseline
    clock: PlanClock
    tasks: dict[str, dict]  # task id -> the document's task
    uids: dict[str, str]  # task uid -> task id
    planned_start: dict[str, datetime]
    planned_finish: dict[str, datetime]

    def task_id_of(self, reference: str) -> str | None:
        """A task named by its id or its uid."""
        return reference if reference in self.tasks else self.uids.get(reference)


_BASELINES: OrderedDict[tuple, PlanBaseline] = OrderedDict()
_BASELINES_LOCK = threading.Lock()
_BASELINES_KEPT = 64


def plan_baseline(session: Session, *, plan_id: str, version: int, version_id: int,
                  settings: PlanningSettings) -> PlanBaseline:
    """The version's baseline, cached by plan id and version (documents never change once written)."""
    key = (plan_id, version_id, settings.hours_per_day, tuple(settings.holidays))
    with _BASELINES_LOCK:
        cached = _BASELINES.get(key)
        if cached is not None:
            _BASELINES.move_to_end(key)
            return cached
    document = session.execute(sa.select(PlanVersion.document).where(PlanVersion.id == version_id)).scalar_one()
    if not document:
        raise LookupError(f"plan {plan_id} version {version} has no document")
    built = _build_baseline(plan_id, version, version_id, document, settings)
    with _BASELINES_LOCK:
        _BASELINES[key] = built
        while len(_BASELINES) > _BASELINES_KEPT:
            _BASELINES.popitem(last=False)
    return built


def _build_baseline(plan_id: str, version: int, version_id: int, document: dict,
                    settings: PlanningSettings) -> PlanBaseline:
    start = date.fromisoformat(document["project_start"])
    clock = PlanClock(calendar_for(settings), start)
    tasks = {task["id"]: task for task in document["tasks"]}
    uids = {task.get("uid") or task_uid(plan_id, task_id): task_id for task_id, task in tasks.items()}
    planned_start = {task_id: as_utc(datetime.fromisoformat(task["start"])) for task_id, task in tasks.items()}
    planned_finish = {task_id: as_utc(datetime.fromisoformat(task["finish"])) for task_id, task in tasks.items()}
    return PlanBaseline(plan_id, version, version_id, document, Baseline.from_plan_document(document), clock,
                        tasks, uids, planned_start, planned_finish)


# --------------------------------------------------------------------------- live state


@dataclass(frozen=True)
class TaskState:
    """A task's reported state: what a live row holds and what each event records after it."""

    status: str = "not_started"
    percent_complete: float = 0.0
    actual_start: datetime | None = None
    actual_finish: datetime | None = None
    remaining_hours: float | None = None
    actual_cost: float | None = None
    blocked_reason: str | None = None
    status_date: datetime | None = None

    @property
    def reported(self) -> bool:
        return self.status_date is not None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "percent_complete": self.percent_complete,
                "actual_start": iso(self.actual_start), "actual_finish": iso(self.actual_finish),
                "remaining_hours": self.remaining_hours, "actual_cost": self.actual_cost,
                "blocked_reason": self.blocked_reason, "status_date": iso(self.status_date)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskState:
        def moment(name: str) -> datetime | None:
            value = data.get(name)
            return None if value is None else as_utc(datetime.fromisoformat(value))

        return cls(status=data["status"], percent_complete=float(data["percent_complete"]),
                   actual_start=moment("actual_start"), actual_finish=moment("actual_finish"),
                   remaining_hours=data.get("remaining_hours"), actual_cost=data.get("actual_cost"),
                   blocked_reason=data.get("blocked_reason"), status_date=moment("status_date"))

    @classmethod
    def from_row(cls, row) -> TaskState:
        return cls(status=row.status, percent_complete=float(row.percent_complete),
                   actual_start=as_utc(row.actual_start), actual_finish=as_utc(row.actual_finish),
                   remaining_hours=row.remaining_hours, actual_cost=row.actual_cost,
                   blocked_reason=row.blocked_reason, status_date=as_utc(row.status_date))


LIVE_COLUMNS = (PlanTask.id, PlanTask.task_key, PlanTask.uid, PlanTask.status, PlanTask.percent_complete,
                PlanTask.actual_start, PlanTask.actual_finish, PlanTask.remaining_hours, PlanTask.actual_cost,
                PlanTask.blocked_reason, PlanTask.status_date, PlanTask.row_version)


def live_states(session: Session, version_id: int) -> dict[str, TaskState]:
    rows = session.execute(sa.select(*LIVE_COLUMNS).where(PlanTask.plan_version_id == version_id))
    return {row.task_key: TaskState.from_row(row) for row in rows}


def states_as_of(session: Session, *, plan_id: str, version_id: int, task_keys,
                 as_of: datetime) -> dict[str, TaskState]:
    """Each task's state after the last report dated at or before `as_of` (not started before its first)."""
    states = {key: TaskState() for key in task_keys}
    query = (sa.select(FeedbackEvent.task_key, FeedbackEvent.state)
             # every version's events: a task keeps its id (and uid) across versions, and a replan's version
             # continues what was reported on the one it replaced (docs/lifecycle.md, Replanning)
             .where(FeedbackEvent.plan_id == plan_id, FeedbackEvent.status_date <= as_of)
             .order_by(FeedbackEvent.status_date, FeedbackEvent.id))
    for task_key, state in session.execute(query):
        if task_key in states:  # a task a replan removed is not counted against this baseline
            states[task_key] = TaskState.from_dict(state)
    return states


def task_progress(task_id: str, state: TaskState, clock: PlanClock, at_hours: float) -> TaskProgress:
    """The pure package's view of one task's state; actual hours are the working hours it has run."""
    start = None if state.actual_start is None else clock.hours(state.actual_start)
    finish = None if state.actual_finish is None else clock.hours(state.actual_finish)
    if start is not None and finish is not None and finish < start:
        finish = start
    ran = None
    if start is not None:
        ran = max(0.0, (finish if finish is not None else max(at_hours, start)) - start)
    return TaskProgress(task_id, status=state.status, percent_complete=state.percent_complete,
                        actual_cost=state.actual_cost, actual_start_hours=start, actual_finish_hours=finish,
                        remaining_hours=state.remaining_hours, actual_hours=ran)


def progress_map(base: PlanBaseline, states: dict[str, TaskState], at_hours: float) -> dict[str, TaskProgress]:
    return {task_id: task_progress(task_id, state, base.clock, at_hours)
            for task_id, state in states.items() if state.reported and task_id in base.tasks}


# --------------------------------------------------------------------------- measures


def tasks_by_status(states: dict[str, TaskState]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for state in states.values():
        counts[state.status] = counts.get(state.status, 0) + 1
    return counts


def measure(base: PlanBaseline, states: dict[str, TaskState], as_of: datetime) -> dict[str, Any]:
    """The progress figures at `as_of`: EVM, Earned Schedule, the headline numbers, and what is undefined."""
    at_hours = base.clock.hours(as_of)
    progress = progress_map(base, states, at_hours)
    result = evm(base.baseline, progress, at_hours)
    schedule = earned_schedule(base.baseline, result.ev, at_hours)
    evm_out = result.to_dict()
    undefined = dict(evm_out.pop("undefined"))
    percent = evm_out.pop("percent_complete")
    evm_out.pop("at_hours")
    es_out = schedule.to_dict()
    undefined.update(es_out.pop("undefined"))
    forecast = schedule.forecast_finish_hours
    es_out["forecast_finish"] = None if forecast is None else iso(base.clock.moment(forecast))
    if forecast is None:
        undefined["forecast_finish"] = schedule.undefined.get("forecast_finish_hours", "IEAC(t) is undefined")
    return {
        "as_of": iso(as_of),
        "as_of_hours": round(at_hours, 3),
        "percent_complete": percent,
        "tasks_by_status": tasks_by_status(states),
        "schedule_variance_hours": es_out["sv_t_hours"],
        "budget_variance": evm_out["cv"],
        "evm": evm_out,
        "earned_schedule": es_out,
        "undefined": undefined,
        "notes": list(base.baseline.notes),
    }


# --------------------------------------------------------------------------- loading a plan's execution


@dataclass
class Execution:
    """A plan with its baseline and the task states at one moment."""

    plan: Any  # the plans row (status, versions)
    base: PlanBaseline
    progress_row: Any | None
    states: dict[str, TaskState]
    as_of: datetime
    rows: dict[str, Any] = field(default_factory=dict)  # task key -> live row (ids, uid, row_version)

    @property
    def feedback_seq(self) -> int:
        return self.progress_row.feedback_seq if self.progress_row is not None else 0

    @property
    def status_date(self) -> datetime | None:
        return None if self.progress_row is None else as_utc(self.progress_row.status_date)


class NoBaseline(LookupError):
    """The plan has no finished version to measure progress against yet."""


def baseline_version_number(plan: Plan) -> int:
    """The approved version, or (before approval) the current one."""
    return getattr(plan, "baseline_version", None) or plan.current_version


def load_execution(session: Session, plan: Plan, settings: PlanningSettings, *,
                   as_of: datetime | None = None, now: datetime | None = None) -> Execution:
    """The plan's baseline and the task states at `as_of` (default: the latest status date, else now)."""
    number = baseline_version_number(plan)
    version = next((v for v in plan.versions if v.version == number), None)
    if version is None or not version.document:
        raise NoBaseline(f"plan {plan.id} has no finished version to measure progress against "
                         f"(it is {plan.status})")
    base = plan_baseline(session, plan_id=plan.id, version=number, version_id=version.id, settings=settings)
    progress_row = session.get(PlanProgress, plan.id)
    rows = {row.task_key: row for row in session.execute(
        sa.select(*LIVE_COLUMNS).where(PlanTask.plan_version_id == version.id))}
    latest = None if progress_row is None else as_utc(progress_row.status_date)
    if as_of is None:
        as_of = latest or as_utc(now or datetime.now(UTC))
    if latest is None or as_of >= latest:
        states = {key: TaskState.from_row(row) for key, row in rows.items()}
    else:
        states = states_as_of(session, plan_id=plan.id, version_id=version.id, task_keys=rows, as_of=as_of)
    return Execution(plan, base, progress_row, states, as_of, rows)


def etag(feedback_seq: int) -> str:
    return f'"feedback-{feedback_seq}"'


def progress_view(execution: Execution) -> dict[str, Any]:
    plan, base = execution.plan, execution.base
    return {"plan_id": plan.id, "status": plan.status, "baseline_version": base.version,
            "feedback_seq": execution.feedback_seq, "status_date": iso(execution.status_date),
            **measure(base, execution.states, execution.as_of)}


# --------------------------------------------------------------------------- report


def _stage_outputs(session: Session, version_id: int) -> dict[str, dict]:
    rows = session.execute(sa.select(StageResult.stage, StageResult.output)
                           .where(StageResult.plan_version_id == version_id,
                                  StageResult.stage.in_(("decompose", "schedule", "allocate"))))
    return dict(rows.all())


def reassessment(session: Session, execution: Execution, settings: PlanningSettings) -> dict[str, Any]:
    """`planning.risk.reassess` on the remaining work at the execution's moment (cached per moment)."""
    from planning.goal import Goal as PlanningGoal
    from planning.network import TaskNetwork
    from planning.risk import AllocationSummary, Risk, ScheduleSnapshot, reassess
    from planning.work_calendar import deadline_hours

    base = execution.base
    risk_rows = list(session.execute(sa.select(PlanRisk.risk_key, PlanRisk.row_version, PlanRisk.data)
                                     .where(PlanRisk.plan_version_id == base.version_id)
                                     .order_by(PlanRisk.risk_key)))
    # The same moment, reports and risk rows give the same answer: the Monte Carlo is seeded.
    key = (execution.plan.id, base.version_id, execution.feedback_seq, execution.as_of, settings,
           tuple((row.risk_key, row.row_version) for row in risk_rows))
    with _REASSESS_LOCK:
        if key in _REASSESSED:
            _REASSESSED.move_to_end(key)
            return _REASSESSED[key]
    outputs = _stage_outputs(session, base.version_id)
    goal_document = session.execute(sa.select(Goal.document).where(Goal.id == execution.plan.goal_id)).scalar_one()
    goal = PlanningGoal.from_dict(goal_document)
    network = TaskNetwork.from_dict(outputs["decompose"])
    schedule, allocation = outputs["schedule"], outputs.get("allocate") or {}
    timing = schedule["tasks"]
    snapshot = ScheduleSnapshot(
        starts={k: slot["start"] for k, slot in timing.items()},
        finishes={k: slot["finish"] for k, slot in timing.items()},
        total_float={k: slot["total_float"] for k, slot in timing.items()},
        critical_path=list(schedule["critical_path"]), makespan=schedule["makespan_hours"],
        capacities=dict(schedule.get("capacities", {})),
        deadline_hours=deadline_hours(goal, base.clock.calendar, base.clock.start))
    cost = allocation.get("cost") or {}
    summary = AllocationSummary(shortfalls=list(allocation.get("shortfalls", [])), total_cost=cost.get("total"),
                                budget=cost.get("budget"), currency=cost.get("currency") or goal.currency) \
        if allocation else None
    at_hours = base.clock.hours(execution.as_of)
    progress = {}
    for task_id, report in progress_map(base, execution.states, at_hours).items():
        progress[task_id] = {"percent_complete": 100.0 if report.status == "completed" else report.percent_complete,
                             "actual_hours": report.actual_hours or 0.0, "status": report.status}
    previous = [Risk.from_dict(row.data) for row in risk_rows]
    assessment = reassess(previous, goal, network, snapshot, progress, settings, now_hours=at_hours,
                          allocation=summary, at=execution.as_of)
    result = {"assessment": assessment, "at_hours": at_hours}
    with _REASSESS_LOCK:
        _REASSESSED[key] = result
        while len(_REASSESSED) > 32:
            _REASSESSED.popitem(last=False)
    return result


_REASSESSED: OrderedDict[tuple, dict] = OrderedDict()
_REASSESS_LOCK = threading.Lock()


def critical_now(execution: Execution, assessment) -> list[str]:
    """Unfinished tasks critical in at least half the simulated outcomes of the remaining work, by baseline start."""
    risk = assessment.schedule_risk
    if risk is None:
        return []
    base = execution.base
    chosen = [task_id for task_id, share in risk.criticality.items() if share >= CRITICAL_NOW_SHARE]
    return sorted(chosen, key=lambda task_id: (base.tasks[task_id].get("start_hour", 0), task_id))


def snapshots(session: Session, execution: Execution, day_hours: int) -> list[tuple[float, dict[str, TaskProgress]]]:
    """The progress at the last report of each working day up to the execution's moment (for the S-curve)."""
    base = execution.base
    query = (sa.select(FeedbackEvent.task_key, FeedbackEvent.state, FeedbackEvent.status_date)
             .where(FeedbackEvent.plan_id == execution.plan.id, FeedbackEvent.status_date <= execution.as_of)
             .order_by(FeedbackEvent.status_date, FeedbackEvent.id))
    states: dict[str, TaskState] = {}
    taken: list[tuple[float, dict[str, TaskProgress]]] = []
    bucket_of_last = None
    last_hours = 0.0
    for task_key, state, status_date in session.execute(query):
        hours = base.clock.hours(as_utc(status_date))
        bucket = math.ceil(hours / day_hours)
        if bucket_of_last is not None and bucket != bucket_of_last:
            taken.append((last_hours, progress_map(base, states, last_hours)))
        states[task_key] = TaskState.from_dict(state)
        bucket_of_last, last_hours = bucket, hours
    if bucket_of_last is not None:
        taken.append((last_hours, progress_map(base, states, last_hours)))
    return taken


def open_issues(session: Session, plan_id: str) -> list[PlanIssue]:
    return list(session.execute(sa.select(PlanIssue).where(PlanIssue.plan_id == plan_id, PlanIssue.status == "open")
                                .order_by(PlanIssue.opened_at, PlanIssue.id)).scalars())


def issue_view(issue: PlanIssue) -> dict[str, Any]:
    return {"id": issue.id, "plan_id": issue.plan_id, "task_id": issue.task_key, "kind": issue.kind,
            "severity": issue.severity, "status": issue.status, "reason": issue.reason,
            "float_used_hours": round(issue.float_used_hours, 3), "opened_at": iso(issue.opened_at),
            "opened_by": issue.opened_by, "status_date": iso(issue.status_date),
            "escalation_level": issue.escalation_level, "escalated_at": iso(issue.escalated_at),
            "resolved_at": iso(issue.resolved_at), "resolved_by": issue.resolved_by, "resolution": issue.resolution}


def report(session: Session, execution: Execution, settings: PlanningSettings) -> dict[str, Any]:
    """Progress, the S-curve, forecasts (SPI(t), Monte Carlo), the critical path now, issues, risks, baseline vs now."""
    base = execution.base
    body = progress_view(execution)
    at_hours = base.clock.hours(execution.as_of)
    curve = s_curve(base.baseline, snapshots(session, execution, settings.hours_per_day), settings.hours_per_day,
                    at_hours).to_dict()
    for point in curve["points"]:
        point["date"] = iso(base.clock.moment(point["hours"], as_finish=False))
    reassessed = reassessment(session, execution, settings)
    assessment = reassessed["assessment"]
    risk = assessment.schedule_risk
    monte_carlo = None
    if risk is not None:
        monte_carlo = {level: round(getattr(risk, level), 3) for level in ("p50", "p80", "p95")}
        monte_carlo.update({f"{level}_date": iso(base.clock.moment(getattr(risk, level)))
                            for level in ("p50", "p80", "p95")})
        monte_carlo.update(deadline_probability=None if risk.deadline_probability is None
                           else round(risk.deadline_probability, 4),
                           iterations=risk.iterations, seed=risk.seed, origin_hours=round(risk.origin_hours, 3))
    critical = critical_now(execution, assessment)
    issues = [issue_view(issue) for issue in open_issues(session, execution.plan.id)]
    risks = [r.to_dict() for r in assessment.risks]
    escalations = _escalation_alerts(session, base.version_id)
    planned_finish = iso(as_utc(datetime.fromisoformat(base.document["finish"]))) if base.document.get("finish") \
        else None
    forecast_spi_t = body["earned_schedule"]["forecast_finish"]
    body.update({
        "s_curve": curve,
        "forecast": {
            "planned_finish": planned_finish,
            "planned_finish_hours": base.baseline.finish_hours,
            "spi_t": {"finish": forecast_spi_t, "finish_hours": body["earned_schedule"]["forecast_finish_hours"]},
            "monte_carlo": monte_carlo,
            "deadline": base.document.get("deadline"),
        },
        "critical_path_now": critical,
        "issues": issues,
        "risks": risks,
        "risk_alerts": [r.id for r in assessment.alerts] + [e for e in escalations if e not in
                                                            {r.id for r in assessment.alerts}],
        "escalations": [i for i in issues if i["escalation_level"] > 0],
        "performance": assessment.performance,
        "baseline_vs_current": _baseline_vs_current(execution, critical),
        "warnings": list(assessment.warnings),
    })
    return body


def _escalation_alerts(session: Session, version_id: int) -> list[str]:
    rows = session.execute(sa.select(PlanRisk.risk_key).where(PlanRisk.plan_version_id == version_id,
                                                              PlanRisk.risk_key.like("R-escalated_issue-%"),
                                                              PlanRisk.status == "open"))
    return [key for (key,) in rows]


def _baseline_vs_current(execution: Execution, critical: list[str]) -> dict[str, Any]:
    base = execution.base
    at_hours = base.clock.hours(execution.as_of)
    progress = progress_map(base, execution.states, at_hours)
    rows = []
    for task_id, task in base.tasks.items():
        state = execution.states.get(task_id, TaskState())
        planned = base.baseline.task(task_id)
        report = progress.get(task_id) or TaskProgress(task_id)
        slip = slip_hours(planned, report, at_hours)
        rows.append({
            "task_id": task_id, "uid": task.get("uid"), "status": state.status,
            "percent_complete": state.percent_complete,
            "baseline_start": iso(base.planned_start[task_id]), "baseline_finish": iso(base.planned_finish[task_id]),
            "actual_start": iso(state.actual_start), "actual_finish": iso(state.actual_finish),
            "baseline_cost": round(planned.planned_cost, 2) if base.baseline.unit == "cost" else None,
            "actual_cost": state.actual_cost,
            "float_used_hours": round(slip, 3),
            "float_left_hours": round(planned.total_float_hours - slip, 3),
            "critical_baseline": planned.critical, "critical_now": task_id in critical,
        })
    return {"baseline_version": base.version, "critical_path_baseline": list(base.document.get("critical_path", [])),
            "critical_path_now": critical, "tasks": rows}


# --------------------------------------------------------------------------- one task


def find_task(session: Session, uid: str) -> tuple[Plan, Any] | None:
    """The plan and the live row of the task with this uid, in the plan's baseline version."""
    rows = session.execute(sa.select(PlanTask.id, PlanTask.plan_version_id, PlanVersion.plan_id, PlanVersion.version)
                           .join(PlanVersion, PlanVersion.id == PlanTask.plan_version_id)
                           .where(PlanTask.uid == uid)).all()
    if not rows:
        return None
    plan = session.get(Plan, rows[0].plan_id)
    number = baseline_version_number(plan)
    chosen = next((row for row in rows if row.version == number), None)
    return (plan, chosen) if chosen is not None else None


def task_view(session: Session, execution: Execution, task_key: str, settings: PlanningSettings) -> dict[str, Any]:
    base = execution.base
    task = base.tasks[task_key]
    row = execution.rows[task_key]
    state = execution.states.get(task_key, TaskState())
    at_hours = base.clock.hours(execution.as_of)
    planned = base.baseline.task(task_key)
    report = task_progress(task_key, state, base.clock, at_hours) if state.reported else TaskProgress(task_key)
    slip = slip_hours(planned, report, at_hours)
    events = session.execute(sa.select(FeedbackEvent).where(FeedbackEvent.plan_id == execution.plan.id,
                                                            FeedbackEvent.task_key == task_key)
                             .order_by(FeedbackEvent.status_date, FeedbackEvent.id)).scalars()
    assessment = reassessment(session, execution, settings)["assessment"]
    criticality = assessment.schedule_risk.criticality.get(task_key) if assessment.schedule_risk else None
    done = state.status == "completed"
    return {
        "uid": row.uid, "task_id": task_key, "plan_id": execution.plan.id, "name": task.get("name"),
        "baseline_version": base.version, "as_of": iso(execution.as_of),
        "state": {**state.to_dict(), "row_version": row.row_version},
        "planned": {"start": iso(base.planned_start[task_key]), "finish": iso(base.planned_finish[task_key]),
                    "duration_hours": planned.duration_hours,
                    "cost": round(planned.planned_cost, 2) if base.baseline.unit == "cost" else None},
        "actual": {"start": iso(state.actual_start), "finish": iso(state.actual_finish), "cost": state.actual_cost,
                   "hours": None if report.actual_hours is None else round(report.actual_hours, 3),
                   "remaining_hours": state.remaining_hours},
        "float": {"total_float_hours": planned.total_float_hours, "float_used_hours": round(slip, 3),
                  "float_left_hours": round(planned.total_float_hours - slip, 3)},
        "critical_baseline": planned.critical,
        "critical_now": (not done) and criticality is not None and criticality >= CRITICAL_NOW_SHARE,
        "criticality_now": None if done or criticality is None else round(criticality, 4),
        "events": [{"id": e.id, "seq": e.seq, "status_date": iso(e.status_date), "recorded_at": iso(e.recorded_at),
                    "actor": e.actor, "update": e.update, "state": e.state} for e in events],
        "issues": [issue_view(issue) for issue in session.execute(
            sa.select(PlanIssue).where(PlanIssue.plan_task_id == row.id).order_by(PlanIssue.opened_at)).scalars()],
    }
