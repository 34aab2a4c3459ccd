"""Prometheus metrics (spec names), served at /metrics by the Flask exporter."""

from __future__ import annotations

from flask import Flask
from prometheus_client import Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics

GOALS_RECEIVED = Counter("layer2_goals_received_total", "Goals accepted for planning")
VALIDATION_ERRORS = Counter("layer2_validation_errors_total", "Goals rejected by validation")
PLANS_CREATED = Counter("layer2_plans_created_total", "Plan versions completed")
PLANNING_ERRORS = Counter("layer2_planning_errors_total", "Plan versions failed")
STAGE_DURATION = Histogram("layer2_stage_duration_seconds", "Time spent in a stage", ["stage"])
INTEGRATION_ERRORS = Counter("layer2_integration_errors_total",
                             "Calls to other layers that failed (after retries) or that the circuit breaker refused",
                             ["system", "operation", "kind"])

# One exporter per process: its request metrics live in the process-wide
# registry, and a second init_app (tests build many apps) only adds /metrics.
_exporter = PrometheusMetrics.for_app_factory(defaults_prefix="layer2", group_by="url_rule")


def init_metrics(app: Flask) -> None:
    _exporter.init_app(app)
