"""The Celery processes' side of logs and metrics, wired by signals (imported by celery_init_app).

- Logging: create_app configured it (app/logs.py); Celery is told not to configure its own.
- Each task runs with the request and plan ids its message carried (headers set by tasks/chain.py) bound
  to its log lines, and unbound after it.
- Metrics (PROMETHEUS_MULTIPROC_DIR): a pool child that exits is marked dead (its live gauges go; its
  counters stay counted); the worker's main process serves the host's or pod's metrics on
  LAYER2_METRICS_PORT when that is set (a worker in a pod of its own, docs/architecture.md "Metrics").
"""

from __future__ import annotations

import logging
import os

from celery import signals

from app import logs, metrics
from app.stages import STAGE_NAMES

log = logging.getLogger(__name__)

_tokens: dict[str, object] = {}


@signals.setup_logging.connect
def _logging_is_configured(**_kwargs) -> None:
    """create_app configured logging once for this process; a receiver here stops Celery configuring its own."""


@signals.task_prerun.connect
def _bind_task_ids(task_id=None, task=None, **_kwargs) -> None:
    found = logs.context_from_headers(task.request) if task is not None else {}
    if task_id:
        # Always bound (even empty), so the reset after the task also undoes what the task bound itself.
        _tokens[task_id] = logs.bind(**found)
    stage = _stage_of(task)
    if stage:
        metrics.STAGES_RUNNING.labels(stage).inc()


@signals.task_postrun.connect
def _unbind_task_ids(task_id=None, task=None, **_kwargs) -> None:
    stage = _stage_of(task)
    if stage:
        metrics.STAGES_RUNNING.labels(stage).dec()
    token = _tokens.pop(task_id, None)
    if token is not None:
        try:
            logs.reset(token)
        except ValueError:  # bound in another context: nothing of ours left to undo here
            pass


def _stage_of(task) -> str | None:
    name = getattr(task, "name", "") or ""
    stage = name.removeprefix("layer2.")
    return stage if stage in STAGE_NAMES and name != stage else None


@signals.worker_process_init.connect
def _pool_child_started(**_kwargs) -> None:
    metrics.process_started("worker")


@signals.worker_ready.connect
def _start_metrics_exporter(**_kwargs) -> None:
    port = metrics.exporter_port()
    if port is not None:
        metrics.start_exporter(port)


@signals.worker_process_shutdown.connect
def _pool_child_exits(pid=None, **_kwargs) -> None:
    # Sent by the main process when it reaps a pool child (killed ones too), with the child's pid.
    metrics.mark_process_dead(pid or os.getpid())


@signals.worker_shutdown.connect
def _worker_exits(**_kwargs) -> None:
    metrics.mark_process_dead(os.getpid())
