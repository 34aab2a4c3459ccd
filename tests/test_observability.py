"""Logs, request ids, metrics and /health in one process (embedded mode: SQLite, eager Celery); the farm's
side (gunicorn, workers, Flower, a broker that dies) is in tests/test_observability_farm.py."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import ConfigError, load_config
from app.logs import configure_logging, default_format

SPEC_METRICS = (
    "layer2_goals_received", "layer2_plans_created", "layer2_plan_progress_percentage", "layer2_risks_identified",
    "layer2_resource_allocations_successful", "layer2_planning_duration_seconds",
    "layer2_task_decomposition_duration_seconds", "layer2_risk_assessment_duration_seconds",
    "layer2_planning_errors", "layer2_validation_errors", "layer2_integration_errors",
)


@pytest.fixture
def json_logs(embedded_app):
    """The process's log handler writes JSON for the test, text again afterwards."""
    configure_logging("json", "INFO")
    yield
    configure_logging(embedded_app.config["LOG_FORMAT"], "INFO")


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_request_id_is_echoed_or_made(client):
    """X-Request-ID comes back as sent when it is a plain token; otherwise (absent, too long, odd characters)
    the API makes one."""
    assert client.get("/health", headers={"X-Request-ID": "abc-123:x"}).headers["X-Request-ID"] == "abc-123:x"
    made = {client.get("/health", headers=headers).headers["X-Request-ID"]
            for headers in ({}, {"X-Request-ID": "x" * 200}, {"X-Request-ID": "a b\tc"})}
    assert len(made) == 3 and all(len(value) == 32 and value.isalnum() for value in made)
    problem = client.get("/api/v1/plans/nope", headers={"X-Request-ID": "r-404"})
    assert problem.status_code == 404 and problem.headers["X-Request-ID"] == "r-404"


def test_stage_log_lines_carry_the_request_and_plan_ids(client, example_goal, json_logs, capsys):
    """In JSON, the log lines of a POST's stages (run inside it, eager) carry its request id and the plan id;
    alert-level risks and resource conflicts are WARNINGs; the ids are gone once the request ends."""
    response = client.post("/api/v1/plans", json=example_goal, headers={"X-Request-ID": "req-logs-1"})
    plan_id = response.get_json()["id"]
    logging.getLogger("tests.after").warning("after the request")
    lines = _json_lines(capsys.readouterr().err)
    made = [line for line in lines if "made:" in line["message"]]
    assert len(made) == 1 and made[0]["plan_id"] == plan_id and made[0]["request_id"] == "req-logs-1"
    assert made[0]["level"] == "INFO" and made[0]["task"] == "layer2.validate" and made[0]["time"]
    alerts = [line for line in lines if "has risks at alert level" in line["message"]]
    assert alerts and all(line["level"] == "WARNING" and line["plan_id"] == plan_id for line in alerts)
    conflicts = [line for line in lines if "resource conflict" in line["message"]]  # an engineer short
    assert conflicts and all(line["level"] == "WARNING" and line["plan_id"] == plan_id for line in conflicts)
    received = [line for line in lines if line["message"].startswith("goal received")]
    assert received and received[0]["request_id"] == "req-logs-1"
    (after,) = [line for line in lines if line["logger"] == "tests.after"]
    assert "request_id" not in after and "plan_id" not in after and "task" not in after


def test_text_format_names_the_ids_on_one_readable_line(client, example_goal, capsys):
    """The text format (embedded mode's default) is one line per record with the ids in brackets."""
    client.post("/api/v1/plans", json=example_goal, headers={"X-Request-ID": "req-text"})
    err = capsys.readouterr().err
    made = [line for line in err.splitlines() if " made: " in line]
    assert len(made) == 1 and not made[0].startswith("{")
    assert "INFO app.services.pipeline [request_id=req-text plan_id=" in made[0]


def test_log_format_and_level_settings():
    """LOG_FORMAT is json or text (text in embedded mode, json on the farm off a terminal); LOG_LEVEL a level
    name; anything else stops start-up naming the setting."""
    assert load_config(env={})["LOG_FORMAT"] == "text"
    farm = {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "DATABASE_URL": "postgresql://x/y"}
    assert default_format(embedded=False, stream=io.StringIO()) == "json"
    assert load_config(env={**farm, "LOG_FORMAT": "TEXT", "LOG_LEVEL": "debug"})["LOG_LEVEL"] == "DEBUG"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_config(env={"LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        load_config(env={"LOG_LEVEL": "loud"})


def test_logging_is_configured_once(embedded_app):
    """Building more apps re-formats the one handler instead of adding handlers."""
    from app import create_app

    before = len(logging.getLogger().handlers)
    create_app({"DATABASE_URL": embedded_app.config["SQLALCHEMY_DATABASE_URI"], "CELERY_BROKER_URL": None,
                "CELERY_KEY_PREFIX": None})
    assert len(logging.getLogger().handlers) == before


def test_every_spec_metric_moves_with_embedded_work(client, example_goal):
    """After a plan made and a goal refused, /metrics (parsed by prometheus_client) has all 11 spec names and
    the counters moved by that work."""
    def scrape() -> dict[str, float]:
        samples = {}
        for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
            for sample in family.samples:
                samples.setdefault(sample.name, 0.0)
                samples[sample.name] += sample.value
        return samples

    before = scrape()
    plan_id = client.post("/api/v1/plans", json=example_goal).get_json()["id"]
    assert client.post("/api/v1/plans", json={"title": ""}).status_code == 422
    after = scrape()
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    for name in SPEC_METRICS:
        assert any(key.startswith(name) for key in after), name

    def moved(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert moved("layer2_goals_received_total") == 1 and moved("layer2_validation_errors_total") == 1
    assert moved("layer2_plans_created_total") == 1 and moved("layer2_planning_duration_seconds_count") == 1
    assert moved("layer2_risks_identified_total") == len(plan["risks"]) > 0
    assert moved("layer2_resource_allocations_successful_total") == len(plan["allocations"]) > 0
    assert moved("layer2_task_decomposition_duration_seconds_count") == 1
    assert moved("layer2_risk_assessment_duration_seconds_count") == 1


def test_embedded_health_reports_eager_mode(client):
    """Embedded mode says honestly that there are no workers: the stages run inside the API process."""
    body = client.get("/health").get_json()
    assert body["broker"] == "embedded (eager)" and body["workers"].startswith("embedded (eager)")
    assert client.get("/health/workers").status_code == 200
