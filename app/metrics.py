"""Prometheus metrics (the spec's `layer2_*` names and a few extras), served at /metrics.

One process (embedded mode, tests): the process-wide registry. Several processes (gunicorn workers,
Celery pool children): set PROMETHEUS_MULTIPROC_DIR, and every process writes its samples to files
there (prometheus_client's multiprocess mode); whoever serves /metrics, or the exporter on
LAYER2_METRICS_PORT, adds them up, so each scrape sees every process (docs/architecture.md, "Metrics").
The directory must exist before prometheus_client makes a metric, and be empty when the first process
of a host (or a pod) starts: the Procfile names one per `honcho start`, Kubernetes mounts an emptyDir.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

# Before any metric exists: multiprocess mode writes a file per process and metric type there.
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

from flask import Flask  # noqa: E402
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server  # noqa: E402
from prometheus_flask_exporter import PrometheusMetrics  # noqa: E402

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300)

# Planning metrics (spec).
GOALS_RECEIVED = Counter("layer2_goals_received_total", "Goals accepted for planning")
PLANS_CREATED = Counter("layer2_plans_created_total", "Plan versions completed (their document saved)")
# Execution feedback (issue 13). No plan-id label anywhere: cardinality stays bounded by states and outcomes.
PLAN_PROGRESS = Histogram("layer2_plan_progress_percentage",
                          "Percent complete (earned value / BAC) of a plan after each accepted feedback request",
                          ["state"], buckets=(0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99.99, 100))
RISKS_IDENTIFIED = Counter("layer2_risks_identified_total", "Risks in the plan documents made (finalize)")
ALLOCATIONS_SUCCESSFUL = Counter("layer2_resource_allocations_successful_total",
                                 "Resource allocations made by the allocate stage (one per task and resource)")
# Performance metrics (spec).
PLANNING_DURATION = Histogram("layer2_planning_duration_seconds",
                              "From a plan version queued to its document saved (queueing included)",
                              buckets=DURATION_BUCKETS)
DECOMPOSITION_DURATION = Histogram("layer2_task_decomposition_duration_seconds",
                                   "Time in the decompose stage", buckets=DURATION_BUCKETS)
RISK_ASSESSMENT_DURATION = Histogram("layer2_risk_assessment_duration_seconds",
                                     "Time in the risk stage (the goal's risk pre-assessment)",
                                     buckets=DURATION_BUCKETS)
# Error metrics (spec).
PLANNING_ERRORS = Counter("layer2_planning_errors_total", "Plan versions failed")
VALIDATION_ERRORS = Counter("layer2_validation_errors_total", "Goals rejected by validation")
INTEGRATION_ERRORS = Counter("layer2_integration_errors_total",
                             "Calls to other layers that failed (after retries) or that the circuit breaker refused",
                             ["system", "operation", "kind"])
# Extras.
STAGE_DURATION = Histogram("layer2_stage_duration_seconds", "Time spent in a stage", ["stage"])
TASKS_COMPLETED = Counter("layer2_tasks_completed_total", "Tasks reported completed (transitions into completed)")
TASKS_FAILED = Counter("layer2_tasks_failed_total", "Tasks reported failed (transitions into failed)")
FEEDBACK_REQUESTS = Counter("layer2_feedback_requests_total", "Feedback requests (PUT /api/v1/plans/{id}) by outcome",
                            ["outcome"])
FEEDBACK_UPDATES = Counter("layer2_feedback_updates_total", "Task updates applied by accepted feedback requests")
FEEDBACK_LATENCY = Histogram("layer2_feedback_request_duration_seconds", "Time to answer a feedback request",
                             ["outcome"], buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
ISSUES = Counter("layer2_issues_total", "Issues opened and escalations raised, by severity", ["event", "severity"])
# Live gauges: in multiprocess mode the sum over the processes alive (a process that exits is marked dead by
# gunicorn's child_exit hook or Celery's worker_process_shutdown signal, and leaves the sum).
PROCESSES = Gauge("layer2_processes", "Processes serving whose metrics a scrape adds up: gunicorn workers (api), "
                  "Celery pool processes (worker)", ["kind"], multiprocess_mode="livesum")
STAGES_RUNNING = Gauge("layer2_stages_running", "Stage tasks running now", ["stage"], multiprocess_mode="livesum")

# Labelled series a scrape shows from the start (at 0), so every spec name is there before its first event.
LAYER8_OPERATIONS = ("availability", "request_allocation", "confirm", "release", "get_allocation", "health")
INTEGRATION_ERROR_KINDS = ("timeout", "connection", "server_error", "malformed", "circuit_open", "invalid_request")
for _operation in LAYER8_OPERATIONS:
    for _kind in INTEGRATION_ERROR_KINDS:
        INTEGRATION_ERRORS.labels(system="layer8", operation=_operation, kind=_kind)
for _operation in ("validate", "health"):  # Layer 3 (app/layer3/client.py)
    for _kind in INTEGRATION_ERROR_KINDS:
        INTEGRATION_ERRORS.labels(system="layer3", operation=_operation, kind=_kind)
for _state in ("approved", "executing", "completed"):  # the states a plan takes feedback in, or reaches by it
    PLAN_PROGRESS.labels(state=_state)

# Stage durations with a spec name of their own.
_STAGE_HISTOGRAMS = {"risk": RISK_ASSESSMENT_DURATION, "decompose": DECOMPOSITION_DURATION}


def stage_saved(stage: str, seconds: float, output: dict) -> None:
    """A stage's result was saved after `seconds` in the stage."""
    STAGE_DURATION.labels(stage).observe(seconds)
    if stage in _STAGE_HISTOGRAMS:
        _STAGE_HISTOGRAMS[stage].observe(seconds)
    if stage == "allocate":
        ALLOCATIONS_SUCCESSFUL.inc(len(output.get("allocations") or ()))


def process_started(kind: str) -> None:
    """A serving process started (a gunicorn worker: "api"; a Celery pool process: "worker")."""
    reap_dead_processes()
    PROCESSES.labels(kind).set(1)


def reap_dead_processes() -> list[int]:
    """Mark dead the processes of this host (or pod) that left live gauges but are gone without being marked
    (killed with SIGKILL: no exit hook ran). Run as each serving process starts; returns their pids."""
    if not MULTIPROC_DIR:
        return []
    reaped = []
    for path in Path(MULTIPROC_DIR).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1]) if path.stem.rsplit("_", 1)[1].isdigit() else None
        if pid is None or pid == os.getpid() or pid in reaped:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, MULTIPROC_DIR)
            reaped.append(pid)
        except PermissionError:  # alive, another user's
            continue
    return reaped


def plan_made(document: dict, planning_seconds: float) -> None:
    """A plan version's document was saved, `planning_seconds` after the version was queued."""
    PLANS_CREATED.inc()
    RISKS_IDENTIFIED.inc(len(document.get("risks") or ()))
    PLANNING_DURATION.observe(max(0.0, planning_seconds))


# One exporter per process: its request metrics live in the process-wide
# registry, and a second init_app (tests build many apps) only adds /metrics.
# In multiprocess mode its /metrics view reads every process's files.
_exporter = PrometheusMetrics.for_app_factory(defaults_prefix="layer2", group_by="url_rule")


def init_metrics(app: Flask) -> None:
    _exporter.init_app(app)


def multiprocess_registry() -> CollectorRegistry:
    """A registry that adds up the samples every process wrote to PROMETHEUS_MULTIPROC_DIR."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def start_exporter(port: int, address: str = "0.0.0.0") -> None:
    """Serve this host's (or pod's) metrics on `port` (a Celery worker's main process, gunicorn's master)."""
    registry = multiprocess_registry() if MULTIPROC_DIR else None
    if registry is None:
        from prometheus_client import REGISTRY as registry
    start_http_server(port, addr=address, registry=registry)
    log.info("metrics exporter on %s:%s (%s)", address, port,
             f"multiprocess, {MULTIPROC_DIR}" if MULTIPROC_DIR else "this process only")


def exporter_port() -> int | None:
    """LAYER2_METRICS_PORT, when set: where a worker or gunicorn's master serves the metrics."""
    value = os.environ.get("LAYER2_METRICS_PORT", "").strip()
    return int(value) if value else None


def mark_process_dead(pid: int) -> None:
    """A process that wrote metrics exited: drop its live gauges (its counters stay counted)."""
    if MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid, MULTIPROC_DIR)
