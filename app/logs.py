"""Logging, configured once per process at start-up (create_app: the API and every Celery process).

One handler on the root logger, on stderr, with one of two formats:
- `json` (python-json-logger): one JSON object a line, for log collectors; the default when stderr is
  not a terminal on the farm (gunicorn, workers, containers);
- `text`: one readable line, for people at a terminal; the default in embedded mode (`make run`) and
  whenever stderr is a terminal.
LOG_FORMAT=json|text chooses; LOG_LEVEL sets the level (INFO).

Every record carries the ids of what it is about, when known: `request_id` (X-Request-ID, taken from
the request or made, sent back on the response), `plan_id`, and on a worker `task_id`/`task`. The ids
live in a context variable: the API binds them per request, the stage tasks receive them in their
message headers (tasks/chain.py) and bind them while they run (tasks/observability.py).

Levels (the spec's Logging section): ERROR planning failures and integration errors; WARNING risk
alerts and resource conflicts; INFO plan creation and major updates; DEBUG the detailed flow.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

LOG_FORMATS = ("json", "text")
CONTEXT_FIELDS = ("request_id", "plan_id")
# Celery message headers that carry the context from the API to the stage tasks.
HEADER_PREFIX = "layer2_"

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("layer2_log_context", default=None)
_HANDLER_MARK = "_layer2_handler"


def current_context() -> dict:
    return dict(_context.get() or {})


def bind(**values) -> contextvars.Token:
    """Add ids to the current context (None values are left out); returns a token for `reset`."""
    added = {key: str(value) for key, value in values.items() if value is not None}
    return _context.set({**(_context.get() or {}), **added})


def reset(token: contextvars.Token) -> None:
    _context.reset(token)


@contextmanager
def bound(**values) -> Iterator[None]:
    token = bind(**values)
    try:
        yield
    finally:
        reset(token)


def context_headers() -> dict[str, str]:
    """The current ids as Celery message headers."""
    return {HEADER_PREFIX + key: value for key, value in (_context.get() or {}).items() if key in CONTEXT_FIELDS}


def context_from_headers(request) -> dict[str, str]:
    """The ids a task's message carried (a Celery task request)."""
    headers = getattr(request, "headers", None) or {}
    found = {}
    for key in CONTEXT_FIELDS:
        value = getattr(request, HEADER_PREFIX + key, None) or headers.get(HEADER_PREFIX + key)
        if value:
            found[key] = value
    return found


def _current_task() -> tuple[str | None, str | None]:
    try:
        from celery._state import get_current_task
    except ImportError:  # pragma: no cover
        return None, None
    task = get_current_task()
    if task is None or task.request.id is None:
        return None, None
    return task.request.id, task.name


_base_factory = logging.getLogRecordFactory()


def _record_factory(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    for key, value in (_context.get() or {}).items():
        setattr(record, key, value)
    task_id, task_name = _current_task()
    if task_id:
        record.task_id, record.task = task_id, task_name
    return record


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request_id=.. plan_id=..]: message`."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{key}={getattr(record, key)}" for key in (*CONTEXT_FIELDS, "task")
                       if getattr(record, key, None))
        record.ids = f" [{ids}]" if ids else ""
        return super().format(record)


def json_formatter() -> logging.Formatter:
    return JsonFormatter(["levelname", "name", "message"], timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"},
                         reserved_attrs=[*_RESERVED, "ids"])


_RESERVED = ("args", "created", "exc_info", "exc_text", "filename", "funcName", "levelno", "lineno", "module",
             "msecs", "msg", "pathname", "process", "processName", "relativeCreated", "stack_info", "thread",
             "threadName", "taskName")


def default_format(*, embedded: bool, stream=None) -> str:
    """text for people (embedded mode, or a terminal), json for collectors."""
    stream = stream or sys.stderr
    return "text" if embedded or (hasattr(stream, "isatty") and stream.isatty()) else "json"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (a test's capture, a redirected stream)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(log_format: str, level: str | int = "INFO") -> None:
    """Install (or re-format) the one root handler. Idempotent: tests build many apps."""
    if logging.getLogRecordFactory() is not _record_factory:
        logging.setLogRecordFactory(_record_factory)
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _HANDLER_MARK, False)), None)
    if handler is None:
        handler = _StderrHandler()
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    handler.setFormatter(json_formatter() if log_format == "json" else TextFormatter())
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


# --- the API side: X-Request-ID in and out, ids bound for the request --------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_OK = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def init_app(app) -> None:
    """Every request gets an id (the caller's X-Request-ID when it is a plain token, else a new one), sent back
    in X-Request-ID and carried by every log line of the request, and by the stage tasks it sends."""
    from flask import g, request

    @app.before_request
    def _bind_request_ids():
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _REQUEST_ID_OK.fullmatch(given) else uuid.uuid4().hex
        g.log_token = bind(request_id=g.request_id, plan_id=(request.view_args or {}).get("plan_id"))

    @app.after_request
    def _send_request_id(response):
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response

    @app.teardown_request
    def _unbind_request_ids(_error=None):
        token = g.pop("log_token", None)
        if token is not None:
            try:
                reset(token)
            except ValueError:  # bound in another context (a copied one): nothing of ours to undo here
                pass
