"""Configuration: defaults, the [planning] TOML table, env vars over the file, clear errors."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_config


def test_embedded_defaults():
    """With nothing set, the service runs embedded: SQLite file and eager Celery."""
    config = load_config(env={})
    assert config["EMBEDDED"] is True
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["CELERY"]["task_always_eager"] is True
    assert config["PLANNING"].risk_threshold_probability == 0.7


def test_farm_mode_with_postgres_and_redis():
    """DATABASE_URL and CELERY_BROKER_URL switch to the farm, with psycopg2 as the driver."""
    config = load_config(env={"DATABASE_URL": "postgresql://u@h/db", "CELERY_BROKER_URL": "redis://h:6379/0"})
    assert config["EMBEDDED"] is False
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u@h/db"
    assert config["CELERY"]["task_always_eager"] is False
    assert config["CELERY"]["task_acks_late"] and config["CELERY"]["task_reject_on_worker_lost"]


def test_env_overrides_toml(tmp_path):
    """The TOML file sets values; environment variables win over it."""
    toml = tmp_path / "layer2.toml"
    toml.write_text("[planning]\nrisk_threshold_probability = 0.5\nmax_concurrent_tasks = 4\n"
                    'risk_threshold_impact = "Critical"\n')
    env = {"LAYER2_CONFIG_FILE": str(toml), "PLANNING_MAX_CONCURRENT_TASKS": "12"}
    settings = load_config(env=env)["PLANNING"]
    assert settings.risk_threshold_probability == 0.5
    assert settings.risk_threshold_impact == "Critical"
    assert settings.max_concurrent_tasks == 12


@pytest.mark.parametrize(
    "env, toml, words",
    [
        ({"PLANNING_RISK_THRESHOLD": "lots"}, None, "PLANNING_RISK_THRESHOLD"),
        ({"PLANNING_RISK_THRESHOLD": "1.5"}, None, "risk_threshold_probability"),
        ({"PLANNING_REPLANNING_INTERVAL": "0"}, None, "replanning_interval_minutes"),
        ({"DATABASE_URL": "mysql://x/y"}, None, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "kafka://x"}, None, "CELERY_BROKER_URL"),
        ({"LAYER8_BASE_URL": "ftp://x"}, None, "LAYER8_BASE_URL"),
        ({}, "[planning]\nunknown_knob = 1\n", "unknown_knob"),
        ({}, "[planning]\nrisk_threshold_impact = \"Huge\"\n", "risk_threshold_impact"),
        ({}, "[planning\n", "not valid TOML"),
    ],
)
def test_bad_settings_stop_startup_naming_the_setting(tmp_path, env, toml, words):
    """A malformed setting raises ConfigError whose message names it."""
    if toml is not None:
        path = tmp_path / "layer2.toml"
        path.write_text(toml)
        env = {**env, "LAYER2_CONFIG_FILE": str(path)}
    with pytest.raises(ConfigError, match=words):
        load_config(env=env)


def test_missing_config_file_is_an_error():
    """A config file path that does not exist is reported, not ignored."""
    with pytest.raises(ConfigError, match="no such file"):
        load_config(env={"LAYER2_CONFIG_FILE": "/nonexistent/layer2.toml"})
