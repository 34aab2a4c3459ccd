"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): most generated path ids become ids that exist.

Random ids only ever reach the 404 branch; the ids of the plans, risks, issues and tasks the test made
(JSON in LAYER2_SCHEMATHESIS_IDS) let the same cases reach the 200s, 409s and 422s behind them.
A quarter of the cases keep the generated value, so the 404s stay covered. Deterministic (a hash of
the generated value picks), so schemathesis can shrink and replay a failure.
"""

from __future__ import annotations

import hashlib
import json
import os

import schemathesis

KNOWN: dict[str, list[str]] = json.loads(os.environ.get("LAYER2_SCHEMATHESIS_IDS", "{}"))


def _pick(name: str, generated) -> object:
    known = KNOWN.get(name)
    if not known:
        return generated
    digest = int(hashlib.sha256(repr((name, generated)).encode()).hexdigest(), 16)
    return generated if digest % 4 == 0 else known[(digest // 4) % len(known)]


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    if not path_parameters:
        return path_parameters
    return {name: _pick(name, value) for name, value in path_parameters.items()}


@schemathesis.hook
def map_query(context, query):
    """A cursor is opaque (only the API makes one): a generated string is never one. tests/test_openapi.py
    walks the real cursors; here the pages start at the first item."""
    if query and "cursor" in query:
        query = {name: value for name, value in query.items() if name != "cursor"}
    return query
