"""One queue per stage (from the registry), so each stage's workers scale on their own."""

from kombu import Queue

from app.stages import STAGE_NAMES

REPLAN_QUEUE = "replan"
# Poison messages land here with the reason in the plan row; no worker consumes it.
DEAD_LETTER_QUEUE = "dead_letter"
QUEUE_NAMES = (*STAGE_NAMES, REPLAN_QUEUE)
TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in (*QUEUE_NAMES, DEAD_LETTER_QUEUE))
