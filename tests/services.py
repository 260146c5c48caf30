"""Finding the real Redis, Postgres and RabbitMQ the integration and e2e tests use.

Locally an unreachable service skips with a one-line reason; with CI=true it
fails the run, never skips.

Under pytest-xdist (``-n``) each worker process has a Redis database of its own:
worker ``gwN`` uses the database ``N`` above GRUMP_TEST_REDIS_URL's, since a test
empties its database before and after it runs. Postgres needs nothing of the kind:
each worker's session creates databases of its own (``create_database``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import create_engine, text

IN_CI = os.environ.get("CI") == "true"


def worker_redis_url(url: str, worker: str) -> str:
    """``url`` with the database ``N`` above its own for xdist worker ``gwN``; as is outside xdist."""
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + int(worker[2:])}"))


REDIS_URL = worker_redis_url(
    os.environ.get("GRUMP_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"),
    os.environ.get("PYTEST_XDIST_WORKER", ""),
)
DATABASE_URL = os.environ.get(
    "GRUMP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_or_skip() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database() -> tuple[str, str]:
    """A fresh, empty database for this test session: (url, name)."""
    admin = create_engine(
        DATABASE_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2}
    )
    name = f"grump_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable(f"Postgres not reachable at {DATABASE_URL}: {type(exc).__name__}")
    finally:
        admin.dispose()
    return _with_database(DATABASE_URL, name), name


def drop_database(name: str) -> None:
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


RABBITMQ_URL = os.environ.get("GRUMP_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")


def _rabbitmqctl(*args: str) -> None:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"rabbitmqctl {args[0]} failed: {done.stderr.decode()[-1000:]}")


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh vhost on the machine's RabbitMQ, deleted afterwards: the URL of grump's broker there.

    A vhost of its own gives a test its own queues and exchanges, so no other test's
    messages (nor queues of another type) can meet its own.
    """
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl is not installed")
    parts = urlsplit(RABBITMQ_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 1):
            pass
    except OSError as exc:
        unavailable(f"RabbitMQ not reachable at {parts.hostname}:{parts.port}: {exc}")
    vhost = f"grump_test_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, parts.username or "guest", ".*", ".*", ".*")
        yield urlunsplit(parts._replace(path=f"/{vhost}"))
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def rabbitmq_queue_types(vhost_url: str) -> dict[str, str]:
    """Queue name -> type ("quorum", "classic") in the vhost of ``vhost_url``, as RabbitMQ has it."""
    vhost = urlsplit(vhost_url).path.lstrip("/")
    done = subprocess.run(
        ["rabbitmqctl", "list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "type"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    rows = (line.split() for line in done.stdout.decode().splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2}
