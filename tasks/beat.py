"""Every periodic job, declared in one list (run by `celery beat`)."""

BEAT_SCHEDULE = {
    "resume-stalled-plans": {
        "task": "layer2.resume_stalled_plans",
        "schedule": 60.0,
        "options": {"queue": "replan", "expires": 55},
    },
}
