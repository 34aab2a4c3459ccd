"""Binds Celery to a Flask app: settings from the app config, tasks run in its context."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

from tasks.beat import beat_schedule
from tasks.queues import TASK_QUEUES


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.task_queues = TASK_QUEUES
    celery_app.conf.task_default_queue = "finalize"
    celery_app.conf.beat_schedule = beat_schedule(app.config["PLANNING"])
    # Each stage's time limits, from the registry and this app's settings (config.py checks
    # that the hard limits stay under the visibility timeout).
    celery_app.conf.task_annotations = {
        f"layer2.{name}": {"soft_time_limit": soft, "time_limit": hard}
        for name, (soft, hard) in app.config["STAGE_TIME_LIMITS"].items()
    }
    celery_app.set_default()
    # Importing registers the @shared_task functions with this app.
    import tasks.maintenance  # noqa: F401
    import tasks.observability  # noqa: F401  (logging, task ids and metrics signals)
    import tasks.replan  # noqa: F401
    import tasks.stages  # noqa: F401

    app.extensions["celery"] = celery_app
    return celery_app
