"""docker-compose.yml: services, persistence, commands, settings, GPU profile."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import (
    CLI_COMMANDS,
    METRIC_LABELS,
    REPO_ROOT,
    WORKER_TIERS,
    load_yaml,
    settings_env_names,
)

COMPOSE = load_yaml(REPO_ROOT / "docker-compose.yml")
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
GRUMP_SERVICES = {
    name: service
    for name, service in SERVICES.items()
    if str(service.get("image", "")).startswith(("grump:", "grump-gpu:"))
}
# Environment names a grump container may carry besides grump's settings.
NON_SETTING_ENV = {"HEALTHCHECK_URL"}


def test_every_part_of_grump_has_a_service() -> None:
    expected = {
        "redis", "postgres", "migrate", "api", "worker-cpu", "worker-llm", "worker-gpu",
        "beat", "flower", "prometheus",
    }  # fmt: skip
    assert expected <= set(SERVICES)
    assert set(GRUMP_SERVICES) == {
        "migrate", "api", "worker-cpu", "worker-llm", "worker-gpu", "beat", "flower",
    }  # fmt: skip


def test_redis_persists_and_never_evicts() -> None:
    redis = SERVICES["redis"]
    command = [str(part) for part in redis["command"]]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    # An evicted _kombu.binding.* key silently breaks Celery's routing.
    assert options["--maxmemory-policy"] == "noeviction"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "redis-cli" in redis["healthcheck"]["test"]


def test_postgres_keeps_its_data_in_a_named_volume() -> None:
    postgres = SERVICES["postgres"]
    mounts = dict(volume.split(":", 1) for volume in postgres["volumes"])
    volume = next(src for src, dst in mounts.items() if dst == "/var/lib/postgresql/data")
    assert volume in COMPOSE["volumes"]
    assert "pg_isready" in postgres["healthcheck"]["test"]


def test_migrate_runs_once_before_every_other_grump_service() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in GRUMP_SERVICES.items():
        if name == "migrate":
            continue
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


@pytest.mark.parametrize("name", sorted(GRUMP_SERVICES))
def test_service_runs_a_grump_command(name: str) -> None:
    service = GRUMP_SERVICES[name]
    assert "entrypoint" not in service, "the image's tini -- grump entrypoint must stay"
    command = service["command"]
    assert isinstance(command, list), "exec form, so no shell splits the arguments"
    assert command[0] in CLI_COMMANDS
    if command[0] == "worker":
        assert command[1] == "--tier"
        assert command[2] in WORKER_TIERS
        assert name == f"worker-{command[2]}"


@pytest.mark.parametrize("name", sorted(GRUMP_SERVICES))
def test_service_environment_names_are_grump_settings(name: str) -> None:
    environment = GRUMP_SERVICES[name]["environment"]
    assert isinstance(environment, dict)
    known = settings_env_names()
    unknown = {key for key in environment if key not in known and key not in NON_SETTING_ENV}
    assert not unknown, f"not grump settings: {sorted(unknown)}"


def test_grump_services_reach_redis_and_postgres_by_service_name() -> None:
    for name, service in GRUMP_SERVICES.items():
        env = service["environment"]
        assert env["GRUMP_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "@postgres:5432/" in env["GRUMP_DATABASE_URL"], name
        # Redis unless GRUMP_BROKER_URL (in .env) points at the rabbitmq profile's broker.
        assert env["GRUMP_BROKER_URL"].startswith("${GRUMP_BROKER_URL:-redis://redis:6379/"), name
        assert env["GRUMP_REDIS_URL"].startswith("redis://redis:6379/"), name
        # Containers listen beyond loopback and serve metrics.
        assert env["GRUMP_API_HOST"] == "0.0.0.0", name
        assert env["GRUMP_METRICS_PORT"] == "9100", name


def test_rabbitmq_is_an_optional_broker_that_keeps_its_messages() -> None:
    rabbitmq = SERVICES["rabbitmq"]
    assert rabbitmq["profiles"] == ["rabbitmq"]
    # Its node name comes from the hostname: a new one each start would orphan its data.
    assert rabbitmq["hostname"] == "rabbitmq"
    mounts = dict(volume.split(":", 1) for volume in rabbitmq["volumes"])
    assert (
        mounts.get("rabbitmq-data") == "/var/lib/rabbitmq" and "rabbitmq-data" in COMPOSE["volumes"]
    )
    assert "rabbitmq-diagnostics" in rabbitmq["healthcheck"]["test"]
    for name, service in GRUMP_SERVICES.items():
        if name == "migrate":
            continue
        dependency = service["depends_on"]["rabbitmq"]
        # Without the profile there is no rabbitmq service to wait for.
        assert dependency == {"condition": "service_healthy", "required": False}, name


def test_gpu_worker_is_optional_and_reserves_an_nvidia_gpu() -> None:
    gpu = SERVICES["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["build"]["dockerfile"] == "Dockerfile.gpu"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices and devices[0]["driver"] == "nvidia"
    assert "gpu" in devices[0]["capabilities"]
    for name, service in SERVICES.items():
        if name != "worker-gpu":
            assert "gpu" not in service.get("profiles", []), name
            assert "devices" not in str(service.get("deploy", "")), name


def test_cpu_services_build_the_cpu_image() -> None:
    for name, service in GRUMP_SERVICES.items():
        if name != "worker-gpu":
            assert service["build"]["dockerfile"] == "Dockerfile.worker", name
            assert (REPO_ROOT / service["build"]["dockerfile"]).is_file()


def test_flower_requires_a_password_and_stays_on_loopback() -> None:
    flower = SERVICES["flower"]
    env = flower["environment"]
    assert env["GRUMP_FLOWER_USER"]
    # ${VAR:?message}: compose refuses to start with no password set.
    assert re.fullmatch(r"\$\{GRUMP_FLOWER_PASSWORD:\?[^}]+\}", env["GRUMP_FLOWER_PASSWORD"])
    assert all(str(port).startswith("127.0.0.1:") for port in flower["ports"])


def test_api_and_flower_health_checks_ask_their_own_endpoints() -> None:
    assert SERVICES["api"]["environment"]["HEALTHCHECK_URL"].endswith(":8000/healthz")
    assert SERVICES["flower"]["environment"]["HEALTHCHECK_URL"].endswith(":5555/healthcheck")


def test_prometheus_uses_the_deploy_config_and_scrapes_real_services() -> None:
    prometheus = SERVICES["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]

    config = load_yaml(REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml")
    targets: list[str] = []
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            targets += static["targets"]
            # A target label named like a metric label would rename grump's own.
            assert not set(static.get("labels", {})) & METRIC_LABELS, job["job_name"]
    grump_targets = {t for t in targets if not t.startswith("localhost")}
    for target in grump_targets:
        host, port = target.split(":")
        assert host in GRUMP_SERVICES, f"{target} names no grump service"
        expected_port = "8000" if host == "api" else "9100"
        assert port == expected_port, target
    scraped = {t.split(":")[0] for t in grump_targets}
    assert scraped == {"api", "worker-cpu", "worker-llm", "worker-gpu", "beat"}


def test_env_file_is_optional_and_example_exists() -> None:
    for name, service in GRUMP_SERVICES.items():
        env_files = service["env_file"]
        assert env_files == [{"path": "deploy/grump.env", "required": False}], name
    assert (REPO_ROOT / "deploy" / "grump.env.example").is_file()


def test_beat_runs_once() -> None:
    beat = SERVICES["beat"]
    assert beat["command"] == ["beat"]
    assert "deploy" not in beat or beat["deploy"].get("replicas", 1) == 1
