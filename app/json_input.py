"""Reading a JSON request body safely: size, time, encoding, nesting, numbers.

`read_json_object()` is what `app.api.plans.json_body` (and so every JSON endpoint) calls. In order:

- **size**: werkzeug refuses a Content-Length above ``MAX_CONTENT_LENGTH`` (413) but stops a chunked
  body (no Content-Length) silently at the limit, which then read as "not valid JSON"; here one byte
  past the limit is a 413 too.
- **time**: a body that stops arriving (a Content-Length larger than what is sent) would hold the
  server thread until the client hangs up. `init_app` gives the connection's socket a read timeout
  of ``BODY_READ_TIMEOUT`` seconds while a request with a body is handled (werkzeug's and gunicorn's
  servers put the socket in the environ); a read that times out is a 408 and the connection is closed.
- **the URL**: a path or query parameter holding NUL (``%00``) is a 400 on every endpoint (PostgreSQL
  refuses NUL in any text: a plan id ``a%00b`` was a 500).
- **encoding**: the body must be UTF-8 (RFC 8259 §8.1); anything else is a 400 naming the byte.
- **nesting**: counted on the text, before the parser runs (the parser recurses: a 2 KB body of
  990 brackets raised RecursionError); deeper than ``MAX_DEPTH`` is a 400.
- **numbers**: ``NaN``, ``Infinity``, ``-Infinity`` and numbers too large for a float (``1e400``) are
  not JSON numbers a plan can use: 400.

- **strings**: a ``\\udfff`` escape gives a lone surrogate and ``\\u0000`` a NUL, which no database
  column stores: a 422 naming the field (its JSON path, e.g. ``tasks[0].id``), on every endpoint. The goal
  schema checks the same (app/schemas.py ``Text``) for goals that come another way.
"""

from __future__ import annotations

import json
import logging
import math
import re
import socket

from flask import Flask, g, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from app.problems import ApiProblem

log = logging.getLogger(__name__)

MAX_DEPTH = 32  # arrays and objects inside one another; a goal needs 4 (tasks[].estimate), context the rest
BODY_READ_TIMEOUT = 5.0  # seconds a request body may go without a byte arriving

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")


def init_app(app: Flask) -> None:
    """Bound the time a request body may take to arrive (all endpoints), restored after the request."""

    @app.before_request
    def _no_nul_in_url():
        # PostgreSQL refuses NUL in any text: /api/v1/plans/a%00b raised at the query (500), not a 404
        fields = [("(path)", request.path)] + [(name, value) for name, value in request.args.items(multi=True)]
        bad = [{"field": name, "message": "must not contain NUL (U+0000)"} for name, value in fields
               if "\x00" in value or "\x00" in name]
        if bad:
            raise ApiProblem(400, "invalid-url", "The URL is not valid", "the URL holds NUL (%00)", bad)

    @app.before_request
    def _body_read_timeout():
        if not (request.content_length or request.environ.get("HTTP_TRANSFER_ENCODING")):
            return
        sock = _socket()
        if sock is None:
            return
        try:
            g.json_input_socket_timeout = (sock, sock.gettimeout())
            sock.settimeout(BODY_READ_TIMEOUT)
        except OSError:  # closed already: the read will say so
            g.pop("json_input_socket_timeout", None)

    @app.errorhandler(UnstorableString)
    def _unstorable(error: UnstorableString):
        from app.problems import problem_response

        return problem_response(422, "invalid-string", "A string is not valid",
                                f"{len(error.errors)} string(s) hold NUL or a lone surrogate", error.errors)

    @app.after_request
    def _close_if_unread(response):
        if g.pop("json_input_close", False):
            response.headers["Connection"] = "close"
        return response

    @app.teardown_request
    def _restore_timeout(_error=None):
        saved = g.pop("json_input_socket_timeout", None)
        if saved is not None:
            sock, timeout = saved
            try:
                sock.settimeout(timeout)
            except OSError:
                pass


def _socket() -> socket.socket | None:
    for key in _SOCKET_KEYS:
        sock = request.environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def _malformed(detail: str, status: int = 400, slug: str = "malformed-json", title: str = "Malformed JSON"):
    return ApiProblem(status, slug, title, detail, [{"field": "(body)", "message": detail}])


def read_body() -> bytes:
    """The raw body (cached on the request), within the size limit and the read timeout."""
    limit = request.max_content_length
    try:
        data = request.get_data(cache=True)
        if (limit is not None and request.content_length is None and len(data) >= limit
                and request.environ["wsgi.input"].read(1)):
            # chunked: werkzeug's stream ends quietly at the limit; there was more
            raise RequestEntityTooLarge()
    except ClientDisconnected as error:
        if isinstance(error.__context__, TimeoutError):
            _close_connection()
            raise ApiProblem(408, "request-timeout", "Request timeout",
                             f"the request body stopped arriving (nothing for {BODY_READ_TIMEOUT:g} s; "
                             "is Content-Length larger than the body?)") from None
        raise
    except TimeoutError:
        _close_connection()
        raise ApiProblem(408, "request-timeout", "Request timeout",
                         f"the request body stopped arriving (nothing for {BODY_READ_TIMEOUT:g} s)") from None
    except RequestEntityTooLarge:
        _close_connection()
        raise
    return data


def _close_connection() -> None:
    """The rest of the body was not read: the connection cannot carry another request."""
    g.json_input_close = True


class JsonInputError(ValueError):
    """A JSON text this service does not take; `slug` and `title` for the problem document."""

    def __init__(self, message: str, slug: str = "malformed-json", title: str = "Malformed JSON"):
        super().__init__(message)
        self.slug, self.title = slug, title


def loads(data: bytes | str):
    """Parse a JSON text with the limits above, or raise JsonInputError (a ValueError) saying what is wrong.

    The app's JSON provider parses with this too (app/json_provider.py), so `request.get_json()` keeps the
    same limits on endpoints that do not use json_body().
    """
    if isinstance(data, (bytes, bytearray)):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonInputError(f"the request body is not valid UTF-8 (byte {error.start}: "
                                 f"{data[error.start:error.start + 1].hex()})") from None
    else:
        text = data
    if nesting_depth(text) > MAX_DEPTH:
        raise JsonInputError(f"the request body nests arrays and objects more than {MAX_DEPTH} levels deep",
                             slug="json-too-deep", title="JSON nested too deeply")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotANumber as error:
        raise JsonInputError(str(error)) from None
    except (ValueError, RecursionError) as error:  # JSONDecodeError, a too long integer
        raise JsonInputError(f"the request body is not valid JSON ({error})") from None
    if _SUSPECT_ESCAPE.search(text):  # only a \u escape can make NUL or a lone surrogate (UTF-8 is checked)
        _check_strings(value)
    return value


class UnstorableString(Exception):
    """Strings of the body hold NUL or a lone surrogate: a 422 naming each field, on every endpoint.

    Not a ValueError on purpose: `request.get_json(silent=True)` lets it through to the error handler
    `init_app` registers, instead of turning it into "not valid JSON".
    """

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{error['field']}: {error['message']}" for error in errors))
        self.errors = errors


_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")


def string_problem(value: str) -> str | None:
    """Why a string cannot be stored, or None: NUL (PostgreSQL text refuses it) and lone surrogates (not Unicode
    scalar values: UTF-8 cannot encode them)."""
    if "\x00" in value:
        return f"must not contain NUL (U+0000); found at position {value.index(chr(0))}"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"is not valid Unicode: a lone surrogate U+{ord(value[error.start]):04X} at position {error.start}"
    return None


def _check_strings(value, limit: int = 20) -> None:
    """Raise UnstorableString naming the strings and keys (up to `limit`, in document order) that hold NUL or a
    lone surrogate. Walked without recursion."""
    errors: list[dict] = []
    stack = [("", value)]
    while stack and len(errors) < limit:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = string_problem(item)
            if problem:
                errors.append({"field": path or "(body)", "message": f"Not a valid string: {problem}."})
        elif isinstance(item, dict):
            members = []
            for key, member in item.items():
                problem = string_problem(key)
                if problem:
                    errors.append({"field": f"{path or '(body)'} (key)", "message": f"Not a valid key: {problem}."})
                members.append((f"{path}.{key}" if path else key, member))
            stack.extend(reversed(members))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{path}[{index}]", member) for index, member in enumerate(item)]))
    if errors:
        raise UnstorableString(errors)


def parse_json(data: bytes):
    """Parse a JSON text (bytes), or raise a 400 ApiProblem naming what is wrong."""
    try:
        return loads(data)
    except JsonInputError as error:
        raise _malformed(str(error), slug=error.slug, title=error.title) from None


def announces_body() -> bool:
    """Whether the request says a body follows (Content-Length above 0, or chunked), without reading it:
    an optional body is then read by `read_body`, with its size limit and read timeout (a 408, not the
    400 werkzeug makes of a stalled read)."""
    if request.content_length is not None:
        return request.content_length > 0
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def read_json_object() -> dict:
    """The request's body as a JSON object, or a 400/408/413 problem saying what is wrong with it."""
    body = parse_json(read_body())
    if not isinstance(body, dict):
        raise _malformed("the request body must be a JSON object")
    return body


def nesting_depth(text: str, stop_above: int = MAX_DEPTH) -> int:
    """How deeply arrays/objects nest in a JSON text (strings skipped), or any number <= `stop_above` when it
    cannot nest deeper than that; stops counting past `stop_above`.

    Linear, no recursion: it runs before the parser does. Unbalanced text gets some number; the parser
    then says what is wrong with it.
    """
    if text.count("[") + text.count("{") <= stop_above:
        return min(text.count("[") + text.count("{"), stop_above)  # cannot nest deeper than it has brackets
    depth = peak = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > peak:
                peak = depth
                if peak > stop_above:
                    break
        else:
            depth -= 1
    return peak


class _NotANumber(ValueError):
    pass


def _refuse_constant(name: str):
    raise _NotANumber(f"the request body holds {name}, which is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NotANumber(f"the number {literal[:40]} in the request body is too large")
    return value
