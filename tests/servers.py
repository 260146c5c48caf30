"""Throwaway Redis, PostgreSQL and RabbitMQ servers on free loopback ports, for fault tests.

A fault test stops and starts these at will; it never touches the shared
services the other tests use. Redis runs with no persistence, so a restart
loses every message, as a Redis without AOF would in production. PostgreSQL
is Debian's binaries run into a temporary directory; initdb refuses to run as
root, so as root the server runs as the ``postgres`` OS user. RabbitMQ is a
node of its own (its own name, ports, data, logs and config), registered with
the machine's epmd like any other node; it keeps its data across a restart,
as a quorum queue's node does.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.services import free_port, unavailable


def _wait_port(port: int, timeout: float, up: bool = True) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.05)
    return False


class ThrowawayRedis:
    """``redis-server`` on a free port, no persistence: a restart empties it."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.workdir / f"redis-{self.starts}.log", "wb")  # noqa: SIM115
        self.starts += 1
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory-policy",
                "noeviction",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not _wait_port(self.port, 10):
            raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        _wait_port(self.port, 5, up=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


class ThrowawayRabbitMQ:
    """A RabbitMQ node of its own on free ports, its data under ``workdir``; guest/guest on loopback."""

    SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")

    def __init__(self, workdir: Path) -> None:
        if not self.SERVER.exists():
            unavailable("rabbitmq-server is not installed")
        self.root = workdir / "rabbitmq"
        self.root.mkdir()
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"grump-{self.port}@localhost"
        (self.root / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        root = str(self.root)
        env.update(
            {
                "HOME": root,  # its own Erlang cookie
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": f"{root}/mnesia",
                "RABBITMQ_LOG_BASE": f"{root}/log",
                "RABBITMQ_CONFIG_FILE": f"{root}/rabbitmq.conf",
                "RABBITMQ_ADVANCED_CONFIG_FILE": f"{root}/advanced.config",
                "RABBITMQ_ENABLED_PLUGINS_FILE": f"{root}/enabled_plugins",
                "RABBITMQ_CONF_ENV_FILE": f"{root}/rabbitmq-env.conf",
                "RABBITMQ_PID_FILE": f"{root}/rabbitmq.pid",
                "ERL_EPMD_ADDRESS": "127.0.0.1",
            }
        )
        return env

    def start(self, timeout: float = 60) -> None:
        log = open(self.root / f"server-{self.starts}.log", "wb")  # noqa: SIM115
        self.starts += 1
        self.proc = subprocess.Popen(
            [str(self.SERVER)],
            env=self._env(),
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / f"server-{self.starts - 1}.log").read_text(errors="replace")
                self.stop()
                raise AssertionError(f"rabbitmq-server did not start: {tail[-2000:]}")
            time.sleep(0.2)

    def _accepts(self) -> bool:
        """Whether the node takes an AMQP connection (its port opens before it is ready)."""
        from kombu import Connection

        try:
            with Connection(self.url, connect_timeout=1) as connection:
                connection.connect()
            return True
        except Exception:
            return False

    def stop(self) -> None:
        """Kill the node outright (no clean shutdown), as a crashed broker node."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        _wait_port(self.port, 10, up=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temp dir, on a free port, trusting local connections."""

    def __init__(self) -> None:
        bindir = _postgres_bin()
        if bindir is None:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bindir = bindir or Path()
        self.as_user: str | None = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="grump-pg-"))
        self.datadir = self.root / "data"
        self.port = free_port()
        if self.as_user is not None:
            owner = pwd.getpwnam(self.as_user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=60, cwd=self.root)
        if done.returncode != 0:
            raise AssertionError(
                f"{argv[0]} failed: {done.stdout.decode()[-2000:]} {done.stderr.decode()[-2000:]}"
            )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash (no shutdown checkpoint)."""
        if (self.datadir / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"
            )

    def restart(self, down_seconds: float = 0.0, mode: str = "fast") -> None:
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
