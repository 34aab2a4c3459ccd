"""One queue per stage, so each stage's workers scale on their own."""

from kombu import Queue

from app.models import STAGES

REPLAN_QUEUE = "replan"
QUEUE_NAMES = (*STAGES, REPLAN_QUEUE)
TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in QUEUE_NAMES)
