"""gunicorn's settings for the API (`gunicorn -c python:app.gunicorn_conf ...`): the metrics hooks.

With PROMETHEUS_MULTIPROC_DIR set, each gunicorn worker writes its samples there and /metrics adds up
every process's (app/metrics.py). A worker that exits (recycled, killed) is marked dead, so its live
gauges leave the sum while its counters stay counted. With LAYER2_METRICS_PORT set (Kubernetes: 9090)
the master also serves the pod's metrics on that port, as a Celery worker's main process does.
"""

from __future__ import annotations

import os


def when_ready(server) -> None:
    if os.environ.get("LAYER2_METRICS_PORT", "").strip():
        from app.metrics import exporter_port, start_exporter

        start_exporter(exporter_port())


def post_worker_init(worker) -> None:
    from app.metrics import process_started

    process_started("api")


def child_exit(server, worker) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, directory)
