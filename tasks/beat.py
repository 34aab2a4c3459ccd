"""Every periodic job, declared in one list (run by `celery beat`)."""

BEAT_SCHEDULE = {
    "resume-stalled-plans": {
        "task": "layer2.resume_stalled_plans",
        # Every 30 s: a plan whose message was lost waits at most this much past
        # RESUME_STALLED_AFTER_SECONDS (the visibility timeout + 30 s).
        "schedule": 30.0,
        "options": {"queue": "replan", "expires": 25},
    },
}
