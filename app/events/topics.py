"""The topic exchange, its routing keys and the queues this service declares (docs/events.md).

One topic exchange (`layer2.events` by default, `LAYER2_EVENTS_EXCHANGE`) carries both directions:
the relay publishes the outgoing topics with the topic name as routing key; the consumer reads
the incoming topics from its own durable queues bound by topic name, and parks a message it
cannot take on the dead-letter queue (routing key `dead_letter.<topic>`) with the problem document.
"""

from __future__ import annotations

from kombu import Connection, Exchange, Queue

from app.services.outbox import OUTGOING_TOPICS  # noqa: F401  (re-exported: the topics the relay publishes)

GOALS_CREATED = "goals.created"
EXECUTION_FEEDBACK = "execution.feedback"
RESOURCES_AVAILABILITY = "resources.availability"
INCOMING_TOPICS = (GOALS_CREATED, EXECUTION_FEEDBACK, RESOURCES_AVAILABILITY)
DEAD_LETTER_QUEUE = "layer2.dead_letter"
DEAD_LETTER_PREFIX = "dead_letter."


def exchange(config: dict) -> Exchange:
    return Exchange(config["exchange"], type="topic", durable=True)


def incoming_queue(config: dict, topic: str) -> Queue:
    """The consumer's durable queue for one incoming topic: `layer2.<topic>`."""
    return Queue(f"layer2.{topic}", exchange(config), routing_key=topic, durable=True)


def dead_letter_queue(config: dict) -> Queue:
    return Queue(DEAD_LETTER_QUEUE, exchange(config), routing_key=f"{DEAD_LETTER_PREFIX}#", durable=True)


def broker_connection(config: dict) -> Connection:
    """A kombu connection to the events broker, with the farm's timeouts and key prefix."""
    if not config.get("broker_url"):
        raise RuntimeError("no broker: set CELERY_BROKER_URL (or LAYER2_EVENTS_BROKER_URL); in embedded mode "
                           "events stay in the outbox table (layer2-planning events)")
    return Connection(config["broker_url"], transport_options=dict(config["transport_options"]),
                      connect_timeout=config["transport_options"].get("socket_connect_timeout", 2))
