"""grump in one process: API, broker, workers and ledger, for a laptop or a demo.

An in-process broker, a worker per tier on threads, a SQLite file and the
offline providers (unless provider keys are set). Nothing to install or run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import uvicorn
from celery import Celery
from celery.contrib.testing.worker import start_worker

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.profiles import WORKER_PROFILES, WorkerKind, concurrency_for
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.ledger.migrate import upgrade
from grump.runtime import Runtime
from grump.settings import Settings

LOCAL_TENANT = "local"


@dataclass(frozen=True)
class Embedded:
    """A running embedded grump: where its API listens, its admin key, and its runtime and Celery app."""

    api_url: str
    api_key: str
    runtime: Runtime
    celery: Celery


def _serve(server: uvicorn.Server) -> threading.Thread:
    thread = threading.Thread(target=server.run, name="grump-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the embedded API did not start")
        time.sleep(0.01)
    return thread


def _embedded_celery(settings: Settings, runtime: Runtime) -> Celery:
    app = create_celery(settings, runtime)
    # The in-process broker is drained by a blocking loop that looks again only every
    # two seconds once a worker holds all it may: prefetch deeper, so a free thread
    # finds its next job already fetched instead of idling until that look.
    app.conf.worker_prefetch_multiplier = 8
    return app


@contextmanager
def run_embedded(settings: Settings, port: int = 0) -> Iterator[Embedded]:
    """Start everything; yield where the API listens and a fresh local admin key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    runtime = Runtime(settings)
    celery = _embedded_celery(settings, runtime)
    with session_scope(runtime.sessions) as session:
        key = create_api_key(session, LOCAL_TENANT, admin=True)
    with ExitStack() as stack:
        for kind, profile in WORKER_PROFILES.items():
            stack.enter_context(
                start_worker(
                    # The embed batch task (celery-batches) keeps its buffer and pool on the
                    # task object: a worker sharing the app would take it over. Own app, same
                    # in-process broker and runtime.
                    _embedded_celery(settings, runtime) if kind is WorkerKind.GPU else celery,
                    pool="threads",
                    concurrency=concurrency_for(settings, kind),
                    perform_ping_check=False,
                    loglevel="WARNING",
                    queues=list(profile.queues),
                    hostname=f"{kind.value}@embedded",
                    shutdown_timeout=30,
                )
            )
        app = create_app(settings, runtime, celery)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = _serve(server)
        bound = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Embedded(f"http://127.0.0.1:{bound}", key, runtime, celery)
        finally:
            server.should_exit = True
            thread.join(10)
    runtime.dispose()
