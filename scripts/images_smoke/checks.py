"""What the smoke run checks: image contents, jobs and the ledger, metrics, health, SIGTERM."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

from .common import check, http, say, sh, wait_for
from .containers import Image, Program, mounted
from .stack import Smoke

GRUMP_UID = "10001"

COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "tcc", "x86_64-linux-gnu-gcc", "cc1")


def check_image_contents(image: Image) -> None:
    """Non-root, tini and grump, no compiler, no tests or sources; prints its size."""
    user = str(image.config.get("User", ""))
    check(user.split(":")[0] == GRUMP_UID, f"{image.name}: USER is {user!r}")
    check(image.config.get("Entrypoint") == ["tini", "--", "grump"], f"{image.name}: entrypoint")
    with mounted(image.name) as root:
        compilers = [
            str(path.relative_to(root))
            for directory in ("usr/bin", "usr/local/bin", "usr/lib/gcc", "opt/venv/bin")
            for path in (root / directory).rglob("*")
            if path.name in COMPILERS
        ]
        check(not compilers, f"{image.name}: compilers in the image: {compilers}")
        site = next((root / "opt/venv/lib").glob("python3*/site-packages"))
        strays = [p for p in ("src", "tests", "opt/venv/tests") if (root / p).exists()]
        strays += [str(p.relative_to(root)) for p in (site / "grump").rglob("test*")]
        strays += [str(p) for p in (site / "tests", site / "conftest.py") if p.exists()]
        record = next(site.glob("grump-*.dist-info")) / "RECORD"
        strays += [line for line in record.read_text().splitlines() if "tests/" in line]
        check(not strays, f"{image.name}: test files or sources in the image: {strays[:10]}")
        reports = root / "var/lib/grump/reports"
        check(
            str(reports.stat().st_uid) == GRUMP_UID,
            f"{image.name}: /var/lib/grump/reports is not the grump user's (beat mounts a volume there)",
        )
        unpacked = sh("du", "-sm", "--one-file-system", str(root)).split()[0]
    say(f"{image.name}: user {user}, no compiler, no tests; {image.size}, {unpacked} MB unpacked")


def check_image_runs(program: Program, gpu: bool) -> None:
    check(
        program.run("id", "-u").strip() == GRUMP_UID, f"{program.image.name}: not uid {GRUMP_UID}"
    )
    if gpu:
        # The gpu extra is installed; without a GPU the vector work runs on NumPy.
        module = program.run(
            "python",
            "-c",
            "import cupy, pynvml; from grump.vectors.device import array_module; "
            "print(array_module().__name__)",
        ).strip()
        check(module == "numpy", f"{program.image.name}: array module {module!r}, not numpy here")
        say(f"{program.image.name}: cupy and pynvml import; vectors run on {module}")
    else:
        parser = program.run("python", "-c", "import grump.intent.parser as p; print(p.__file__)")
        check(parser.strip().endswith(".so"), f"{program.image.name}: parser is {parser.strip()}")
        say(f"{program.image.name}: the intent parser is compiled ({parser.strip()})")


def submit_and_wait(
    smoke: Smoke, key: str, kind: str, job_input: dict[str, Any], timeout: float = 120
) -> dict[str, Any]:
    base = f"http://127.0.0.1:{smoke.api_port}"
    status, body = http("POST", f"{base}/v1/jobs", key, {"kind": kind, "input": job_input})
    check(status == 202, f"submit {kind}: {status} {body}")
    job_id = json.loads(body)["id"]

    def final() -> dict[str, Any] | None:
        status, body = http("GET", f"{base}/v1/jobs/{job_id}", key)
        job = json.loads(body)
        return job if status == 200 and job["status"] not in ("queued", "running") else None

    job = wait_for(f"{kind} job {job_id}", final, timeout)
    check(job["status"] == "succeeded", f"{kind} job {job_id}: {job}")
    return dict(job)


def submit_wait_existing(base: str, key: str, job_id: str) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        job = json.loads(http("GET", f"{base}/v1/jobs/{job_id}", key)[1])
        return job if job["status"] not in ("queued", "running") else None

    return dict(wait_for(f"job {job_id}", final, 120))


def check_charged_once(smoke: Smoke, job: dict[str, Any]) -> str:
    rows = smoke.psql(f"SELECT cost, kind FROM cost_events WHERE job_id = '{job['id']}'")
    check(len(rows) == 1, f"job {job['id']}: {len(rows)} cost events")
    check(
        Decimal(rows[0][0]) == Decimal(job["cost"]),
        f"job {job['id']}: ledger {rows[0][0]} API {job['cost']}",
    )
    return rows[0][0]


def scrape(program: Program, family: str, sample: str = "") -> None:
    port = (
        program.env["GRUMP_API_PORT"]
        if program.service == "api"
        else program.env["GRUMP_METRICS_PORT"]
    )
    status, text = http("GET", f"http://127.0.0.1:{port}/metrics")
    (program.logs.parent / f"{program.service}.metrics").write_text(text)
    check(status == 200, f"{program.service} /metrics: {status}")
    check(f"# TYPE {family}" in text, f"{program.service} /metrics has no {family}")
    if sample:
        check(
            any(line.startswith(sample) for line in text.splitlines()),
            f"{program.service} /metrics: no {sample}",
        )
    say(f"{program.service} /metrics: {family} {sample.partition('{')[2].rstrip(',')}")


def healthcheck(program: Program) -> None:
    test = program.image.healthcheck
    check(test[:1] == ["CMD"], f"{program.image.name}: healthcheck {test}")
    program.run(*test[1:], timeout=30)
    say(f"{program.service}: the image's healthcheck passes on {program.env['HEALTHCHECK_URL']}")


def sigterm_mid_job(smoke: Smoke, key: str, llm: Program, services: dict[str, Any]) -> None:
    """SIGTERM to the llm worker while it runs a job: nothing is lost, nothing charged twice."""
    base = f"http://127.0.0.1:{smoke.api_port}"
    messages = [{"role": "user", "content": f"name a colour ({uuid.uuid4().hex})"}]
    status, body = http(
        "POST",
        f"{base}/v1/jobs",
        key,
        {"kind": "complete", "input": {"messages": messages, "max_tokens": 32}},
    )
    check(status == 202, f"submit: {status} {body}")
    job_id = json.loads(body)["id"]

    def running() -> bool:
        return bool(
            json.loads(http("GET", f"{base}/v1/jobs/{job_id}", key)[1])["status"] == "running"
        )

    wait_for(f"job {job_id} to start", running, 60, every=0.1)
    started = time.monotonic()
    code = llm.terminate(timeout=90)
    check(code is not None, "the llm worker did not stop within 90s of SIGTERM")
    job = json.loads(http("GET", f"{base}/v1/jobs/{job_id}", key)[1])
    say(
        f"llm worker stopped {time.monotonic() - started:.1f}s after SIGTERM (exit {code}), job {job['status']}"
    )
    llm.remove()
    if job["status"] != "succeeded":
        # Handed back: a new worker must finish it.
        again = smoke.program("worker-llm-2", services["worker-llm"])
        again.start()
        job = submit_wait_existing(base, key, job_id)
    check(job["status"] == "succeeded", f"job {job_id} after SIGTERM: {job}")
    check_charged_once(smoke, job)
    say(f"SIGTERM mid-job: job {job_id} succeeded, charged once")
