"""The real programs as subprocesses, against the real Redis and Postgres."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import clean_ledger, pg_url, redis_url  # noqa: F401
from tests.services import free_port


class Programs:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, name: str, module: str = "grump.cli") -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "grump.cli", *args],
            env=self.env,
            capture_output=True,
            timeout=60,
            check=True,
        )
        return done.stdout.decode()

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def log_text(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture
def programs(clean_ledger: str, redis_url: str, tmp_path: Path) -> Iterator[Programs]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
    port = free_port()
    env.update(
        {
            "GRUMP_BROKER_URL": redis_url,
            "GRUMP_REDIS_URL": redis_url,
            "GRUMP_DATABASE_URL": clean_ledger,
            "GRUMP_DATA_DIR": str(tmp_path / "data"),
            "GRUMP_API_PORT": str(port),
            "GRUMP_API_URL": f"http://127.0.0.1:{port}",
            "GRUMP_LOG_LEVEL": "INFO",
        }
    )
    programs = Programs(env, tmp_path)
    try:
        yield programs
    finally:
        programs.stop_all()


def wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")
