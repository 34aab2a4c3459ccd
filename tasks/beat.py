"""Every periodic job, declared in one list (run by `celery beat`), from this app's settings."""

from __future__ import annotations

from planning.settings import PlanningSettings


def beat_schedule(settings: PlanningSettings) -> dict:
    """The periodic jobs. The replan scan is there only when `enable_continuous_replanning` is on; when it is off,
    the same task runs as `task-timeouts` and only opens the timeout issues (default_task_timeout_hours)."""
    schedule = {
        "resume-stalled-plans": {
            "task": "layer2.resume_stalled_plans",
            # Every 30 s: a plan whose message was lost waits at most this much past
            # RESUME_STALLED_AFTER_SECONDS (the visibility timeout + 30 s).
            "schedule": 30.0,
            "options": {"queue": "replan", "expires": 25},
        },
    }
    if settings.enable_continuous_replanning:
        # Every `replan_scan_seconds` (60 s), not every `replanning_interval_minutes`: a slip is acted on within
        # a minute of the feedback that shows it, and the interval is each plan's debounce (one automatic
        # replan per plan per interval). A scan of plans with nothing new costs one indexed query.
        schedule["replan-scan"] = {
            "task": "layer2.replan_scan",
            "schedule": float(settings.replan_scan_seconds),
            "options": {"queue": "replan", "expires": max(1.0, 0.9 * settings.replan_scan_seconds)},
        }
    else:
        schedule["task-timeouts"] = {
            "task": "layer2.replan_scan",
            "schedule": float(settings.replan_scan_seconds),
            "options": {"queue": "replan", "expires": max(1.0, 0.9 * settings.replan_scan_seconds)},
        }
    return schedule


BEAT_SCHEDULE = beat_schedule(PlanningSettings())  # the defaults, for reading; the app uses beat_schedule(settings)
