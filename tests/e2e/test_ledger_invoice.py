"""The ledger equals the providers' invoice: every kind of call, through the real programs.

The loopback NIM and Anthropic run as processes and bill every call they serve
at list prices (``tests.fakes.invoice``). grump (API, an llm worker, a cpu
worker and beat, on the real Redis and Postgres) runs a mix of traffic one case
at a time: plain calls, streamed ones, prompt-cache writes and reads (the
client's breakpoints, 5-minute and 1-hour, and grump's own), a Message Batch at
half price, a stream its caller left (``GRUMP_STREAM_ON_DISCONNECT=cancel``), and
a call whose worker was SIGKILLed mid-call and which ran again. Each case's
recorded spend (its cost events) must be within 0.1% of what the fakes billed
for it, and so must the total.

The killed call is the one the ledger cannot know: the provider billed the
call the dead worker never heard back from, and grump records the job once, at
the price of the call that answered it (README, "The ledger and the invoice").
So that case asserts the gap is exactly the lost call, and that the job's row
says it ran twice, which is how an operator finds it on the invoice.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from tests.e2e.conftest import Programs, wait_ready
from tests.fakes.server import Step, slow
from tests.servers import _wait_port
from tests.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PREMIUM = "claude-sonnet-4-5"
ECONOMY = "moonshotai/kimi-k2.5"
TOLERANCE = Decimal("0.001")
FINAL = ("succeeded", "failed", "cancelled", "rejected")
# A system prompt past Claude's 1,024-token minimum (the fakes count words).
LONG = " ".join(f"rule{i} keep diffs small and tests green" for i in range(200))


class Fake:
    """A fake provider run as a program (``python -m tests.fakes.<module>``), read over HTTP."""

    def __init__(self, module: str, logs: Path, *args: str) -> None:
        self.port = free_port()
        self._log = open(logs / f"{module.rsplit('.', 1)[-1]}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(self.port), *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not _wait_port(self.port, 15):
            raise AssertionError(f"{module} did not start")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def charges(self) -> list[dict[str, Any]]:
        charges: list[dict[str, Any]] = self.http.get("/_fake/invoice").json()["charges"]
        return charges

    def requests(self) -> int:
        return int(self.http.get("/_fake/requests").json()["count"])

    def script(self, *steps: Step) -> None:
        self.http.post("/_fake/script", json=[s.to_json() for s in steps]).raise_for_status()

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


@dataclass
class Grump:
    """The programs, the fakes behind them and the ledger they write."""

    programs: Programs
    nim: Fake
    anthropic: Fake
    engine: Engine
    http: httpx.Client
    worker: subprocess.Popen[bytes]

    def invoice_lines(self) -> tuple[int, int]:
        """How many lines each fake's invoice has: (NIM, Anthropic)."""
        return len(self.nim.charges()), len(self.anthropic.charges())

    def invoice_since(self, seen: tuple[int, int]) -> list[dict[str, Any]]:
        """The lines billed since ``invoice_lines`` said ``seen``."""
        return self.nim.charges()[seen[0] :] + self.anthropic.charges()[seen[1] :]

    def recorded(self) -> Decimal:
        with self.engine.connect() as connection:
            total = connection.scalar(select(func.coalesce(func.sum(CostEvent.cost), 0)))
        return Decimal(total)

    def submit(self, body: dict[str, Any], deadline: str | None = None) -> uuid.UUID:
        job: dict[str, Any] = {"kind": "complete", "input": body}
        if deadline is not None:
            job["deadline"] = deadline
        answer = self.http.post("/v1/jobs", json=job)
        assert answer.status_code == 202, answer.text
        return uuid.UUID(answer.json()["id"])

    def wait_final(self, ids: list[uuid.UUID], timeout: float = 30) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(select(Job.id, Job.status).where(Job.id.in_(ids))).all()
            statuses = {str(job_id): str(status) for job_id, status in rows}
            if len(statuses) == len(ids) and all(s in FINAL for s in statuses.values()):
                return statuses
            assert time.monotonic() < deadline, (statuses, self.programs.log_text())
            time.sleep(0.1)


@pytest.fixture
def grump(programs: Programs, tmp_path: Path) -> Iterator[Grump]:
    nim = Fake("tests.fakes.nim", tmp_path, "--latency-ms", "20")
    anthropic = Fake("tests.fakes.anthropic", tmp_path, "--latency-ms", "30")
    env = programs.env
    env.update(
        {
            "GRUMP_NIM_URL": f"http://127.0.0.1:{nim.port}/v1",
            "GRUMP_ANTHROPIC_URL": f"http://127.0.0.1:{anthropic.port}",
            "GRUMP_ANTHROPIC_API_KEY": "test-key",
            "GRUMP_CACHE_ENABLED": "false",  # every job a provider call: this is about billing
            "GRUMP_STREAM_ON_DISCONNECT": "cancel",
            "GRUMP_BATCH_INTERVAL_SECONDS": "1",  # beat drives the batch within the test's time
            "GRUMP_LLM_CONCURRENCY": "8",
        }
    )
    programs.run("migrate")
    key = programs.run("keys", "create", "--tenant", "acme").strip()
    programs.start("api", name="api")
    worker = programs.start("worker", "--tier", "llm", name="worker-llm")
    programs.start("worker", "--tier", "cpu", name="worker-cpu")
    programs.start("beat", name="beat")
    wait_ready(env["GRUMP_API_URL"], timeout=30)
    engine = create_engine(env["GRUMP_DATABASE_URL"])
    http = httpx.Client(
        base_url=env["GRUMP_API_URL"], headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    try:
        yield Grump(programs, nim, anthropic, engine, http, worker)
    finally:
        http.close()
        engine.dispose()
        programs.stop_all()
        nim.close()
        anthropic.close()


def _body(model: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 40,
        **extra,
    }


def _with_system(model: str, system: Any, text: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
        "max_tokens": 40,
    }


def _marked(text: str, ttl: str | None = None) -> list[dict[str, Any]]:
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return [{"type": "text", "text": text, "cache_control": control}]


def _plain(grump: Grump, tag: str) -> list[uuid.UUID]:
    return [
        grump.submit(_body(m, f"{tag} plain {m} {i}")) for m in (ECONOMY, PREMIUM) for i in range(3)
    ]


def _streamed(grump: Grump, tag: str) -> list[uuid.UUID]:
    return [
        grump.submit(_body(m, f"{tag} streamed {m} {i}", stream=True))
        for m in (ECONOMY, PREMIUM)
        for i in range(2)
    ]


def _cached(grump: Grump, tag: str) -> list[uuid.UUID]:
    """A client's 5-minute and 1-hour breakpoints, and a prefix grump marks itself."""
    ids: list[uuid.UUID] = []
    for system in (
        _marked(f"{tag} five {LONG}"),
        _marked(f"{tag} hour {LONG}", "1h"),
        f"{tag} bare {LONG}",
    ):
        for turn in range(3):  # the first writes the prefix, the others read it
            ids.append(grump.submit(_with_system(PREMIUM, system, f"{tag} turn {turn}")))
            grump.wait_final(ids[-1:])
    return ids


def _batched(grump: Grump, tag: str) -> list[uuid.UUID]:
    system = _marked(f"{tag} batch {LONG}")
    return [
        grump.submit(_with_system(PREMIUM, system, f"{tag} review {i}"), "PT6H") for i in range(3)
    ]


def _cancelled(grump: Grump, tag: str) -> list[uuid.UUID]:
    """A streamed Claude answer whose caller leaves after its first words."""
    grump.anthropic.script(Step(gap_ms=100))  # a slow stream: the caller leaves mid-way
    words = " ".join(f"word{i}" for i in range(30))
    body = _with_system(PREMIUM, _marked(f"{tag} cancel {LONG}"), f"{tag} {words}")
    with grump.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as answer:
        assert answer.status_code == 200
        job_id = uuid.UUID(answer.headers["x-grump-job-id"])
        for line in answer.iter_lines():
            if '"content"' in line and "word" in line:
                break  # the caller goes, the stream half sent
    return [job_id]


def _killed(grump: Grump, tag: str) -> list[uuid.UUID]:
    """A call in flight when its worker is SIGKILLed; the job runs again on a new worker."""
    before = grump.anthropic.requests()
    grump.anthropic.script(slow(3000))
    ids = [grump.submit(_body(PREMIUM, f"{tag} killed"))]
    deadline = time.monotonic() + 20
    while grump.anthropic.requests() == before:
        assert time.monotonic() < deadline, grump.programs.log_text()
        time.sleep(0.05)
    grump.programs.kill(grump.worker)
    grump.worker = grump.programs.start("worker", "--tier", "llm", name="worker-llm")
    return ids


CASES = {
    "plain": _plain,
    "streamed": _streamed,
    "cached": _cached,
    "batched": _batched,
    "cancelled": _cancelled,
    "killed": _killed,
}


def _billed(
    grump: Grump, seen: tuple[int, int], calls: int, timeout: float = 15
) -> list[dict[str, Any]]:
    """The invoice lines since ``seen``, once there are ``calls`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = grump.invoice_since(seen)
        if len(lines) >= calls or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def _within(recorded: Decimal, billed: Decimal) -> bool:
    return billed > 0 and abs(recorded - billed) <= TOLERANCE * billed


def test_recorded_spend_equals_the_providers_invoice_case_by_case(grump: Grump) -> None:
    figures: dict[str, tuple[Decimal, Decimal]] = {}
    lost = Decimal(0)
    for name, run in CASES.items():
        seen, recorded_before = grump.invoice_lines(), grump.recorded()
        ids = run(grump, f"{name}-{uuid.uuid4().hex[:6]}")
        statuses = grump.wait_final(ids, timeout=45)
        calls = len(ids) + (1 if name == "killed" else 0)
        lines = _billed(grump, seen, calls)
        billed = sum((Decimal(line["cost"]) for line in lines), Decimal(0))
        recorded = grump.recorded() - recorded_before
        figures[name] = (recorded, billed)
        print(f"{name:10} recorded ${recorded:.6f}  billed ${billed:.6f}  {statuses}")
        assert len(lines) == calls, (name, lines)
        if name == "cancelled":
            assert set(statuses.values()) == {"cancelled"} and lines[0]["cancelled"], lines
        elif name == "batched":
            assert all(line["batched"] for line in lines), lines
        if name == "killed":
            # Both calls were billed; the job, answered once, is recorded at the call that answered.
            assert set(statuses.values()) == {"succeeded"}
            with grump.engine.connect() as connection:
                attempts = connection.scalar(select(Job.attempts).where(Job.id == ids[0]))
            assert attempts == 2
            answered = [Decimal(line["cost"]) for line in lines]
            assert any(_within(recorded, cost) for cost in answered), (recorded, answered)
            lost = billed - recorded
            continue
        assert set(statuses.values()) <= {"succeeded", "cancelled"}, statuses
        with grump.engine.connect() as connection:
            events = connection.execute(
                select(
                    CostEvent.model,
                    CostEvent.tokens_in,
                    CostEvent.tokens_out,
                    CostEvent.tokens_cache_read,
                    CostEvent.tokens_cache_write,
                    CostEvent.cost,
                ).where(CostEvent.job_id.in_(ids))
            ).all()
        assert _within(recorded, billed), (name, recorded, billed, lines, events)
    recorded_total = sum((r for r, _ in figures.values()), Decimal(0))
    billed_total = sum((b for _, b in figures.values()), Decimal(0))
    print(
        f"total      recorded ${recorded_total:.6f}  billed ${billed_total:.6f}  lost ${lost:.6f}"
    )
    assert _within(recorded_total + lost, billed_total)
    assert _within(recorded_total, billed_total - lost)
