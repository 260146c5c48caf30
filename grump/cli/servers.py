"""grump api | worker | beat | migrate | flower | demo: the long-running programs."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from grump.errors import ValidationFailed
from grump.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)


def run_api(args: argparse.Namespace) -> int:
    """``grump api``: serve the API with uvicorn, in one process or ``--workers`` sharing the port."""
    import uvicorn

    settings = Settings()
    _logging(settings)
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    level = settings.log_level.lower()
    workers = args.workers or settings.api_workers
    if workers > 1:
        from grump.metrics_mode import prepare_multiprocess

        # Each process counts in its own registry: multiprocess mode makes the one that
        # answers /metrics sum them all. Set here, before uvicorn spawns them, because
        # prometheus-client reads the mode when a process first imports it.
        prepare_multiprocess(settings.data_dir / "metrics-api")
        # uvicorn's processes share the port; each spawned one imports the factory and
        # builds its own app (engine pools, Celery producer) from the same environment.
        uvicorn.run(
            "grump.api.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            log_level=level,
            workers=workers,
            log_config=_worker_log_config(settings),
        )
        return 0
    from grump.api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=level, workers=1)
    return 0


def _worker_log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging plus a root handler: spawned API processes skip ``_logging``."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["grump"] = {"format": LOG_FORMAT}
    config["handlers"]["grump"] = {
        "class": "logging.StreamHandler",
        "formatter": "grump",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"level": settings.log_level.upper(), "handlers": ["grump"]}
    return config


def run_worker(args: argparse.Namespace) -> int:
    """``grump worker``: run a Celery worker of one tier, with its multiprocess metrics set up first when it forks."""
    from grump.celery.profiles import WORKER_PROFILES, WorkerKind

    settings = Settings()
    _logging(settings)
    kind = WorkerKind(args.tier)
    if settings.metrics_port and WORKER_PROFILES[kind].pool == "prefork":
        from grump.metrics_mode import prepare_multiprocess

        prepare_multiprocess(settings.data_dir / f"metrics-{kind.value}")
    from grump.celery.workers import (
        create_worker_app,  # after: prometheus-client reads its mode at import
    )

    app = create_worker_app(settings, kind)
    argv = ["worker", f"--loglevel={settings.log_level}", f"--hostname={args.tier}@%h"]
    if args.concurrency:
        argv.append(f"--concurrency={args.concurrency}")
    return run_celery_command(app, argv)


def run_celery_command(app: Any, argv: list[str]) -> int:
    """Run a ``celery`` sub-command on ``app`` and return its exit code.

    Not app.worker_main/app.start: they drop the exit code, so a worker that
    stopped on an unrecoverable error (its event loop dying in a Redis restart)
    exited 0 and a restart-on-failure supervisor left it dead.
    """
    from celery.bin.celery import celery as command
    from click.exceptions import Exit

    command.params[0].default = app
    try:
        code = command.main(args=argv, standalone_mode=False)
    except Exit as exc:
        code = exc.exit_code
    finally:
        command.params[0].default = None
    return code if isinstance(code, int) else 0


def run_beat(args: argparse.Namespace) -> int:
    """``grump beat``: run the Celery beat scheduler, serving its metrics when a metrics port is set."""
    from grump.celery.app import create_celery

    settings = Settings()
    _logging(settings)
    app = create_celery(settings)
    if settings.metrics_port:
        from grump.metrics_server import serve

        serve(settings.metrics_port)
    schedule = args.schedule_file or str(settings.data_dir / "beat-schedule")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    argv = ["beat", f"--loglevel={settings.log_level}", f"--schedule={schedule}"]
    return run_celery_command(app, argv)


def run_migrate(_: argparse.Namespace) -> int:
    """``grump migrate``: bring the ledger's schema to the latest migration."""
    from grump.ledger.migrate import upgrade

    settings = Settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    print("ledger is at the latest migration")
    return 0


def run_flower(args: argparse.Namespace) -> int:
    """``grump flower``: serve Flower on the broker, refused unless its user and password are set."""
    from grump.celery.app import create_celery

    settings = Settings()
    app = create_celery(settings)
    if not (settings.flower_user and settings.flower_password):
        # Flower shows task arguments and can revoke tasks: never serve it open.
        raise ValidationFailed(
            "GRUMP_FLOWER_USER", "set GRUMP_FLOWER_USER and GRUMP_FLOWER_PASSWORD to run Flower"
        )
    # Through Flower's environment, not argv: the process list would show the password.
    os.environ["FLOWER_BASIC_AUTH"] = f"{settings.flower_user}:{settings.flower_password}"
    app.start(["flower", f"--port={args.port}"])
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """``grump demo``: run a mixed workload of ``--jobs`` jobs on the embedded default."""
    from grump import demo

    return demo.run_demo(Settings(), jobs=args.jobs)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def add_commands(sub: Any) -> None:
    """Add the long-running programs' commands (``api``, ``worker``, ``beat``, ``migrate``, ``flower``, ``demo``) to the parser."""
    api = sub.add_parser("api", help="run the producer API (uvicorn)")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.add_argument(
        "--workers",
        type=_positive,
        help="API processes sharing the port (default: GRUMP_API_WORKERS, 1)",
    )
    api.set_defaults(handler=run_api)

    worker = sub.add_parser("worker", help="run a worker of one tier")
    worker.add_argument("--tier", choices=["cpu", "llm", "gpu"], required=True)
    worker.add_argument("--concurrency", type=int)
    worker.set_defaults(handler=run_worker)

    beat = sub.add_parser("beat", help="run the beat scheduler (one instance only)")
    beat.add_argument("--schedule-file")
    beat.set_defaults(handler=run_beat)

    sub.add_parser("migrate", help="bring the ledger to the latest schema").set_defaults(
        handler=run_migrate
    )

    flower = sub.add_parser("flower", help="run Flower against the broker")
    flower.add_argument("--port", type=int, default=5555)
    flower.set_defaults(handler=run_flower)

    demo = sub.add_parser("demo", help="run a mixed workload on the embedded default")
    demo.add_argument("--jobs", type=int, default=300)
    demo.set_defaults(handler=run_demo)
