"""Keyset pagination for every list the API answers: `?limit=N&cursor=...`, a `Link: <...>; rel="next"` header
(RFC 8288) and `next_cursor` in the body (absent on the last page).

The cursor is opaque to clients: the sort key of the page's last item and the list it belongs to, as
base64url JSON. A page starts after that key, so items added or removed meanwhile neither repeat nor
shift the pages (an offset would). A cursor that does not decode, or belongs to another list, is a 422
naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Response, jsonify, request

from app.problems import ApiProblem

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PAGE_PARAMETERS = ("limit", "cursor")


@dataclass(frozen=True)
class Page:
    limit: int
    after: tuple | None  # the sort key the page starts after; None: from the first item


def _invalid(name: str, message: str) -> ApiProblem:
    return ApiProblem(422, "invalid-query", "Invalid query", f"{name}: {message}",
                      [{"field": name, "message": message}])


def page_params(kind: str, *, default_limit: int = DEFAULT_LIMIT) -> Page:
    """`limit` (1..MAX_LIMIT) and the decoded `cursor` of the list `kind`, or a 422 naming the parameter."""
    raw = request.args.get("limit")
    limit = default_limit
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            raise _invalid("limit", f"Not a page size: {raw!r} (a whole number, 1 to {MAX_LIMIT}).")
        limit = int(raw)
    cursor = request.args.get("cursor")
    if cursor is None:
        return Page(limit, None)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)))
    except (UnicodeError, ValueError, binascii.Error):
        raise _invalid("cursor", "Not a cursor this API gave out (use next_cursor or the Link header).") from None
    if not (isinstance(decoded, dict) and decoded.get("list") == kind and isinstance(decoded.get("after"), list)):
        raise _invalid("cursor", "Not a cursor of this list (use next_cursor or the Link header).")
    return Page(limit, tuple(decoded["after"]))


def encode_cursor(kind: str, key: Sequence) -> str:
    text = json.dumps({"list": kind, "after": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def paginate(kind: str, items: Iterable, key: Callable, *,
             default_limit: int = DEFAULT_LIMIT) -> tuple[list, str | None]:
    """One page of `items` (any order in; sorted by `key`, whose values are JSON scalars) and the next cursor."""
    page = page_params(kind, default_limit=default_limit)
    ordered = sorted(items, key=key)
    if page.after is not None:
        try:
            ordered = [item for item in ordered if tuple(key(item)) > page.after]
        except TypeError:  # a forged cursor whose values do not compare with the keys
            raise _invalid("cursor", "Not a cursor of this list (use next_cursor or the Link header).") from None
    chosen = ordered[:page.limit]
    more = len(ordered) > page.limit
    return chosen, (encode_cursor(kind, key(chosen[-1])) if more else None)


def page_response(body: dict, next_cursor: str | None) -> Response:
    """`body` (with `next_cursor` when there is a next page) and its Link header."""
    if next_cursor:
        body["next_cursor"] = next_cursor
    return add_link(jsonify(body), next_cursor)


def add_link(response: Response, next_cursor: str | None) -> Response:
    """`Link: <this URL with the next cursor>; rel="next"` when there is a next page."""
    if next_cursor:
        args = [(name, value) for name, value in request.args.items(multi=True) if name != "cursor"]
        args.append(("cursor", next_cursor))
        response.headers["Link"] = f'<{request.path}?{urlencode(args)}>; rel="next"'
    return response


def link_headers() -> dict:
    """The OpenAPI description of the Link header of a list response."""
    return {"Link": {"description": 'RFC 8288: <URL of the next page>; rel="next" (absent on the last page)',
                     "schema": {"type": "string"}}}
