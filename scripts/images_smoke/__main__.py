"""Smoke tests of the built images: docker-compose.yml's services, run from them with buildah.

`make images-smoke` runs this (through scripts/smoke.sh) after `make images`. Every
grump service of docker-compose.yml runs from the image it names, with its command and
its environment, under the image's own entrypoint and user, against this machine's
Redis and PostgreSQL: `buildah run --isolation chroot --network host`, so no daemon.
The host network means no service names and one port per program, so the smoke run
points the broker, Redis and database URLs at 127.0.0.1 (a throwaway database, Redis
db numbers of its own) and moves each published port to a free one; nothing else of
the service changes. Then, from the host, over HTTP:

- one parse, one complete and one embed job succeed, each with its one cost event in
  the ledger at the cost the API reports;
- /metrics of the API, each worker and beat is scraped and counts the work done;
- the image's HEALTHCHECK passes in every long-running service with compose's
  HEALTHCHECK_URL;
- SIGTERM to the llm worker in the middle of a job: the job finishes, or goes back to
  the queue and a new worker finishes it; either way it is charged once;
- the images run as a non-root user, hold no compiler and no test files, the worker
  image runs the compiled intent parser and the GPU image falls back to NumPy here;
  their sizes are printed.

Stdlib and PyYAML only: it runs on the small tools virtualenv scripts/smoke.sh makes.

Run from the checkout as `python -m scripts.images_smoke` (scripts/smoke.sh does).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from .checks import (
    check_charged_once,
    check_image_contents,
    check_image_runs,
    healthcheck,
    scrape,
    sigterm_mid_job,
    submit_and_wait,
)
from .common import SmokeFailed, check, http, say, wait_for
from .compose import ROOT, check_compose_agrees, load_compose, settings_names
from .containers import Image, Program
from .stack import Smoke

LONG_RUNNING = ("api", "worker-cpu", "worker-llm", "worker-gpu", "beat", "flower")
# The llm worker answers this slowly, so that SIGTERM lands in the middle of a job.
OFFLINE_LATENCY_MS = "4000"


def run(smoke: Smoke) -> None:
    """The whole smoke run, in the order an operator would bring the services up."""
    services = load_compose({"GRUMP_FLOWER_PASSWORD": uuid.uuid4().hex})
    images = {"grump": smoke.worker_image, "grump-gpu": smoke.gpu_image}
    for image in images.values():
        check_image_contents(image)
    smoke.setup()
    key = migrate_and_make_a_key(smoke, services, images)
    start_services(smoke, services)
    run_one_job_of_each_kind(smoke, key)
    scrape_every_program(smoke)
    sigterm_mid_job(smoke, key, smoke.programs["worker-llm"], services)


def migrate_and_make_a_key(smoke: Smoke, services: dict[str, Any], images: dict[str, Image]) -> str:
    """compose's one-shot migrate service, then an API key made in its container."""
    migrate = smoke.program("migrate", services["migrate"])
    check_image_runs(migrate, gpu=False)
    check_compose_agrees(services, images, settings_names(migrate))
    out = migrate.run(*migrate.image.config["Entrypoint"], *services["migrate"]["command"])
    say(f"migrate: {out.strip()}")
    key = migrate.run("grump", "keys", "create", "--tenant", "smoke").strip()
    check(key != "", "grump keys create printed no key")
    return key


def start_services(smoke: Smoke, services: dict[str, Any]) -> None:
    """Every long-running service up, answering its health URL and the image's health check."""
    extra = {"worker-llm": {"GRUMP_OFFLINE_LATENCY_MS": OFFLINE_LATENCY_MS}}
    for name in LONG_RUNNING:
        smoke.program(name, services[name], extra.get(name))
    check_image_runs(smoke.programs["worker-gpu"], gpu=True)
    for name in LONG_RUNNING:
        smoke.programs[name].start()
    for name in LONG_RUNNING:
        program = smoke.programs[name]

        def up(program: Program = program) -> bool:
            check(
                program.process is not None and program.process.poll() is None,
                f"{program.service} exited:\n{program.tail()}",
            )
            return http("GET", program.env["HEALTHCHECK_URL"])[0] == 200

        wait_for(f"{name} on {program.env['HEALTHCHECK_URL']}", up, 120)
        healthcheck(program)


def run_one_job_of_each_kind(smoke: Smoke, key: str) -> None:
    """A parse, a complete and an embed job over HTTP: each succeeds, charged once."""
    jobs: dict[str, dict[str, Any]] = {
        "parse": {"text": "a todo app with Stripe and Google login"},
        "complete": {"messages": [{"role": "user", "content": "say hello"}], "max_tokens": 32},
        "embed": {"texts": ["a todo app", "billing with Stripe"]},
    }
    for kind, job_input in jobs.items():
        started = time.monotonic()
        job = submit_and_wait(smoke, key, kind, job_input)
        cost = check_charged_once(smoke, job)
        elapsed = time.monotonic() - started
        say(f"{kind}: succeeded in {elapsed:.1f}s, {job.get('model')}, cost {cost} in the ledger")


def scrape_every_program(smoke: Smoke) -> None:
    """/metrics of the API, each worker (counting the job it ran) and beat."""
    scrape(smoke.programs["api"], "grump_jobs_submitted_total")
    for name, kind in (
        ("worker-cpu", "parse"),
        ("worker-llm", "complete"),
        ("worker-gpu", "embed"),
    ):
        sample = f'grump_jobs_finished_total{{kind="{kind}",'
        scrape(smoke.programs[name], "grump_jobs_finished_total", sample)
    scrape(smoke.programs["beat"], "grump_beat_heartbeat_timestamp_seconds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tag", default=os.environ.get("GRUMP_IMAGE_TAG", "latest"))
    parser.add_argument("--logs", default="build/images/smoke")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "GRUMP_SMOKE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a database URL whose user may create databases; the run makes and drops its own",
    )
    parser.add_argument("--redis", default=os.environ.get("GRUMP_SMOKE_REDIS", "127.0.0.1:6379"))
    parser.add_argument(
        "--redis-dbs",
        default=os.environ.get("GRUMP_SMOKE_REDIS_DBS", "9,10"),
        help="two Redis db numbers of the run's own (broker, cache); flushed before and after",
    )
    args = parser.parse_args()
    logs = ROOT / args.logs
    logs.mkdir(parents=True, exist_ok=True)
    for old in [*logs.glob("*.log"), *logs.glob("*.metrics")]:
        old.unlink()
    broker, cache = (int(n) for n in args.redis_dbs.split(","))
    smoke = Smoke(
        Image.inspect(f"grump:{args.tag}"),
        Image.inspect(f"grump-gpu:{args.tag}"),
        logs,
        args.postgres,
        args.redis,
        (broker, cache),
    )
    started = time.monotonic()
    try:
        run(smoke)
    except (SmokeFailed, subprocess.TimeoutExpired) as exc:
        print(f"smoke: FAILED: {exc}", file=sys.stderr)
        for program in smoke.programs.values():
            print(f"--- {program.service} ({program.logs})\n{program.tail()}", file=sys.stderr)
        # To look at the programs before they stop: GRUMP_SMOKE_HOLD_SECONDS.
        time.sleep(float(os.environ.get("GRUMP_SMOKE_HOLD_SECONDS", "0")))
        return 1
    finally:
        smoke.teardown()
    say(f"passed in {time.monotonic() - started:.0f}s; logs in {logs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
