"""Flask application factory: nothing happens at import time."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from app.config import load_config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: dict | None = None) -> Flask:
    from app.json_provider import FiniteJSONProvider

    app = Flask(__name__)
    app.json = FiniteJSONProvider(app)  # JSON out is always valid JSON (no NaN/Infinity)
    app.config.update(load_config(config))
    from app.logs import configure_logging

    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])  # once per process; again only re-formats
    if app.config["EMBEDDED"]:
        # Eager Celery runs every stage inside the request: one INFO line per stage is noise there
        # (a farm worker's own -l option governs it on the farm).
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    app.json.sort_keys = False  # keep documents in their documented order (stages in pipeline order)

    from app import models  # noqa: F401  (registers the tables with the metadata)
    from app.extensions import db, migrate

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))

    from tasks.celery_app import celery_init_app

    celery_init_app(app)

    from app import json_input, logs
    from app.api import health, lifecycle, plans, progress, resources, risks, snapshot
    from app.metrics import init_metrics
    from app.openapi import init_openapi
    from app.problems import register_error_handlers

    app.register_blueprint(health.bp)
    api = init_openapi(app)  # /api/v1/openapi.json and /api/v1/docs, from the blueprints' documentation
    from app.security import api as security_api
    from app.security.authorizer import init_security

    for blueprint in (plans.bp, lifecycle.bp, progress.bp, risks.bp, resources.bp, snapshot.bp, security_api.bp):
        api.register_blueprint(blueprint)
    register_error_handlers(app)  # after flask-smorest's: every error stays an app/problems.py document
    json_input.init_app(app)  # a request body that stops arriving is a 408, not a held thread
    logs.init_app(app)  # X-Request-ID in and out; request and plan ids on every log line
    init_security(app, api)  # after the request id: who calls, may they, how often (app/security, docs/security.md)
    init_metrics(app)
    return app
