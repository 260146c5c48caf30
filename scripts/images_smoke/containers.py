"""Images and programs under buildah: no daemon, chroot isolation, the host's network."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import SmokeFailed, sh

RUN = ["--isolation", "chroot", "--network", "host"]


@dataclass
class Image:
    """A built image and what its configuration says."""

    name: str
    config: dict[str, Any]
    healthcheck: list[str]
    size: str

    @classmethod
    def inspect(cls, name: str) -> Image:
        data = json.loads(sh("buildah", "inspect", "--type", "image", name))
        docker = data.get("Docker", {}).get("config", {}) or {}
        health = (docker.get("Healthcheck") or {}).get("Test") or []
        size = sh("buildah", "images", "--format", "{{.Size}}", name).splitlines()[0]
        return cls(name, data["OCIv1"]["config"], health, size)

    @property
    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env", []))


@dataclass
class Program:
    """One compose service running from an image in its own buildah container."""

    service: str
    image: Image
    argv: list[str]
    env: dict[str, str]
    logs: Path
    container: str = ""
    process: subprocess.Popen[bytes] | None = None
    ports: dict[str, str] = field(default_factory=dict)

    def create(self) -> None:
        name = f"grump-smoke-{os.getpid()}-{self.service}"
        self.container = sh("buildah", "from", "--pull=never", "--name", name, self.image.name)
        self.container = self.container.strip()
        env_options = [opt for k, v in self.env.items() for opt in ("--env", f"{k}={v}")]
        sh("buildah", "config", *env_options, self.container)

    def run(self, *argv: str, timeout: float = 120) -> str:
        """A one-shot command in this program's container (as its image's user)."""
        return sh("buildah", "run", *RUN, self.container, "--", *argv, timeout=timeout)

    def start(self) -> None:
        # The image's entrypoint, as docker would run it: tini -- grump COMMAND.
        entrypoint = self.image.config.get("Entrypoint") or []
        with self.logs.open("ab") as log:
            self.process = subprocess.Popen(
                ["buildah", "run", *RUN, self.container, "--", *entrypoint, *self.argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def init_pid(self) -> int:
        """The pid of the image's init (tini) under buildah run."""
        assert self.process is not None
        for pid in descendants(self.process.pid):
            if comm(pid) == "tini":
                return pid
        raise SmokeFailed(f"{self.service}: no tini under buildah run")

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM to the init, as `docker stop` sends it; the exit code, None if it hung."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        with suppress(SmokeFailed, ProcessLookupError):
            os.kill(self.init_pid(), signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            for pid in reversed(descendants(self.process.pid)):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(10)
            return None

    def remove(self) -> None:
        if self.container:
            sh("buildah", "rm", self.container, check_rc=False)
            self.container = ""

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.logs.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@contextmanager
def mounted(image: str) -> Iterator[Path]:
    """The image's root file system, read from the host."""
    container = sh("buildah", "from", "--pull=never", image).strip()
    try:
        yield Path(sh("buildah", "mount", container).strip())
    finally:
        sh("buildah", "umount", container, check_rc=False)
        sh("buildah", "rm", container, check_rc=False)
