"""The consumer of incoming topics (`layer2-planning consume`): a thin edge over the same services as the API.

- `goals.created`: the goal goes through the POST's checks (JSON limits, `GoalCreate`, the goal's
  meaning) and `plans.create_plan`, then its chain is sent; the message id is kept in `inbox` in
  the plan's transaction, so a redelivered message makes no second plan.
- `execution.feedback`: `feedback.apply_feedback`, the PUT's service, with the message's
  `idempotency_key` (default: the message id) as its Idempotency-Key: applied once.
- `resources.availability`: `resources.replace_pools`, the PUT's service (flags the plans using a
  changed pool, records the changes the replan scan reads); `mode` "merge" (default) changes only the
  pools named, "replace" replaces the set. Its id is kept in `inbox` in the same transaction.

A message that cannot be taken (not JSON, no envelope, an invalid goal, feedback refused) is
published to the dead-letter queue with its problem document (RFC 9457, as the API answers) and
then acknowledged: never silently dropped. A database or broker outage leaves the message
unacknowledged; it is delivered again.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from kombu import Producer
from marshmallow import ValidationError
from sqlalchemy import exc as sa_exc

from app.events import topics
from app.extensions import db
from app.metrics import GOALS_RECEIVED, INTEGRATION_ERRORS, VALIDATION_ERRORS
from app.models import InboxMessage, utcnow
from app.problems import DATABASE_ERRORS, ApiProblem, flatten_marshmallow
from planning.errors import PlanningError
from planning.lifecycle import TransitionError

log = logging.getLogger(__name__)

ACTOR = "layer2-consumer"
#: A message is put back, not parked, on these: the database is down, or its tables are not there yet.
REQUEUE_ERRORS = (*DATABASE_ERRORS, sa_exc.ProgrammingError)
MAX_MESSAGE_BYTES = 1_000_000
ENVELOPE_FIELDS = ("id", "type", "version", "occurred_at", "payload", "plan_id")
RESOURCE_MODES = ("merge", "replace")


class Rejected(Exception):
    """The message cannot be taken: it goes to the dead-letter queue with this problem document."""

    def __init__(self, problem: dict):
        super().__init__(problem.get("detail"))
        self.problem = problem


@dataclass(frozen=True)
class Outcome:
    status: str  # applied | duplicate | dead_lettered
    result: dict


def problem(status: int, slug: str, title: str, detail: str, errors: list[dict] | None = None,
            instance: str | None = None) -> dict:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail or title,
            "instance": instance}
    if errors:
        body["errors"] = errors
    return body


def problem_of(error: BaseException, instance: str) -> dict:
    """The problem document the API would answer for this error (app/problems.py)."""
    if isinstance(error, ApiProblem):
        return {**problem(error.status, error.slug, error.title, error.detail, error.errors, instance), **error.extra}
    if isinstance(error, ValidationError):
        errors = flatten_marshmallow(error.messages)
        return problem(422, "invalid-goal", "The goal is not valid", f"{len(errors)} field(s) failed validation",
                       errors, instance)
    if isinstance(error, PlanningError):
        return problem(422, "invalid-goal", "The goal is not valid", error.message,
                       [{"field": error.field or "(body)", "message": error.message}], instance)
    if isinstance(error, TransitionError):
        return {**problem(409, "invalid-transition", "State transition not allowed", str(error), None, instance),
                "current_state": error.current, "requested_state": error.target}
    raise error


# -- the envelope ---------------------------------------------------------------------------------------

def parse_envelope(topic: str, raw: bytes | str) -> dict:
    """The message's envelope `{id, type?, version?, occurred_at?, payload}`; Rejected naming what is wrong."""
    from app.json_input import JsonInputError, UnstorableString, loads

    instance = f"urn:layer2:message:{topic}"
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Rejected(problem(413, "message-too-large", "Message too large",
                               f"{len(raw)} bytes; a message may carry at most {MAX_MESSAGE_BYTES}", None, instance))
    try:
        body = loads(raw)
    except JsonInputError as error:
        raise Rejected(problem(400, error.slug, error.title, str(error), None, instance)) from None
    except UnstorableString as error:
        raise Rejected(problem(422, "invalid-string", "Strings the service cannot store", str(error), error.errors,
                               instance)) from None
    if not isinstance(body, dict):
        raise Rejected(problem(400, "malformed-json", "Malformed JSON", "a message is a JSON object (an envelope)",
                               None, instance))
    errors = [{"field": key, "message": f"unknown field; an envelope has {', '.join(ENVELOPE_FIELDS)}"}
              for key in body if key not in ENVELOPE_FIELDS]
    message_id = body.get("id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 200 or not message_id.isprintable():
        errors.append({"field": "id", "message": "required: the message id, 1 to 200 printable characters "
                                                 "(consumers deduplicate by it)"})
    if body.get("type") not in (None, topic):
        errors.append({"field": "type", "message": f"must be {topic!r} (the routing key), got {body.get('type')!r}"})
    if not isinstance(body.get("payload"), dict):
        errors.append({"field": "payload", "message": "required: a JSON object"})
    if errors:
        raise Rejected(problem(422, "invalid-message", "The message is not valid",
                               f"{len(errors)} field(s) failed validation", errors, instance))
    return body


# -- the handlers ---------------------------------------------------------------------------------------

def _already_handled(session, topic: str, message_id: str) -> InboxMessage | None:
    return session.execute(sa.select(InboxMessage).where(InboxMessage.topic == topic,
                                                         InboxMessage.message_id == message_id)).scalar()


def _remember(session, topic: str, message_id: str, outcome: str, result: dict) -> None:
    session.execute(sa.insert(InboxMessage.__table__).values(topic=topic, message_id=message_id, outcome=outcome,
                                                             result=result, received_at=utcnow()))


def handle_goal(app, message_id: str, payload: dict, instance: str) -> dict:
    from app.api.plans import GOAL_SCHEMA
    from app.services import plans as plan_service
    from tasks.chain import chain_task_ids, enqueue_plan_version

    session = db.session
    task_ids = chain_task_ids()
    try:
        goal = GOAL_SCHEMA.load(payload)
        _remember(session, topics.GOALS_CREATED, message_id, "applied", {})  # committed with the plan
        version = plan_service.create_plan(session=session, goal_data=goal, actor=ACTOR,
                                           settings=app.config["PLANNING"], task_ids=task_ids)
    except (ValidationError, PlanningError) as error:
        session.rollback()
        VALIDATION_ERRORS.inc()
        raise Rejected(problem_of(error, instance)) from None
    GOALS_RECEIVED.inc()
    session.execute(sa.update(InboxMessage.__table__).where(
        InboxMessage.__table__.c.topic == topics.GOALS_CREATED, InboxMessage.__table__.c.message_id == message_id)
        .values(result={"plan_id": version.plan_id}))
    session.commit()
    try:
        enqueue_plan_version(version.id, task_ids=task_ids)
    except Exception:  # broker down: the plan is stored; the stalled-plan sweep will send it
        log.exception("could not enqueue plan %s; it will be resumed by the sweep", version.plan_id)
    return {"plan_id": version.plan_id, "version": version.version}


def handle_feedback(app, message_id: str, payload: dict, instance: str) -> dict:
    from app.services import feedback as feedback_service

    errors = []
    for key in payload:
        if key not in ("plan_id", "feedback", "idempotency_key", "if_match", "actor"):
            errors.append({"field": f"payload.{key}", "message": "unknown field; a feedback message has plan_id, "
                                                                 "feedback, idempotency_key, if_match, actor"})
    for key in ("plan_id", "idempotency_key", "if_match", "actor"):
        value = payload.get(key)
        if (key == "plan_id" or value is not None) and not (isinstance(value, str) and 0 < len(value) <= 200):
            errors.append({"field": f"payload.{key}", "message": "must be a string of 1 to 200 characters"
                                                                 + (" (required)" if key == "plan_id" else "")})
    if errors:
        raise Rejected(problem(422, "invalid-feedback", "The feedback is not valid",
                               f"{len(errors)} field(s) failed validation", errors, instance))
    try:
        answer = feedback_service.apply_feedback(
            session=db.session, plan_id=payload["plan_id"], body=payload.get("feedback"),
            actor=payload.get("actor") or ACTOR, settings=app.config["PLANNING"], if_match=payload.get("if_match"),
            idempotency_key=payload.get("idempotency_key") or message_id)
    except (ApiProblem, TransitionError) as error:
        db.session.rollback()
        raise Rejected(problem_of(error, instance)) from None
    return {"plan_id": payload["plan_id"], "feedback_seq": answer.body.get("feedback_seq"),
            "replayed": answer.replayed}


def handle_resources(app, message_id: str, payload: dict, instance: str) -> dict:
    from app.api.resources import ResourceSetReplace
    from app.services import resources as resource_service

    session = db.session
    body = {key: value for key, value in payload.items() if key != "mode"}
    mode = payload.get("mode", "merge")
    try:
        if mode not in RESOURCE_MODES:
            raise ValidationError({"mode": [f"must be one of {', '.join(RESOURCE_MODES)}"]})
        data = ResourceSetReplace().load(body)
    except ValidationError as error:
        errors = flatten_marshmallow(error.messages)
        raise Rejected(problem(422, "invalid-resources", "The resource pools are not valid",
                               f"{len(errors)} field(s) failed validation", errors, instance)) from None
    pools = data["resources"]
    if mode == "merge":  # the pools named change; the others stay as they are
        named = {pool["type"] for pool in pools}
        current = [record.to_dict() for record in resource_service.list_pools(session=session)]
        pools = [pool for pool in current if pool["type"] not in named] + pools
    _remember(session, topics.RESOURCES_AVAILABILITY, message_id, "applied", {})  # committed with the pools
    answer = resource_service.replace_pools(session=session, pools=pools, actor=ACTOR)
    return {"changed": answer["changed"], "flagged_plans": answer["flagged_plans"]}


HANDLERS = {topics.GOALS_CREATED: handle_goal, topics.EXECUTION_FEEDBACK: handle_feedback,
            topics.RESOURCES_AVAILABILITY: handle_resources}
#: Topics whose message ids are kept in `inbox` (feedback is deduplicated by its idempotency key).
INBOX_TOPICS = (topics.GOALS_CREATED, topics.RESOURCES_AVAILABILITY)


def handle(app, topic: str, raw: bytes | str, dead_letter) -> Outcome:
    """Take one message (inside an app context); `dead_letter(problem)` parks a refused one with its problem.

    Database errors propagate (the message is delivered again); anything refused is dead-lettered.
    """
    session = db.session
    instance = f"urn:layer2:message:{topic}"
    message_id = None
    try:
        envelope = parse_envelope(topic, raw)
        message_id = envelope["id"]
        instance = f"urn:layer2:message:{topic}/{message_id}"
        if topic in INBOX_TOPICS:
            seen = _already_handled(session, topic, message_id)
            session.rollback()
            if seen is not None:
                return Outcome("duplicate", {"outcome": seen.outcome, **(seen.result or {})})
        result = HANDLERS[topic](app, message_id, envelope["payload"], instance)
        return Outcome("duplicate" if result.get("replayed") else "applied", result)
    except Rejected as rejected:
        session.rollback()
        dead_letter(rejected.problem)
        if message_id is not None and topic in INBOX_TOPICS:
            try:
                _remember(session, topic, message_id, "dead_lettered", {"problem": rejected.problem["type"]})
                session.commit()
            except sa_exc.IntegrityError:
                session.rollback()
        return Outcome("dead_lettered", rejected.problem)
    except sa_exc.IntegrityError:
        # Another consumer took the same message id at the same moment (the inbox's unique key): theirs stands.
        session.rollback()
        if message_id is not None and topic in INBOX_TOPICS and _already_handled(session, topic, message_id):
            session.rollback()
            return Outcome("duplicate", {})
        raise


# -- the process ----------------------------------------------------------------------------------------

class Consumer:
    """Consumes the incoming topics' queues until `stop` is set; acknowledges a message once handled."""

    def __init__(self, app, stop: threading.Event | None = None):
        self.app = app
        self.config = app.config["EVENTS"]
        self.stop = stop or threading.Event()
        self.handled: dict[str, int] = {}

    def _dead_letter(self, producer: Producer, topic: str, raw: bytes | str, headers: dict):
        def park(problem_document: dict) -> None:
            text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
            body = {"topic": topic, "problem": problem_document, "message": text, "headers": headers,
                    "dead_lettered_at": utcnow().isoformat()}
            producer.publish(body, exchange=topics.exchange(self.config), routing_key=topics.DEAD_LETTER_PREFIX + topic,
                             serializer="json", delivery_mode=2, retry=True, retry_policy={"max_retries": 3})
            INTEGRATION_ERRORS.labels(system="topics", operation=topic if topic in HANDLERS else "unknown",
                                      kind="dead_lettered").inc()
            log.warning("consumer: %s message parked on %s: %s", topic, topics.DEAD_LETTER_QUEUE,
                        problem_document.get("detail"))
        return park

    def on_message(self, producer: Producer, message) -> None:
        topic = message.delivery_info.get("routing_key") or ""
        raw = message.body if message.body is not None else b""
        park = self._dead_letter(producer, topic, raw, dict(message.headers or {}))
        with self.app.app_context():
            try:
                if topic not in HANDLERS:
                    park(problem(400, "unknown-topic", "Unknown topic", f"this service takes {', '.join(HANDLERS)}"))
                    outcome = Outcome("dead_lettered", {})
                else:
                    outcome = handle(self.app, topic, raw, park)
            except REQUEUE_ERRORS as error:  # the database is away (or not migrated yet): deliver it again later
                db.session.rollback()
                log.warning("consumer: %s message not taken, the database is unavailable (%s); requeued", topic, error)
                message.requeue()
                self.stop.wait(1.0)
                return
            except Exception:  # a bug: park the message with a 500 rather than redeliver it forever
                db.session.rollback()
                log.exception("consumer: %s message crashed its handler", topic)
                park(problem(500, "internal-error", "Internal error", "the error was logged"))
                outcome = Outcome("dead_lettered", {})
            finally:
                db.session.remove()
        message.ack()
        self.handled[outcome.status] = self.handled.get(outcome.status, 0) + 1
        log.info("consumer: %s message %s: %s", topic, outcome.status, outcome.result)

    def run(self) -> None:
        """Consume until `stop` is set, reconnecting with backoff when the broker goes away."""
        backoff = 0.5
        while not self.stop.is_set():
            connection = topics.broker_connection(self.config)
            try:
                connection.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.3)
                channel = connection.channel()
                producer = Producer(connection.channel())
                queues = [topics.incoming_queue(self.config, topic) for topic in HANDLERS]
                topics.dead_letter_queue(self.config)(channel).declare()
                # on_message: the raw body, checked as the API checks a request body (no decoding by kombu)
                with connection.Consumer(queues, channel=channel, prefetch_count=1,
                                         on_message=functools.partial(self.on_message, producer)):
                    backoff = 0.5
                    log.info("consumer: consuming %s", ", ".join(queue.name for queue in queues))
                    while not self.stop.is_set():
                        try:
                            connection.drain_events(timeout=1.0)
                        except TimeoutError:
                            continue
            except Exception as error:  # broker away (or a bug in a handler's I/O): reconnect with backoff
                if self.stop.is_set():
                    break
                log.warning("consumer: %s: %s; reconnecting in %.1f s", type(error).__name__, error, backoff)
                self.stop.wait(backoff)
                backoff = min(5.0, backoff * 2)
            finally:
                try:
                    connection.release()
                except Exception:
                    pass
