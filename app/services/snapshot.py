"""`GET /api/v1/metrics/snapshot`: the spec's current-metrics JSON, from the database and the broker.

Read from what every process shares (the tables and the broker), so any API process answers the same,
whichever worker did the work (Prometheus's counters are per process; this is not). Stage latencies are
percentiles of the latest finished stage runs; queue depths are asked of the broker within a time limit.
"""

from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Goal, Plan, PlanVersion, StageRun, utcnow
from planning.lifecycle import PLAN_STATES

# The latest finished runs of a stage the percentiles are taken over.
LATENCY_WINDOW = 1000
PERCENTILES = (50, 90, 95, 99)
BROKER_TIMEOUT_SECONDS = 1.0


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile by linear interpolation between the closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def database_figures(*, session: Session, stage_names: tuple[str, ...]) -> dict:
    now = utcnow()
    day_ago = now - timedelta(hours=24)
    goals_total = session.execute(sa.select(sa.func.count()).select_from(Goal)).scalar_one()
    goals_day = session.execute(sa.select(sa.func.count()).select_from(Goal).where(Goal.created_at >= day_ago)
                                ).scalar_one()
    by_state = dict.fromkeys(PLAN_STATES, 0)
    for state, count in session.execute(sa.select(Plan.status, sa.func.count()).group_by(Plan.status)):
        by_state[state] = count
    versions_failed = session.execute(sa.select(sa.func.count()).select_from(PlanVersion)
                                      .where(PlanVersion.status == "failed")).scalar_one()
    stages: dict[str, dict] = {}
    runs_by_state: dict[str, dict[str, int]] = {}
    for stage, state, count in session.execute(
            sa.select(StageRun.stage, StageRun.state, sa.func.count()).group_by(StageRun.stage, StageRun.state)):
        runs_by_state.setdefault(stage, {})[state] = count
    for stage in (*stage_names, *sorted(set(runs_by_state) - set(stage_names))):
        durations = sorted(value for (value,) in session.execute(
            sa.select(StageRun.duration_seconds).where(StageRun.stage == stage, StageRun.duration_seconds.is_not(None))
            .order_by(StageRun.id.desc()).limit(LATENCY_WINDOW)))
        latency = None
        if durations:
            latency = {f"p{q}": round(percentile(durations, q), 4) for q in PERCENTILES}
            latency.update({"max": round(durations[-1], 4), "mean": round(sum(durations) / len(durations), 4),
                            "samples": len(durations)})
        stages[stage] = {"runs": runs_by_state.get(stage, {}), "latency_seconds": latency}
    stage_failures = {stage: states.get("failed", 0) for stage, states in runs_by_state.items()}
    return {
        "goals": {"received": goals_total, "received_last_24h": goals_day},
        "plans": {"total": sum(by_state.values()), "by_state": by_state},
        "stages": stages,
        "errors": {"plans_failed": by_state.get("failed", 0), "versions_failed": versions_failed,
                   "stage_runs_failed": stage_failures, "stage_runs_failed_total": sum(stage_failures.values())},
    }


def queue_depths(celery_app, queue_names: tuple[str, ...]) -> dict:
    """Messages waiting in each queue; "eager" when there is no broker; the reason when it does not answer."""
    if celery_app.conf.task_always_eager:
        return {"mode": "eager", "depths": dict.fromkeys(queue_names, "eager")}
    try:
        with celery_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            channel = connection.default_channel
            depths = {}
            for name in queue_names:
                try:
                    depths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # a queue never declared holds nothing
                    depths[name] = 0
        return {"mode": "broker", "depths": depths}
    except Exception as error:  # the snapshot still answers; the broker's part says why it is missing
        from app.timeouts import dependency_reason

        return {"mode": "unavailable", "reason": dependency_reason(error), "depths": dict.fromkeys(queue_names)}
