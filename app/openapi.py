"""The OpenAPI 3 document of `/api/v1`, served at `/api/v1/openapi.json`, and its docs page at `/api/v1/docs`.

flask-smorest collects each view's documentation (`operation(...)` below) from the marshmallow
schemas; nothing here parses a request: bodies are still read by app/json_input.py and loaded
by the views themselves, so the documented contract and the 4xx codes stay as they were.
The Swagger UI assets come from the swagger-ui-bundle package and are served by the app, so
the docs page works without internet access.

A new /api/v1 view takes `@operation(...)` under its route decorator; tests/test_openapi.py fails
while a route is missing from the document, and tests/test_openapi_statuses.py while a documented
status has no request that brings it.
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Blueprint as FlaskBlueprint
from flask import Flask
from flask_smorest import Api

from app.problems import PROBLEM_JSON

API_PREFIX = "/api/v1"
ASSETS_PATH = f"{API_PREFIX}/docs/assets"
# Not blank: at least one character that is not white space. (No pattern says "no NUL, no lone surrogate" in
# every string, what app/json_input.py enforces: schemathesis drops such patterns as ungeneratable.)
NOT_BLANK = r"\S"


class PlanningApi(Api):
    """flask-smorest's Api without its own error responses: every error here is app/problems.py's."""

    DEFAULT_ERROR_RESPONSE_NAME = None


def init_openapi(app: Flask) -> PlanningApi:
    from swagger_ui_bundle import swagger_ui_path

    app.config.setdefault("API_TITLE", "Layer 2 Planning")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", f"{ASSETS_PATH}/")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Goals in, trusted plans out. Every error is RFC 9457 application/problem+json. "
                            "No string in a body may hold NUL or a lone surrogate, and dates and moments lie in the "
                            "years 1970..2200 (a 422 naming the field)."},
    })
    api = PlanningApi(app)
    # The Swagger UI's own files, from the installed package (no CDN).
    app.register_blueprint(FlaskBlueprint("openapi_assets", __name__, static_folder=str(swagger_ui_path),
                                          static_url_path=ASSETS_PATH))
    _register_components(api)
    return api


def _register_components(api: PlanningApi) -> None:
    from app.api import read_schemas

    api.spec.components.schema("Problem", schema=read_schemas.ProblemRead)
    # 401, 403 and 429: app/security (each route's @requires documents the ones it can answer).
    for status in (400, 401, 403, 404, 405, 408, 409, 412, 413, 415, 422, 429, 503):
        api.spec.components.response(f"Problem{status}", {
            "description": f"{HTTPStatus(status).phrase} (application/problem+json)",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": {"Retry-After": {"schema": {"type": "integer"},
                                            "description": "seconds to wait before retrying"}}}
               if status in (429, 503) else {}),
        })


def operation(*, body=None, body_required=True, query=None, responses: dict | None = None, errors=(), headers=None,
              summary=None):
    """A view's OpenAPI operation: request body and query schemas, success responses, problem statuses.

    `responses` maps a status to a schema (or a (schema, headers) pair); `errors` lists the statuses
    answered as problems. Documentation only: nothing is parsed or serialised on the way.
    """
    from flask_smorest import Blueprint

    doc: dict = {"responses": {}}
    if summary:
        doc["summary"] = summary
    if body is not None:
        doc["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    parameters = []
    if query is not None:
        parameters.append({"in": "query", "schema": query})
    for name, spec in (headers or {}).items():
        parameters.append({"in": "header", "name": name, "required": False, **spec})
    if parameters:
        doc["parameters"] = parameters
    for status, spec in (responses or {}).items():
        schema, response_headers = spec if isinstance(spec, tuple) else (spec, None)
        entry = {"description": HTTPStatus(status).phrase}
        if schema is not None:
            entry["content"] = {"application/json": {"schema": schema}}
        if response_headers:
            entry["headers"] = response_headers
        doc["responses"][str(status)] = entry
    # Every operation: 400 for a URL holding NUL (app/json_input.py), 503 when a dependency is down.
    for status in sorted(set(errors) | {400, 503}):
        doc["responses"][str(status)] = f"Problem{status}"
    return Blueprint.doc(**doc)
