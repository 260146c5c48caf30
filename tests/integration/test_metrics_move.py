"""Every metric an alert or a dashboard panel reads moves when the code behind it runs.

The metric names are read from ``deploy/prometheus/alerts.yml`` and the Grafana
dashboard, not listed here: each must have a driver below, which runs the real
path that produces it (a submit through the API, a job through Celery on Redis
to the loopback provider fakes, a beat task through the broker). The test
scrapes the API's real /metrics before and after, and the series must change.
An alert or panel on a metric that nothing here drives fails the test: it
could never fire or show anything.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from grump.celery.queues import MAINTENANCE_QUEUE
from grump.celery.task_names import CHECK_BUDGETS_TASK, REQUEUE_STUCK_TASK
from grump.errors import ProviderTransient
from grump.ledger.db import session_scope, utcnow
from grump.money import budgets
from grump.money.budget_math import Period
from grump.runtime import Runtime
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import FakeNim
from tests.fakes.server import malformed, rate_limited, server_error, slow
from tests.integration.completions_support import Stack, complete, fakes, with_fakes
from tests.integration.money_fixtures import money_ledger  # noqa: F401
from tests.ops.support import (
    HISTOGRAM_SUFFIXES,
    HISTOGRAMS,
    METRIC_NAMES,
    REPO_ROOT,
    load_yaml,
    promql_metric_names,
)
from tests.services import free_port

pytestmark = pytest.mark.integration

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "grump-dashboard.json"
FAKE_NVML = Path(__file__).resolve().parents[1] / "fakes" / "nvml" / "pynvml.py"
ECONOMY, PREMIUM = "moonshotai/kimi-k2.5", "claude-sonnet-4-5"
HARD = (
    "Design the architecture of a distributed system, refactor the concurrency model, "
    "prove the trade-off and debug it"
)
# The fake NVML's two devices: a new reading each time, so that one gauge, set
# again in the same test process, still changes.
GPU_READINGS = (f"{10 + n},{30 + n}" for n in itertools.count(start=7, step=3))
# Only the timeout driver waits this out. What is tested is that a read timeout is
# counted as status="timeout", which does not depend on how long the timeout is.
READ_TIMEOUT_SECONDS = 2.0


def family_of(series: str) -> str:
    """The metric a series name belongs to: a histogram's _bucket/_sum/_count are its own."""
    for histogram in HISTOGRAMS:
        if series in {histogram + suffix for suffix in HISTOGRAM_SUFFIXES}:
            return histogram
    return series


def metrics_read_by_alerts_and_panels() -> dict[str, list[str]]:
    """Metric -> the alerts and panels that read it."""
    readers: dict[str, list[str]] = {}
    for group in load_yaml(ALERTS)["groups"]:
        for rule in group["rules"]:
            for name in promql_metric_names(rule["expr"]):
                readers.setdefault(family_of(name), []).append(f"alert {rule['alert']}")
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            for name in promql_metric_names(target["expr"]):
                readers.setdefault(family_of(name), []).append(f"panel {panel['title']!r}")
    return readers


READERS = metrics_read_by_alerts_and_panels()


# --- what the test watches -------------------------------------------------------

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack) -> str:
    response = stack.client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def samples_of(exposition: str, family: str, labels: Mapping[str, str]) -> Samples:
    """The samples of ``family`` whose labels include ``labels``."""
    names = {family + suffix for suffix in HISTOGRAM_SUFFIXES} if family in HISTOGRAMS else {family}
    found: Samples = {}
    for parsed in text_string_to_metric_families(exposition):
        for sample in parsed.samples:
            if sample.name in names and labels.items() <= sample.labels.items():
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


# --- the world the drivers act in ------------------------------------------------


@dataclass
class World:
    """The API over Redis and Postgres, the provider fakes, and Celery workers on demand."""

    stack: Stack
    nim: FakeNim
    anthropic: FakeAnthropic
    monkeypatch: pytest.MonkeyPatch

    @property
    def runtime(self) -> Runtime:
        return self.stack.runtime


@pytest.fixture
def world(
    money_ledger: str,  # noqa: F811 (a budget driver leaves budgets: emptied before and after)
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    base = Settings.model_validate(
        {
            "broker_url": redis_url,
            "redis_url": redis_url,
            "database_url": money_ledger,
            "data_dir": tmp_path / "grump",
            "retry_after_seconds": 7,
        }
    )
    with fakes() as (nim, anthropic):
        settings = with_fakes(base, nim, anthropic, provider_timeout_seconds=READ_TIMEOUT_SECONDS)
        stack = Stack(settings)
        try:
            yield World(stack, nim, anthropic, monkeypatch)
        finally:
            stack.close()


# --- drivers: the real path behind each metric -----------------------------------


def run_jobs_that_succeed_and_fail(world: World) -> None:
    """An economy job that succeeds and one whose answer is malformed, so it fails."""
    world.nim.script(malformed())
    with world.stack.worker():
        assert world.stack.run(complete("hello garbage"))["status"] == "failed"
        assert world.stack.run(complete("say hello to the team"))["status"] == "succeeded"


def run_the_same_job_twice(world: World) -> None:
    """The second run is answered by the completion cache: a hit, and money saved."""
    with world.stack.worker():
        first = world.stack.run(complete("what is a cache"))
        second = world.stack.run(complete("what is a cache"))
    assert (first["status"], second["status"]) == ("succeeded", "succeeded")
    assert world.nim.call_count == 1


def reread_a_cached_claude_prefix(world: World) -> None:
    """Two Claude calls sharing a long system prompt: the second reads it from the prompt cache."""
    system = "You review code for a payments team. " + "Be exact about money. " * 300
    with world.stack.worker():
        for question in ("first question", "second question"):
            body = complete(question, model=PREMIUM)
            body["input"]["messages"].insert(0, {"role": "system", "content": system})
            assert world.stack.run(body)["status"] == "succeeded"
    assert world.anthropic.call_count == 2


def submit_a_job_no_worker_takes(world: World) -> None:
    """Waiting in the parse queue: no worker runs, /metrics reads the broker."""
    world.stack.submit({"kind": "parse", "input": {"text": "a todo app"}})


def submit_complete_jobs(world: World) -> None:
    """Accepted, routed and scored; no worker needs to run them."""
    world.stack.submit(complete("say hi"))
    world.stack.submit(complete(HARD))


def run_an_embed_job_on_a_gpu_reading(world: World) -> None:
    """An embed job through the gpu path, with NVML answering.

    There is no GPU here, so NVML's Python binding is replaced by the fake in
    tests/fakes/nvml: this is the one seam, at the NVML boundary. Everything
    from the provider call to the gauge in the registry /metrics serves is
    grump's own code.
    """
    world.monkeypatch.setenv("FAKE_NVML_UTILIZATION", next(GPU_READINGS))
    install_fake_nvml(world.monkeypatch)
    body = {"kind": "embed", "input": {"texts": ["one text", "another text"], "dimensions": 64}}
    with world.stack.worker():
        assert world.stack.run(body)["status"] == "succeeded"


def install_fake_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import pynvml`` gives tests/fakes/nvml/pynvml.py until the test ends."""
    spec = importlib.util.spec_from_file_location("pynvml", FAKE_NVML)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pynvml", module)
    spec.loader.exec_module(module)


def cross_a_budget_alert_threshold(world: World) -> None:
    """A daily budget alerting at 0.0001% of 1 USD; one job crosses it; beat's check runs."""
    with session_scope(world.runtime.sessions) as session:
        budgets.set_budget(
            session, "acme", None, Period.DAILY, Decimal(1), Decimal("0.000001"), utcnow()
        )
    with world.stack.worker():
        assert world.stack.run(complete("spend a little"))["status"] == "succeeded"
        world.stack.celery.send_task(CHECK_BUDGETS_TASK, queue=MAINTENANCE_QUEUE)
        wait_a_moment_for_the_worker()


def run_a_beat_task(world: World) -> None:
    """What beat sends every minute, through the broker to a worker."""
    with world.stack.worker():
        world.stack.celery.send_task(REQUEUE_STUCK_TASK, queue=MAINTENANCE_QUEUE)
        wait_a_moment_for_the_worker()


def wait_a_moment_for_the_worker(seconds: float = 3.0) -> None:
    """Tasks sent without a result backend: the worker is given time before it stops."""
    time.sleep(seconds)


def fail_provider_calls(world: World) -> None:
    """5xx, 429, read timeouts and a malformed answer through jobs; a refused connection."""
    nim, anthropic = world.nim, world.anthropic
    with world.stack.worker():
        nim.script(server_error("nim"), server_error("nim"))  # both tries: falls back
        assert world.stack.run(complete("nim is down"))["status"] == "succeeded"
        nim.script(rate_limited("nim", retry_after="0"))  # retried, then succeeds
        assert world.stack.run(complete("nim throttles"))["status"] == "succeeded"
        slow_answer = READ_TIMEOUT_SECONDS * 1000 + 1500
        nim.script(slow(slow_answer), slow(slow_answer))
        hanging = world.stack.submit(complete("nim hangs"))
        assert world.stack.wait(str(hanging["id"]), timeout=60)["status"] == "succeeded"
        nim.script(malformed())
        assert world.stack.run(complete("nim babbles"))["status"] == "failed"
        anthropic.script(server_error("anthropic", 529))
        assert world.stack.run(complete(HARD))["status"] == "succeeded"
    # Nothing listens on a fresh free port: the connection is refused.
    dead = Settings.model_validate(
        {**world.stack.settings.model_dump(), "nim_url": f"http://127.0.0.1:{free_port()}"}
    )
    runtime = Runtime(dead)
    try:
        request = chat_request(ECONOMY, ("user", "anyone there?"), max_tokens=5)
        with pytest.raises(ProviderTransient):
            runtime.chat(ECONOMY).complete(request)
    finally:
        runtime.dispose()


@dataclass(frozen=True)
class Driver:
    """What to run, and the series (by labels) that must each change because of it."""

    run: Callable[[World], None]
    watch: tuple[Mapping[str, str], ...] = ({},)


DRIVERS: dict[str, Driver] = {
    "llm_cost_usd_total": Driver(
        run_jobs_that_succeed_and_fail,
        ({"model": ECONOMY, "tier": "economy", "kind": "complete"},),
    ),
    "llm_cost_per_request_usd": Driver(
        run_jobs_that_succeed_and_fail, ({"tier": "economy", "kind": "complete"},)
    ),
    "grump_jobs_finished_total": Driver(
        run_jobs_that_succeed_and_fail,
        (
            {"kind": "complete", "tier": "economy", "outcome": "succeeded"},
            {"kind": "complete", "tier": "economy", "outcome": "failed"},
        ),
    ),
    "grump_job_latency_seconds": Driver(
        run_jobs_that_succeed_and_fail, ({"kind": "complete", "tier": "economy"},)
    ),
    "model_routing_savings_usd_total": Driver(
        run_jobs_that_succeed_and_fail, ({"model": ECONOMY, "tier": "economy"},)
    ),
    "cache_savings_usd_total": Driver(run_the_same_job_twice, ({"kind": "complete"},)),
    "tiered_cache_hits_total": Driver(run_the_same_job_twice, ({"kind": "complete"},)),
    "provider_cache_savings_usd_total": Driver(
        reread_a_cached_claude_prefix, ({"model": PREMIUM},)
    ),
    "worker_queue_depth": Driver(submit_a_job_no_worker_takes, ({"queue": "parse"},)),
    "task_complexity_score": Driver(submit_complete_jobs, ({"kind": "complete"},)),
    "grump_jobs_submitted_total": Driver(
        submit_complete_jobs,
        ({"kind": "complete", "tier": "economy"}, {"kind": "complete", "tier": "premium"}),
    ),
    "batch_processing_requests_total": Driver(run_an_embed_job_on_a_gpu_reading),
    "gpu_utilization_percent": Driver(run_an_embed_job_on_a_gpu_reading),
    "grump_budget_alerts_total": Driver(cross_a_budget_alert_threshold, ({"period": "daily"},)),
    "grump_beat_heartbeat_timestamp_seconds": Driver(run_a_beat_task),
    "grump_provider_errors_total": Driver(
        fail_provider_calls,
        (
            {"provider": "nim", "status": "500"},
            {"provider": "nim", "status": "429"},
            {"provider": "nim", "status": "timeout"},
            {"provider": "nim", "status": "malformed"},
            {"provider": "nim", "status": "connection"},
            {"provider": "anthropic", "status": "529"},
        ),
    ),
}


# --- the tests -------------------------------------------------------------------


def test_every_metric_an_alert_or_panel_reads_has_a_driver() -> None:
    """Needs no service, so it fails even where the driven tests skip."""
    assert READERS, "no metric found in the alerts or the dashboard"
    missing = {name: READERS[name] for name in sorted(set(READERS) - set(DRIVERS))}
    assert not missing, f"read by alerts or panels, driven by nothing in this test: {missing}"
    # The drivers are named as tests/ops names the metrics alerts and panels may use.
    assert set(DRIVERS) <= METRIC_NAMES, sorted(set(DRIVERS) - METRIC_NAMES)


@pytest.mark.parametrize("metric", sorted(READERS))
def test_the_metric_moves_when_its_code_path_runs(metric: str, world: World) -> None:
    driver = DRIVERS.get(metric)
    if driver is None:
        pytest.fail(f"{metric} is read by {READERS[metric]} and nothing drives it")
    before = scrape(world.stack)
    driver.run(world)
    unchanged = [labels for labels in driver.watch if not changes(world, metric, labels, before)]
    assert not unchanged, f"{metric}: no series with labels {unchanged} changed"


def changes(world: World, metric: str, labels: Mapping[str, str], before: str) -> bool:
    """Whether the series moved; a job's metrics are counted just after its row is final."""
    old = samples_of(before, metric, labels)
    deadline = time.monotonic() + 10
    while True:
        new = samples_of(scrape(world.stack), metric, labels)
        if new and new != old:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_the_gpu_workers_own_metrics_endpoint_exports_the_nvml_reading(world: World) -> None:
    """`grump worker --tier gpu` as a program: its /metrics (not the API's) shows the reading.

    The worker finds tests/fakes/nvml/pynvml.py first on its path: NVML is
    replaced, as in the driver above, and nothing else.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
    settings = world.stack.settings
    env.update(
        {
            "GRUMP_BROKER_URL": str(settings.broker_url),
            "GRUMP_REDIS_URL": str(settings.redis_url),
            "GRUMP_DATABASE_URL": str(settings.database_url),
            "GRUMP_DATA_DIR": str(settings.data_dir),
            "GRUMP_NIM_URL": world.nim.url,
            "GRUMP_METRICS_PORT": str(port),
            "PYTHONPATH": os.pathsep.join([str(FAKE_NVML.parent), str(REPO_ROOT)]),
            "FAKE_NVML_UTILIZATION": "55,65",
        }
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = (settings.data_dir / "worker-gpu.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "grump.cli", "worker", "--tier", "gpu"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        first = worker_metrics(port, worker, log.name)
        assert "gpu_utilization_percent" not in first  # no call yet, so no reading
        body = {"kind": "embed", "input": {"texts": ["a text for the gpu"], "dimensions": 64}}
        job = world.stack.wait(str(world.stack.submit(body)["id"]), timeout=60)
        assert job["status"] == "succeeded", job
        deadline = time.monotonic() + 10
        while "gpu_utilization_percent 60.0" not in worker_metrics(port, worker, log.name):
            assert time.monotonic() < deadline, worker_metrics(port, worker, log.name)
            time.sleep(0.1)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)
        log.close()


def worker_metrics(port: int, worker: subprocess.Popen[bytes], log: str) -> str:
    """The worker's /metrics, waiting up to 30 s for it to start serving."""
    deadline = time.monotonic() + 30
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            response.raise_for_status()
            return response.text
        except httpx.HTTPError:
            alive = worker.poll() is None
            if not alive or time.monotonic() > deadline:
                raise AssertionError(
                    f"the gpu worker serves no /metrics: {Path(log).read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)
