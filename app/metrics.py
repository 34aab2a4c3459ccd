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
# Execution feedback (issue 13). No plan-id label anywhere: cardinality stays bounded by states and outcomes.
PLAN_PROGRESS = Histogram("layer2_plan_progress_percentage",
                          "Percent complete (earned value / BAC) of a plan after each accepted feedback request",
                          ["state"], buckets=(0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99.99, 100))
TASKS_COMPLETED = Counter("layer2_tasks_completed_total", "Tasks reported completed (transitions into completed)")
TASKS_FAILED = Counter("layer2_tasks_failed_total", "Tasks reported failed (transitions into failed)")
FEEDBACK_REQUESTS = Counter("layer2_feedback_requests_total", "Feedback requests (PUT /api/v1/plans/{id}) by outcome",
                            ["outcome"])
FEEDBACK_UPDATES = Counter("layer2_feedback_updates_total", "Task updates applied by accepted feedback requests")
FEEDBACK_LATENCY = Histogram("layer2_feedback_request_duration_seconds", "Time to answer a feedback request",
                             ["outcome"], buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
ISSUES = Counter("layer2_issues_total", "Issues opened and escalations raised, by severity", ["event", "severity"])
INTEGRATION_ERRORS = Counter("layer2_integration_errors_total",
                             "Calls to other layers that failed (after retries) or that the circuit breaker refused",
                             ["system", "operation", "kind"])

# One exporter per process: its request metrics live in the process-wide
# registry, and a second init_app (tests build many apps) only adds /metrics.
_exporter = PrometheusMetrics.for_app_factory(defaults_prefix="layer2", group_by="url_rule")


def init_metrics(app: Flask) -> None:
    _exporter.init_app(app)
