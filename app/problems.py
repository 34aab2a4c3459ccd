"""Every error leaves the API as RFC 9457 `application/problem+json`.

One place turns exceptions into problem documents so no handler can leak a
stack trace or answer HTML. Field errors are listed as ``{field, message}``
with dotted/indexed paths (``tasks[2].estimate.optimistic``).

A dependency that is down or does not answer in time (PostgreSQL, the Redis
broker) is a 503 `/problems/dependency-unavailable` with a Retry-After header,
never a 500: the request may simply be repeated later. `app/timeouts.py` makes
sure such errors come within the stated limits instead of hanging.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from kombu.exceptions import OperationalError as BrokerOperationalError
from marshmallow import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from app.timeouts import RETRY_AFTER_SECONDS, dependency_reason
from planning.errors import PlanningError
from planning.lifecycle import TransitionError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Errors that mean PostgreSQL is down, unreachable or too slow to answer in time
# (sqlalchemy's TimeoutError: no pooled connection came free within pool_timeout).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError,
)
# The same for the broker, should a call to it escape its caller.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    BrokerOperationalError, RedisConnectionError, RedisTimeoutError,
)


class ApiProblem(Exception):
    """An error the API answers on purpose, with a status and a slug."""

    def __init__(self, status: int, slug: str, title: str, detail: str = "", errors: list[dict] | None = None,
                 extra: dict | None = None):
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = errors or []
        self.extra = extra or {}  # RFC 9457 extension members


def problem_response(status: int, slug: str, title: str, detail: str = "", errors: list[dict] | None = None,
                     extra: dict | None = None):
    body = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": request.path if request else None,
    }
    if errors:
        body["errors"] = errors
    body.update(extra or {})  # RFC 9457 extension members
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


def flatten_marshmallow(messages, prefix: str = "") -> list[dict]:
    """Turn marshmallow's nested error dict into a flat list naming each field."""
    out: list[dict] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix or "(body)"
            elif key == "value" and prefix:
                path = prefix  # marshmallow nests a Dict value's errors under "value"
            elif key == "key" and prefix:
                path = prefix + " (key)"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                out.extend({"field": path, "message": str(m)} for m in _as_list(value))
            else:
                out.extend(flatten_marshmallow(value, path))
    else:
        out.extend({"field": prefix or "(body)", "message": str(m)} for m in _as_list(messages))
    return out


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def dependency_unavailable(dependency: str, error: BaseException):
    """503 problem naming the dependency and why, with Retry-After; one log line, no traceback."""
    reason = dependency_reason(error)
    log.warning("%s %s: %s unavailable: %s", request.method, request.path, dependency, reason)
    response = problem_response(
        503, "dependency-unavailable", "A dependency is unavailable",
        f"the {dependency} is unavailable ({reason}); retry in {RETRY_AFTER_SECONDS} s",
        extra={"dependency": dependency, "reason": reason},
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiProblem)
    def _api_problem(error: ApiProblem):
        return problem_response(error.status, error.slug, error.title, error.detail, error.errors, error.extra)

    @app.errorhandler(TransitionError)
    def _transition(error: TransitionError):
        # A state change planning/lifecycle.py does not allow: say where it is and where it may go.
        return problem_response(
            409, "invalid-transition", "State transition not allowed", str(error),
            extra={"entity": error.kind, "current_state": error.current, "requested_state": error.target,
                   "allowed": list(error.allowed)},
        )

    @app.errorhandler(ValidationError)
    def _validation(error: ValidationError):
        errors = flatten_marshmallow(error.messages)
        return problem_response(
            422, "invalid-goal", "The goal is not valid", f"{len(errors)} field(s) failed validation", errors
        )

    @app.errorhandler(PlanningError)
    def _planning(error: PlanningError):
        return problem_response(
            422, "invalid-goal", "The goal is not valid", error.message,
            [{"field": error.field or "(body)", "message": error.message}],
        )

    for error_class in DATABASE_ERRORS:
        app.register_error_handler(error_class, lambda error: dependency_unavailable("database", error))
    for error_class in BROKER_ERRORS:
        app.register_error_handler(error_class, lambda error: dependency_unavailable("broker", error))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        slug = (error.name or "error").lower().replace(" ", "-")
        response = problem_response(error.code or 500, slug, error.name, error.description or "")
        # The exception's own headers (a 405's Allow: RFC 9110 requires it; schemathesis found it missing).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        # Logged with its traceback for operators; the client gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "internal-error", "Internal error", "the error was logged; please retry")
