"""The Procfile, docker-compose.yml and Dockerfile describe the farm the code expects."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.stages import STAGE_NAMES as STAGES
from tasks.queues import QUEUE_NAMES

ROOT = Path(__file__).resolve().parent.parent


def procfile(name: str = "Procfile") -> dict[str, str]:
    entries = {}
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def _queues(command: str) -> set[str]:
    """The queues a `celery worker -Q a,b` command consumes."""
    words = command.split()
    return set(words[words.index("-Q") + 1].split(",")) if "-Q" in words else set()


@pytest.mark.parametrize("name", ["Procfile", "Procfile.per-stage"])
def test_procfiles_start_api_after_migration_and_a_worker_for_every_queue(name):
    """web runs `db upgrade` then gunicorn; every queue (from the registry) has a worker; beat and flower are there."""
    entries = procfile(name)
    assert entries["web"].index("db upgrade") < entries["web"].index("gunicorn")
    workers = [command for command in entries.values() if "tasks.worker:celery_app worker" in command]
    assert set(QUEUE_NAMES) <= set().union(*(_queues(command) for command in workers))
    assert "beat" in entries["beat"] and "flower" in entries["flower"]


def test_per_stage_procfile_has_one_worker_per_queue():
    """Procfile.per-stage gives each stage queue a pool of its own, named after it."""
    entries = procfile("Procfile.per-stage")
    for queue in QUEUE_NAMES:
        assert _queues(entries[queue]) == {queue}


def test_compose_runs_the_same_farm_from_one_image():
    """Compose has postgres and redis, and every Python service uses one image with its own command."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "api", "worker", "beat", "flower", *STAGES, "replan"} <= set(services)
    python_services = [name for name in services if name not in ("postgres", "redis")]
    assert {services[name]["image"] for name in python_services} == {"layer2-planning:latest"}
    default = [s for s in services.values() if "profiles" not in s and "worker" in str(s.get("command", ""))]
    assert set(QUEUE_NAMES) <= set().union(*(_queues(s["command"]) for s in default))
    for queue in QUEUE_NAMES:  # the per-stage profile: a pool per queue
        assert _queues(services[queue]["command"]) == {queue}
    assert "db upgrade" in services["api"]["command"] and "8082:8082" in services["api"]["ports"]
    env = services["api"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://") and env["CELERY_BROKER_URL"].startswith("redis://")


def test_dockerfile_installs_every_package():
    """The image copies and installs every package the processes import."""
    text = (ROOT / "Dockerfile").read_text()
    for package in ("app", "tasks", "planning", "scheduling", "migrations"):
        assert f"COPY {package} ./{package}" in text
    assert "pip install" in text and "EXPOSE 8082" in text


def test_compose_redis_keeps_queued_messages_and_never_evicts_them():
    """Redis runs with AOF on a volume (a restart loses no queued or unacknowledged message)
    and `maxmemory-policy noeviction` (when full it refuses new messages instead of dropping queued ones)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    redis = compose["services"]["redis"]
    command = redis["command"] if isinstance(redis["command"], list) else redis["command"].split()
    assert command[0] == "redis-server"

    def option(name: str) -> str:
        return command[command.index(f"--{name}") + 1]

    assert option("appendonly") == "yes"
    assert option("appendfsync") in ("everysec", "always")
    assert option("maxmemory-policy") == "noeviction"
    volume = next(v for v in redis["volumes"] if v.endswith(":/data"))  # the AOF outlives the container
    assert volume.split(":")[0] in compose["volumes"]


@pytest.mark.parametrize("name", ["Procfile", "Procfile.per-stage"])
def test_procfile_lines_share_one_fresh_metrics_dir_and_flower_asks_for_a_login(name):
    """Every Procfile line sources scripts/farm-env.sh (one metrics directory for the run, text logs); the API
    runs gunicorn with app.gunicorn_conf (its metrics hooks); Flower starts through scripts/flower.sh (basic auth)."""
    entries = procfile(name)
    assert all(command.startswith(". scripts/farm-env.sh && ") for command in entries.values())
    assert "gunicorn -c python:app.gunicorn_conf" in entries["web"]
    assert entries["flower"].endswith("exec scripts/flower.sh")
    script = (ROOT / "scripts" / "flower.sh").read_text()
    assert "FLOWER_BASIC_AUTH" in script and "exec celery -A tasks.worker:celery_app flower" in script


def test_farm_env_gives_one_directory_per_honcho_run(tmp_path):
    """Under a real honcho, the lines of one run get the same metrics directory and another run another one;
    a directory set by the user is kept."""
    import subprocess
    import sys

    line = ". scripts/farm-env.sh && echo DIR=$PROMETHEUS_MULTIPROC_DIR,$LOG_FORMAT && sleep 1"
    (tmp_path / "Procfile").write_text(f"a: {line}\nb: {line}\n")
    honcho = [sys.executable, "-m", "honcho", "-f", str(tmp_path / "Procfile"), "-d", str(ROOT), "start"]

    def run(**env) -> set[str]:
        result = subprocess.run(honcho, capture_output=True, text=True, timeout=30,
                                env={"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp", **env})
        return {text.split("DIR=", 1)[1].strip() for text in result.stdout.splitlines() if "DIR=" in text}

    first, second = run(), run()
    assert len(first) == 1 and len(second) == 1 and first != second, (first, second)
    assert first.pop().startswith("/tmp/layer2-metrics-") and second.pop().endswith(",text")
    assert run(PROMETHEUS_MULTIPROC_DIR="/srv/m", LOG_FORMAT="json") == {"/srv/m,json"}


def test_compose_flower_needs_a_login_and_processes_log_json():
    """Compose: Flower's FLOWER_BASIC_AUTH is required (`:?`), every service logs JSON and serves metrics on
    9090 from a tmpfs directory, the API runs gunicorn with app.gunicorn_conf."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    for name, service in services.items():
        if name in ("postgres", "redis"):
            continue
        assert service["environment"]["LOG_FORMAT"] == "${LOG_FORMAT:-json}", name
        assert service["environment"]["LAYER2_METRICS_PORT"] == "9090", name
        assert "/tmp/layer2-metrics" in service["tmpfs"], name
    assert "gunicorn -c python:app.gunicorn_conf" in services["api"]["command"]
    assert "ENV PROMETHEUS_MULTIPROC_DIR=/tmp/layer2-metrics" in (ROOT / "Dockerfile").read_text()
