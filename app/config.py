"""Configuration in one place, read once by `create_app`.

Sources, lowest to highest precedence: built-in defaults, the `[planning]`
table of the TOML file named by LAYER2_CONFIG_FILE, environment variables,
and explicit overrides (tests, the CLI). Everything is validated here so a
bad value stops start-up with a message naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import replace
from pathlib import Path

import orjson

from app.timeouts import TIMEOUT_ENV, Timeouts, broker_transport_options, engine_options, publish_retry_policy
from planning.settings import PlanningSettings

EMBEDDED_DATABASE_FILE = "instance/layer2.sqlite"


def _flag(value: str) -> bool:
    """true/false, 1/0, yes/no, on/off (any case); anything else is a ValueError."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


_flag.__name__ = "boolean (true/false)"

# env var -> (settings field, parser)
ENV_SETTINGS = {
    "PLANNING_MAX_CONCURRENT_TASKS": ("max_concurrent_tasks", int),
    "PLANNING_RISK_THRESHOLD": ("risk_threshold_probability", float),
    "PLANNING_REPLANNING_INTERVAL": ("replanning_interval_minutes", int),
    "PLANNING_ENABLE_CONTINUOUS_REPLANNING": ("enable_continuous_replanning", _flag),
    "PLANNING_REPLAN_SCAN_SECONDS": ("replan_scan_seconds", float),
    "PLANNING_REPLAN_SPI_THRESHOLD": ("replan_spi_t_threshold", float),
    "PLANNING_REPLAN_CPI_THRESHOLD": ("replan_cpi_threshold", float),
    "PLANNING_REPLAN_DEADLINE_PROBABILITY": ("replan_deadline_probability_threshold", float),
    "PLANNING_SCHEDULE_TIME_LIMIT": ("schedule_time_limit_seconds", float),
    "PLANNING_REPLAN_TIME_LIMIT": ("replan_time_limit_seconds", float),
    "PLANNING_DOMAINS_DIR": ("domains_dir", str),
}


ENV_KEYS = {
    "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_KEY_PREFIX", "CELERY_VISIBILITY_TIMEOUT", "LAYER8_BASE_URL",
    "LAYER8_CACHE_TTL_SECONDS", "LAYER8_TIMEOUT_SECONDS", "LAYER3_BASE_URL", "LAYER3_TIMEOUT_SECONDS",
    "LAYER2_CONFIG_FILE", "LAYER2_HOME", "LAYER2_MAX_GOAL_BYTES", "LAYER2_RESUME_STALLED_AFTER",
    "LAYER2_TESTONLY_STAGE_DELAY", "LAYER2_TESTONLY_STAGE_CRASH", *ENV_SETTINGS,
    "LOG_FORMAT", "LOG_LEVEL",
    "LAYER2_EVENTS_BROKER_URL", "LAYER2_EVENTS_EXCHANGE", "LAYER2_RELAY_BATCH", "LAYER2_RELAY_POLL_SECONDS",
    "LAYER2_OUTBOX_RETENTION_DAYS", "LAYER2_TESTONLY_RELAY_CRASH",
    *("LAYER2_JWT_ALGORITHMS", "LAYER2_JWT_PUBLIC_KEY", "LAYER2_JWT_PUBLIC_KEY_FILE", "LAYER2_JWT_JWKS_URL",
      "LAYER2_JWT_AUDIENCE", "LAYER2_JWT_ISSUER", "LAYER2_JWT_LEEWAY_SECONDS", "LAYER2_METRICS_TOKEN",
      "LAYER2_RATE_LIMIT", "LAYER2_RATE_LIMIT_STORAGE_URL",
      "LAYER2_ENCRYPTION_KEYS", "LAYER2_MAX_POOLS_PER_GOAL",
      "LAYER2_MAX_FEEDBACK_UPDATES", "LAYER2_TRUSTED_PROXIES"),  # security (app/security, docs/security.md)
}
ENV_KEYS |= set(TIMEOUT_ENV)  # database and broker wait limits (app/timeouts.py)


def _dump_json(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (goal, stage results, plan documents) through orjson: a plan's documents are
# encoded and decoded about ten times on its way through the stages, several times faster so.
JSON_COLUMN_CODEC = {"json_serializer": _dump_json, "json_deserializer": orjson.loads}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it."""


def _read_toml(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"LAYER2_CONFIG_FILE={path}: no such file")
    try:
        data = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    table = data.get("planning", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [planning] must be a table")
    return table


def build_planning_settings(env: dict[str, str]) -> PlanningSettings:
    values: dict = {}
    known = set(PlanningSettings.field_names())
    if env.get("LAYER2_CONFIG_FILE"):
        path = env["LAYER2_CONFIG_FILE"]
        for key, value in _read_toml(path).items():
            if key not in known:
                raise ConfigError(f"{path}: [planning].{key} is not a known setting")
            values[key] = tuple(value) if isinstance(value, list) else value
    for name, (field, parse) in ENV_SETTINGS.items():
        if env.get(name, "") != "":
            try:
                values[field] = parse(env[name])
            except ValueError:
                raise ConfigError(f"{name}={env[name]!r} is not a valid {parse.__name__}") from None
    try:
        settings = replace(PlanningSettings(), **values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"invalid planning settings: {error}") from None
    for key, value in values.items():
        expected = type(getattr(PlanningSettings(), key))
        if getattr(PlanningSettings(), key) is not None and not isinstance(value, (expected, int)):
            raise ConfigError(f"[planning].{key} must be {expected.__name__}, got {value!r}")
    return settings


def _seconds(env: dict[str, str], name: str, default: str, *, allow_zero: bool) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name}={env[name]!r} is not a number of seconds") from None
    if not (value >= 0 if allow_zero else value > 0) or value == float("inf"):
        raise ConfigError(f"{name} must be {'at least 0' if allow_zero else 'positive'} seconds, got {value!r}")
    return value


def _visibility_and_stage_limits(env: dict[str, str], settings: PlanningSettings) -> tuple[int, dict]:
    """The broker's visibility timeout and each stage's (soft, hard) time limit, from the registry.

    A stage must be killed (hard limit) before its message may be handed to another
    worker (visibility timeout), or a slow stage would run twice at once. The default
    timeout is the longest hard limit plus 10 s, so a message held by a killed worker
    comes back within a minute with the default limits.
    """
    from app.stages import REGISTRY, longest_hard_limit

    limits = {stage.name: (stage.soft_limit(settings), stage.hard_limit(settings)) for stage in REGISTRY}
    longest = longest_hard_limit(settings)
    default = int(longest) + 10
    try:
        visibility_timeout = int(env.get("CELERY_VISIBILITY_TIMEOUT") or default)
    except ValueError:
        raise ConfigError("CELERY_VISIBILITY_TIMEOUT must be a whole number of seconds") from None
    if visibility_timeout <= longest:
        raise ConfigError(f"CELERY_VISIBILITY_TIMEOUT={visibility_timeout} must exceed the longest stage hard "
                          f"time limit ({longest:g} s; the schedule stage's follows PLANNING_SCHEDULE_TIME_LIMIT), "
                          "or a slow stage would be delivered to a second worker while it still runs")
    return visibility_timeout, limits


def normalize_database_url(url: str) -> str:
    """Plain postgres URLs use psycopg2 (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def load_config(overrides: dict | None = None, env: dict[str, str] | None = None) -> dict:
    """Return the Flask config mapping; raises ConfigError naming the bad setting."""
    env = dict(os.environ if env is None else env)
    overrides = dict(overrides or {})
    # Overrides may name environment variables too (tests, the CLI); None unsets one.
    for key in [k for k in overrides if k in ENV_KEYS]:
        value = overrides.pop(key)
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    database_url = env.get("DATABASE_URL")
    broker_url = env.get("CELERY_BROKER_URL")
    embedded = not broker_url
    if not database_url:
        database_url = "sqlite:///" + str(Path(env.get("LAYER2_HOME", ".")).resolve() / EMBEDDED_DATABASE_FILE)
    database_url = normalize_database_url(database_url)
    if not database_url.startswith(("postgresql", "sqlite")):
        raise ConfigError(f"DATABASE_URL must be a postgresql:// or sqlite:// URL, got {database_url!r}")
    if broker_url and not broker_url.startswith(("redis://", "rediss://", "amqp://")):
        raise ConfigError(f"CELERY_BROKER_URL must be a redis:// or amqp:// URL, got {broker_url!r}")
    layer8 = env.get("LAYER8_BASE_URL") or None
    if layer8 and not layer8.startswith(("http://", "https://")):
        raise ConfigError(f"LAYER8_BASE_URL must be an http(s) URL, got {layer8!r}")
    layer8_cache_ttl = _seconds(env, "LAYER8_CACHE_TTL_SECONDS", "60", allow_zero=True)
    layer8_timeout = _seconds(env, "LAYER8_TIMEOUT_SECONDS", "2", allow_zero=False)
    # Layer 3 (validation, docs/layer3-contract.md): unset, plans are not sent for validation and say so.
    layer3 = env.get("LAYER3_BASE_URL") or None
    if layer3 and not layer3.startswith(("http://", "https://")):
        raise ConfigError(f"LAYER3_BASE_URL must be an http(s) URL, got {layer3!r}")
    layer3_timeout = _seconds(env, "LAYER3_TIMEOUT_SECONDS", "5", allow_zero=False)
    planning_settings = build_planning_settings(env)
    visibility_timeout, stage_limits = _visibility_and_stage_limits(env, planning_settings)

    # A message held by a worker that died comes back after the visibility
    # timeout, but kombu only looks for such messages every interval x throttle
    # seconds (100 s by default); look every ninth of the timeout (1 to 60 s).
    transport_options = {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": max(1, min(60, visibility_timeout // 9)),
        "unacked_restore_throttle": 1,
    }
    if env.get("CELERY_KEY_PREFIX"):
        # Lets several farms (or test runs) share one Redis without seeing each other's queues.
        transport_options["global_keyprefix"] = env["CELERY_KEY_PREFIX"]

    # How long anything may wait on PostgreSQL or Redis (app/timeouts.py).
    timeouts = Timeouts(**{field: _seconds(env, name, default, allow_zero=zero)
                           for name, (field, default, zero) in TIMEOUT_ENV.items()})

    config = {
        **_logging_settings(env, embedded),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {**engine_options(database_url, timeouts), **JSON_COLUMN_CODEC},
        "TIMEOUTS": timeouts,
        "EMBEDDED": embedded,
        "LAYER8_BASE_URL": layer8,
        "LAYER8_CACHE_TTL_SECONDS": layer8_cache_ttl,
        "LAYER8_TIMEOUT_SECONDS": layer8_timeout,
        "LAYER3_BASE_URL": layer3,
        "LAYER3_TIMEOUT_SECONDS": layer3_timeout,
        "PLANNING": planning_settings,
        "STAGE_TIME_LIMITS": stage_limits,
        "MAX_CONTENT_LENGTH": int(env.get("LAYER2_MAX_GOAL_BYTES", 4_000_000)),
        # Unfinished and untouched for longer than a killed worker's message takes to come
        # back: the message itself was lost (broker restart) or the stage hit its hard limit.
        "RESUME_STALLED_AFTER_SECONDS": int(_seconds(env, "LAYER2_RESUME_STALLED_AFTER",
                                                     str(visibility_timeout + 30), allow_zero=True)),
        # Test-only fault injection: "stage=seconds" sleeps inside that stage
        # before it saves, so a test can kill a worker mid-stage. Never set in production.
        "TESTONLY_STAGE_DELAY": env.get("LAYER2_TESTONLY_STAGE_DELAY", ""),
        # Test-only: "stage" makes the worker process die inside that stage every time (a poison message).
        "TESTONLY_STAGE_CRASH": env.get("LAYER2_TESTONLY_STAGE_CRASH", ""),
        "CELERY": {
            "broker_url": broker_url or "memory://",
            "task_always_eager": embedded,
            "task_ignore_result": True,
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            "broker_transport_options": transport_options,
            "worker_hijack_root_logger": False,
        },
    }
    config["CELERY"]["broker_transport_options"].update(broker_transport_options(timeouts))
    config["CELERY"]["task_publish_retry_policy"] = publish_retry_policy()
    config["EVENTS"] = _events_config(env, broker_url, config["CELERY"]["broker_transport_options"])
    config["SECURITY"] = _security_config(env, broker_url)
    config.update(overrides)
    _check_domain_library(config["PLANNING"])
    return config


def _events_config(env: dict[str, str], broker_url: str | None, transport_options: dict) -> dict:
    """The message topics (docs/events.md): the broker and topic exchange of the relay and the consumer."""
    url = env.get("LAYER2_EVENTS_BROKER_URL") or broker_url
    if url and not url.startswith(("redis://", "rediss://", "amqp://")):
        raise ConfigError(f"LAYER2_EVENTS_BROKER_URL must be a redis:// or amqp:// URL, got {url!r}")
    try:
        batch = int(env.get("LAYER2_RELAY_BATCH") or 100)
    except ValueError:
        raise ConfigError("LAYER2_RELAY_BATCH must be a whole number") from None
    if not 1 <= batch <= 10_000:
        raise ConfigError(f"LAYER2_RELAY_BATCH must be between 1 and 10000, got {batch}")
    options = dict(transport_options)
    if url and url.startswith("amqp://"):
        options["confirm_publish"] = True  # RabbitMQ: a publish returns once the broker confirmed it
    return {
        # None in embedded mode: events stay in the outbox table (`layer2-planning events` shows them)
        "broker_url": url or None,
        "exchange": env.get("LAYER2_EVENTS_EXCHANGE") or "layer2.events",
        "transport_options": options,
        "relay_batch": batch,
        "relay_poll_seconds": _seconds(env, "LAYER2_RELAY_POLL_SECONDS", "0.5", allow_zero=False),
        "outbox_retention_days": _seconds(env, "LAYER2_OUTBOX_RETENTION_DAYS", "7", allow_zero=True),
        # Test-only: the relay process dies after publishing a batch, before marking it sent. Never set in production.
        "testonly_crash": env.get("LAYER2_TESTONLY_RELAY_CRASH", "") == "1",
    }


# JWTs are verified with a public key only: no HMAC (a public key taken as a shared secret) and never `none`.
JWT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def _security_config(env: dict[str, str], broker_url: str | None) -> dict:
    """Authentication and limits (docs/security.md): the JWT verifier's settings, the /metrics token, rate limits."""
    algorithms = tuple(a.strip() for a in (env.get("LAYER2_JWT_ALGORITHMS") or "RS256").split(",") if a.strip())
    for algorithm in algorithms:
        if algorithm not in JWT_ALGORITHMS:
            raise ConfigError(f"LAYER2_JWT_ALGORITHMS: {algorithm!r} is not allowed (one of {', '.join(JWT_ALGORITHMS)}"
                              "; HMAC and none are refused)")
    public_key = env.get("LAYER2_JWT_PUBLIC_KEY") or None
    if env.get("LAYER2_JWT_PUBLIC_KEY_FILE"):
        try:
            public_key = Path(env["LAYER2_JWT_PUBLIC_KEY_FILE"]).read_text()
        except OSError as error:
            raise ConfigError(f"LAYER2_JWT_PUBLIC_KEY_FILE: cannot read it: {error.strerror}") from None
    jwks_url = env.get("LAYER2_JWT_JWKS_URL") or None
    if jwks_url and not jwks_url.startswith(("http://", "https://")):
        raise ConfigError(f"LAYER2_JWT_JWKS_URL must be an http(s) URL, got {jwks_url!r}")
    if public_key and jwks_url:
        raise ConfigError("set LAYER2_JWT_PUBLIC_KEY(_FILE) or LAYER2_JWT_JWKS_URL, not both")
    if public_key and "PRIVATE KEY" in public_key:
        raise ConfigError("LAYER2_JWT_PUBLIC_KEY holds a private key: give the public key")
    issuer = env.get("LAYER2_JWT_ISSUER") or None
    if (public_key or jwks_url) and not issuer:
        raise ConfigError("LAYER2_JWT_ISSUER is required when JWTs are accepted (LAYER2_JWT_PUBLIC_KEY or _JWKS_URL)")
    rate_limit = env.get("LAYER2_RATE_LIMIT") or "600/minute"
    try:
        from limits import parse_many

        parse_many(rate_limit)
    except ValueError:
        raise ConfigError(f"LAYER2_RATE_LIMIT={rate_limit!r} is not a rate limit like 600/minute") from None
    storage = env.get("LAYER2_RATE_LIMIT_STORAGE_URL") or (
        broker_url if broker_url and broker_url.startswith(("redis://", "rediss://")) else "memory://")
    encryption_keys = tuple(k.strip() for k in (env.get("LAYER2_ENCRYPTION_KEYS") or "").split(",") if k.strip())
    from app.security.encryption import cipher_from_keys

    try:
        cipher_from_keys(encryption_keys)
    except ValueError as error:
        raise ConfigError(f"LAYER2_ENCRYPTION_KEYS: {error}") from None
    limits = {}
    for name, key, ceiling in (("LAYER2_MAX_POOLS_PER_GOAL", "pools_per_goal", 200),
                               ("LAYER2_MAX_FEEDBACK_UPDATES", "feedback_updates", 500)):
        try:
            limits[key] = int(env.get(name) or ceiling)
        except ValueError:
            raise ConfigError(f"{name}={env[name]!r} is not a whole number") from None
        if not 1 <= limits[key] <= ceiling:
            raise ConfigError(f"{name} must be between 1 and {ceiling} (the schema's ceiling), got {limits[key]}")
    try:
        trusted_proxies = int(env.get("LAYER2_TRUSTED_PROXIES") or 0)
    except ValueError:
        raise ConfigError(f"LAYER2_TRUSTED_PROXIES={env['LAYER2_TRUSTED_PROXIES']!r} is not a whole number") from None
    if not 0 <= trusted_proxies <= 5:
        raise ConfigError(f"LAYER2_TRUSTED_PROXIES must be between 0 and 5, got {trusted_proxies}")
    return {
        # reverse proxies in front of the API whose X-Forwarded-For is believed (the audit's address, limits)
        "trusted_proxies": trusted_proxies,
        # ceilings below the schemas' own (app/security/limits.py)
        "limits": limits,
        # Fernet keys for the free text stored at rest; the first encrypts, all decrypt (rotation).
        "encryption_keys": encryption_keys,
        "jwt": {"enabled": bool(public_key or jwks_url), "algorithms": algorithms, "public_key": public_key,
                "jwks_url": jwks_url, "audience": env.get("LAYER2_JWT_AUDIENCE") or "layer2-planning",
                "issuer": issuer, "leeway": _seconds(env, "LAYER2_JWT_LEEWAY_SECONDS", "30", allow_zero=True)},
        # /metrics answers loopback callers, and any caller sending `Authorization: Bearer <token>` when set.
        "metrics_token": env.get("LAYER2_METRICS_TOKEN") or None,
        "rate_limit": rate_limit,
        "rate_limit_storage": storage,
    }


def _logging_settings(env: dict[str, str], embedded: bool) -> dict:
    """LOG_FORMAT (json|text; text in embedded mode or at a terminal, else json) and LOG_LEVEL (INFO)."""
    from app.logs import LOG_FORMATS, default_format

    log_format = (env.get("LOG_FORMAT") or default_format(embedded=embedded)).strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT={env['LOG_FORMAT']!r} must be one of {', '.join(LOG_FORMATS)}")
    level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL={env['LOG_LEVEL']!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return {"LOG_FORMAT": log_format, "LOG_LEVEL": level}


def _check_domain_library(settings) -> None:
    """Load the domain files at start-up so a broken user file stops the service, named."""
    from planning.errors import PlanningError
    from planning.stages.input import domain_library

    try:
        domain_library(settings.domains_dir)
    except PlanningError as error:
        raise ConfigError(f"domain library: {error.message}") from None
