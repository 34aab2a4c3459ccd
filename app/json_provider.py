"""The app's JSON provider: JSON out is always valid JSON, and JSON in keeps app/json_input.py's limits.

Out: the provider never writes NaN or Infinity.

Python's json writes ``NaN``/``Infinity`` for non-finite floats, which no strict JSON reader accepts.
The goal schema keeps such numbers out (app/schemas.py bounds every number), so one here is a bug
upstream: the provider writes ``null`` in its place and logs a warning, instead of sending a
document the client cannot parse.

In: `request.get_json()` parses with `app.json_input.loads` (nesting counted before parsing, no
NaN/Infinity, UTF-8), so endpoints that read their body that way get a 400, never a RecursionError.
"""

from __future__ import annotations

import logging
import math

from flask.json.provider import DefaultJSONProvider

log = logging.getLogger(__name__)


class FiniteJSONProvider(DefaultJSONProvider):
    """DefaultJSONProvider with ``allow_nan=False``; a non-finite float becomes null, with a warning.
    Parsing refuses non-finite numbers and deep nesting (a ValueError, as json's own errors are)."""

    def loads(self, s, **kwargs):
        from app.json_input import loads

        return loads(s)

    def dumps(self, obj, **kwargs) -> str:
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError as error:
            if "out of range float" not in str(error).lower():
                raise
        log.warning("a response held a non-finite number (NaN or Infinity); it is sent as null")
        return super().dumps(finite(obj), **kwargs)


def finite(value):
    """A copy of `value` with every non-finite float replaced by None (dicts, lists and tuples walked)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value
