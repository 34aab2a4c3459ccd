"""The outbox relay (`layer2-planning relay`): publishes the outbox's unsent events to the topic exchange.

Each round is one transaction: take up to `relay_batch` unsent rows in id order with
`FOR UPDATE SKIP LOCKED` (several relays share the work and never publish the same row at
once), publish each (the routing key is its topic; a persistent message; on RabbitMQ with
publisher confirms, on Redis the LPUSH's reply), then set `sent_at` on the rows published and
commit. A broker outage stops a round at the first failed publish: the rows published before it
are marked sent, the others stay unsent and the relay retries with backoff, so events are
delayed, never lost. A relay that dies between publishing and committing publishes those rows
again: delivery is at least once, under the same event id, and consumers deduplicate by it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta

import sqlalchemy as sa
from kombu import Producer
from sqlalchemy import exc as sa_exc

from app.events import topics
from app.extensions import db
from app.metrics import INTEGRATION_ERRORS
from app.models import OutboxEvent, utcnow
from app.problems import BROKER_ERRORS, DATABASE_ERRORS
from app.services.outbox import envelope

log = logging.getLogger(__name__)

_OUTBOX = OutboxEvent.__table__
_UNSENT = (sa.select(_OUTBOX.c.id, _OUTBOX.c.event_id, _OUTBOX.c.topic, _OUTBOX.c.schema_version, _OUTBOX.c.plan_id,
                     _OUTBOX.c.occurred_at, _OUTBOX.c.payload)
           .where(_OUTBOX.c.sent_at.is_(None)).order_by(_OUTBOX.c.id).limit(sa.bindparam("b_limit"))
           .with_for_update(skip_locked=True))
_MARK_SENT = sa.update(_OUTBOX).where(_OUTBOX.c.id.in_(sa.bindparam("b_ids", expanding=True))).values(
    sent_at=sa.bindparam("b_now"))
#: A publish that fails is retried this often, at these intervals, before the round gives up and backs off.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 0.5}
BACKOFF_MAX_SECONDS = 5.0
#: What an outage of the broker or the database raises: a warning, not a traceback.
#: (ProgrammingError: the outbox table is not there yet, `db upgrade` runs beside the relay at start-up.)
EXPECTED_ERRORS = (*BROKER_ERRORS, *DATABASE_ERRORS, OSError, sa_exc.ProgrammingError)
PRUNE_EVERY_SECONDS = 3600.0


class Relay:
    """Publishes outbox rows; `run` loops until `stop` is set. Uses the app's database session."""

    def __init__(self, app, stop: threading.Event | None = None):
        self.app = app
        self.config = app.config["EVENTS"]
        self.stop = stop or threading.Event()
        self.exchange = topics.exchange(self.config)
        self.connection = None
        self.producer: Producer | None = None
        self.published = 0

    # -- the broker --------------------------------------------------------------------------------------

    def _producer(self) -> Producer:
        if self.producer is None:
            self.connection = topics.broker_connection(self.config)
            self.connection.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.3)
            channel = self.connection.channel()
            self.exchange(channel).declare()
            self.producer = Producer(channel, exchange=self.exchange, serializer="json")
        return self.producer

    def _drop_connection(self) -> None:
        try:
            if self.connection is not None:
                self.connection.release()
        except Exception:  # the broker is gone; nothing to close politely
            pass
        self.connection = self.producer = None

    def _publish(self, row) -> None:
        producer = self._producer()
        publish = self.connection.ensure(producer, producer.publish, **PUBLISH_RETRY)
        publish(envelope(row), routing_key=row.topic, exchange=self.exchange, delivery_mode=2,
                headers={"event_id": row.event_id, "event_type": row.topic})

    # -- one round ---------------------------------------------------------------------------------------

    def relay_batch(self) -> int:
        """Publish up to one batch of unsent events and mark them sent (one transaction); how many were sent.

        A publish failure propagates after the events published before it are marked sent."""
        session = db.session
        rows = session.execute(_UNSENT, {"b_limit": self.config["relay_batch"]}).all()
        if not rows:
            session.rollback()
            return 0
        sent: list[int] = []
        try:
            for row in rows:
                self._publish(row)
                sent.append(row.id)
            if self.config.get("testonly_crash"):  # fault tests only: die between publishing and marking sent
                os._exit(1)
        finally:
            if sent:
                session.execute(_MARK_SENT, {"b_ids": sent, "b_now": utcnow()})
                session.commit()
                self.published += len(sent)
            else:
                session.rollback()
        return len(sent)

    def prune(self) -> int:
        """Delete events sent longer ago than `outbox_retention_days` (0 keeps them for good)."""
        days = self.config["outbox_retention_days"]
        if not days:
            return 0
        cutoff = utcnow() - timedelta(days=days)
        deleted = db.session.execute(sa.delete(_OUTBOX).where(_OUTBOX.c.sent_at < cutoff)).rowcount
        db.session.commit()
        return deleted or 0

    # -- the loop ----------------------------------------------------------------------------------------

    def run(self, *, once: bool = False) -> int:
        """Relay until `stop` is set (or, with `once`, until the outbox is empty); returns the events published."""
        poll = self.config["relay_poll_seconds"]
        backoff = poll
        last_prune = 0.0
        with self.app.app_context():
            while not self.stop.is_set():
                try:
                    count = self.relay_batch()
                    if time.monotonic() - last_prune > PRUNE_EVERY_SECONDS:
                        last_prune = time.monotonic()
                        self.prune()
                    backoff = poll
                except Exception as error:  # broker or database away: keep the rows, try again later
                    db.session.rollback()
                    self._drop_connection()
                    if isinstance(error, BROKER_ERRORS + (OSError,)):
                        INTEGRATION_ERRORS.labels(system="broker", operation="relay_publish",
                                                  kind=type(error).__name__).inc()
                    if isinstance(error, EXPECTED_ERRORS):
                        log.warning("relay: %s: %s; retrying in %.1f s", type(error).__name__, error, backoff)
                    else:
                        log.exception("relay: unexpected error; retrying in %.1f s", backoff)
                    self.stop.wait(backoff)
                    backoff = min(BACKOFF_MAX_SECONDS, backoff * 2)
                    continue
                finally:
                    db.session.remove()
                if count == 0:
                    if once:
                        break
                    self.stop.wait(poll)
        self._drop_connection()
        return self.published
