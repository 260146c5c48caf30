"""The smoke run's database, Redis dbs, ports and programs, and its teardown."""

from __future__ import annotations

import re
import subprocess
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import SmokeFailed, check, free_port, sh
from .containers import Image, Program

# Compose's in-container ports, moved to free ones on the host network.
API_PORT, METRICS_PORT, FLOWER_PORT = "8000", "9100", "5555"


@dataclass
class Smoke:
    """A smoke run: its database, Redis dbs, ports and programs."""

    worker_image: Image
    gpu_image: Image
    logs: Path
    admin_url: str
    redis_host: str
    redis_dbs: tuple[int, int]
    database: str = field(default_factory=lambda: f"grump_smoke_{uuid.uuid4().hex[:10]}")
    programs: dict[str, Program] = field(default_factory=dict)
    api_port: str = field(default_factory=free_port)

    @property
    def database_url(self) -> str:
        return re.sub(r"/[^/]*$", f"/{self.database}", self.admin_url)

    def psql(self, sql: str, url: str | None = None) -> list[list[str]]:
        out = sh("psql", "-X", "-q", "-At", "-F", "\t", url or self.database_url, "-c", sql)
        return [line.split("\t") for line in out.splitlines() if line]

    def redis(self, db: int, *argv: str) -> str:
        host, _, port = self.redis_host.partition(":")
        return sh("redis-cli", "-h", host, "-p", port or "6379", "-n", str(db), *argv)

    def setup(self) -> None:
        self.psql(f'CREATE DATABASE "{self.database}"', self.admin_url)
        for db in self.redis_dbs:
            self.redis(db, "FLUSHDB")

    def teardown(self) -> None:
        for program in self.programs.values():
            program.terminate(30)
            program.remove()
        with suppress(SmokeFailed, subprocess.TimeoutExpired):
            self.psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)', self.admin_url)
        for db in self.redis_dbs:
            with suppress(SmokeFailed, subprocess.TimeoutExpired):
                self.redis(db, "FLUSHDB")

    def environment(
        self, name: str, service: dict[str, Any], image: Image, ports: dict[str, str]
    ) -> dict[str, str]:
        """The service's environment with the host network's addresses and ports."""
        env = {k: str(v) for k, v in service.get("environment", {}).items()}
        broker, cache = self.redis_dbs
        host = self.redis_host
        env["GRUMP_BROKER_URL"] = re.sub(
            r"redis://redis:6379/\d+", f"redis://{host}/{broker}", env["GRUMP_BROKER_URL"]
        )
        env["GRUMP_REDIS_URL"] = re.sub(
            r"redis://redis:6379/\d+", f"redis://{host}/{cache}", env["GRUMP_REDIS_URL"]
        )
        check(
            "redis://redis:" not in env["GRUMP_BROKER_URL"] + env["GRUMP_REDIS_URL"],
            f"{name}: Redis URLs",
        )
        # The psycopg driver compose names, on the smoke database.
        url = env["GRUMP_DATABASE_URL"]
        check(
            url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url, f"{name}: {url}"
        )
        env["GRUMP_DATABASE_URL"] = "postgresql+psycopg://" + self.database_url.split("://", 1)[1]
        # HEALTHCHECK_URL: compose's, else the image's default, on the moved ports.
        env.setdefault("HEALTHCHECK_URL", image.env["HEALTHCHECK_URL"])
        for key in ("GRUMP_API_PORT", "GRUMP_METRICS_PORT", "HEALTHCHECK_URL"):
            for old, new in ports.items():
                env[key] = re.sub(rf"(^|:){old}(?=/|$)", rf"\g<1>{new}", env[key])
        return env

    def program(
        self, name: str, service: dict[str, Any], extra: dict[str, str] | None = None
    ) -> Program:
        image = (
            self.gpu_image
            if service["build"]["dockerfile"] == "Dockerfile.gpu"
            else self.worker_image
        )
        ports = {API_PORT: self.api_port, METRICS_PORT: free_port(), FLOWER_PORT: free_port()}
        argv = list(service["command"])
        if argv[0] == "flower":
            argv += ["--port", ports[FLOWER_PORT]]  # compose leaves Flower on its default port
        env = self.environment(name, service, image, ports) | (extra or {})
        # buildah run gives no pid namespace, so tini is not PID 1 as under docker:
        # registered as a subreaper it still reaps the prefork pool's children.
        env["TINI_SUBREAPER"] = "1"
        program = Program(name, image, argv, env, self.logs / f"{name}.log", ports=ports)
        self.programs[name] = program
        program.create()
        return program
