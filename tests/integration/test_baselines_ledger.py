"""Both baselines and every saving's cause, filled in by real jobs: Postgres, Redis, the fakes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from grump.jobs.batches import drive_batches
from grump.ledger.db import utcnow
from grump.ledger.money_models import CostEvent
from grump.money.reports import ReportPeriod, render_csv, render_markdown
from grump.money.reports.build import build_report
from grump.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import FakeNim
from tests.integration.completions_support import Stack, complete, fakes, with_fakes

pytestmark = pytest.mark.integration
CLAUDE = "claude-sonnet-4-5"
KIMI = "moonshotai/kimi-k2.5"


@pytest.fixture
def providers() -> Iterator[tuple[FakeNim, FakeAnthropic]]:
    with fakes(latency_ms=300) as pair:
        yield pair


@pytest.fixture
def stack(real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]) -> Iterator[Stack]:
    built = Stack(with_fakes(real_settings, *providers))
    try:
        yield built
    finally:
        built.close()


def cached_session(question: str, model: str, tag: str, **extra: Any) -> dict[str, Any]:
    """A request whose client put its own breakpoint on a long system prompt (1,500 words)."""
    system = f"{tag} " + " ".join(f"rule{i} keep it tidy" for i in range(375))
    part = {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
    messages = [{"role": "system", "content": [part]}, {"role": "user", "content": question}]
    return {"kind": "complete", "input": {"messages": messages, "model": model, **extra}}


def event(stack: Stack, job: dict[str, Any]) -> CostEvent:
    [found] = stack.cost_events(job["id"])
    return found


def standard(stack: Stack, e: CostEvent) -> Decimal:
    price = stack.runtime.catalogue.price(CLAUDE)
    return price.cost(e.tokens_in, e.tokens_out, e.tokens_cache_read, e.tokens_cache_write)


def test_a_plain_job_goes_direct_uncached(stack: Stack) -> None:
    with stack.worker():
        job = stack.run(complete(f"rename this variable {uuid.uuid4().hex}"))
    e = event(stack, job)
    assert e.direct_baseline_cost == e.baseline_cost > e.cost
    assert (e.coalescing_savings, e.kept_off_llm) == (0, 0)


def test_premium_calls_with_the_clients_breakpoints_are_their_own_direct_bill(stack: Stack) -> None:
    tag = uuid.uuid4().hex
    with stack.worker():
        first = stack.run(cached_session("first question", CLAUDE, tag))
        streamed = stack.run(cached_session("second question", CLAUDE, tag, stream=True))
        hit = stack.run(cached_session("first question", CLAUDE, tag))
    written, read, replayed = (event(stack, j) for j in (first, streamed, hit))
    assert written.tokens_cache_write > 0 and read.tokens_cache_read > 0
    # Sent with the client's breakpoints as they came: going direct is billed the same.
    assert written.direct_baseline_cost == written.cost == standard(stack, written)
    uncached = stack.runtime.catalogue.price(CLAUDE).cost(written.tokens_in, written.tokens_out)
    assert written.direct_baseline_cost > uncached  # a first write costs 1.25x input
    assert read.direct_baseline_cost == read.cost < read.baseline_cost
    # grump's cache answered the repeat; going direct, it is a warm read of the prefix.
    assert replayed.cached and replayed.cost == 0
    assert 0 < replayed.direct_baseline_cost < replayed.baseline_cost == written.baseline_cost
    assert replayed.cache_savings == written.cost


def test_economy_calls_are_compared_with_the_estimated_direct_call(stack: Stack) -> None:
    tag = uuid.uuid4().hex
    with stack.worker():
        cold = event(stack, stack.run(cached_session("first question", KIMI, tag)))
        warm = event(stack, stack.run(cached_session("second question", KIMI, tag)))
    assert cold.tokens_cache_write == warm.tokens_cache_read == 0  # NIM has no prompt cache
    # Going direct, the first writes the client's prefix (1.25x), the next reads it (0.1x).
    assert cold.direct_baseline_cost > cold.baseline_cost
    assert warm.direct_baseline_cost < warm.baseline_cost
    # Economy's uncached input costs more than the warm premium read it replaced.
    assert warm.cost > warm.direct_baseline_cost


def test_a_joined_request_is_in_both_baselines_and_saved_by_coalescing(
    stack: Stack, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    nim, _ = providers
    body = complete(f"slow words {uuid.uuid4().hex}")
    with stack.worker():
        first = stack.submit(body)
        deadline = time.monotonic() + 10
        while nim.call_count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the provider call is under way: the job is running
        joined = stack.submit(body)
        done = stack.wait(first["id"])
    assert joined["id"] == first["id"] and joined["coalesced"]
    e = event(stack, done)
    per_request = Decimal(done["baseline_cost"])
    assert e.baseline_cost == e.direct_baseline_cost == 2 * per_request
    assert e.coalescing_savings == per_request
    assert e.baseline_cost - e.cost == e.coalescing_savings + e.routing_savings


def test_a_batched_job_goes_direct_at_standard_prices(stack: Stack) -> None:
    body = cached_session("review this diff", CLAUDE, uuid.uuid4().hex) | {"deadline": "PT6H"}
    job = stack.submit(body)
    assert drive_batches(stack.runtime, stack.celery).counts()["sent"] == 1
    assert drive_batches(stack.runtime, stack.celery).counts()["answered"] == 1
    e = event(stack, job)
    assert e.batch_savings > 0 and e.tokens_cache_write > 0
    assert e.direct_baseline_cost == standard(stack, e) == e.cost + e.batch_savings


def test_summary_and_report_show_both_baselines_and_every_cause(stack: Stack) -> None:
    tag = uuid.uuid4().hex
    with stack.worker():
        stack.run(cached_session("first question", CLAUDE, tag))
        stack.run(cached_session("first question", CLAUDE, tag))  # the exact cache's
        stack.run(complete(f"rename this variable {tag}"))
        stack.run({"kind": "parse", "input": {"text": f"A todo app with Stripe billing {tag}"}})
    events = stack.cost_events()
    answer = stack.client.get("/v1/costs/summary", headers={"Authorization": f"Bearer {stack.key}"})
    total = answer.json()["total"]
    for field in ("baseline_cost", "direct_baseline_cost", "kept_off_llm", "cache_savings"):
        assert Decimal(total[field]) == sum(getattr(e, field) for e in events), field
    assert Decimal(total["direct_savings"]) == Decimal(total["direct_baseline_cost"]) - Decimal(
        total["cost"]
    )
    causes = ("cache", "coalescing", "routing", "provider_cache", "batch")
    assert Decimal(total["savings"]) == sum(Decimal(total[f"{c}_savings"]) for c in causes)
    assert Decimal(total["kept_off_llm"]) > 0  # the parse job, outside both baselines
    parse = next(e for e in events if e.kind == "parse")
    assert parse.baseline_cost == parse.direct_baseline_cost == parse.cost
    assert parse.routing_savings == 0

    now = utcnow()
    with stack.runtime.sessions() as session:
        report = build_report(session, "acme", ReportPeriod.DAY, now, now)
    assert report.totals.direct_baseline == Decimal(total["direct_baseline_cost"])
    text = render_markdown(report)
    for line in (
        "Baseline (premium model, no cache)",
        "Baseline (direct, the clients' own cache breakpoints)",
        "Saved by the exact cache",
        "Saved by coalescing",
        "Saved by routing",
        "Saved by the provider's prompt cache",
        "Saved by the batch discount",
        "Saved against going direct",
        "Work kept off the LLM",
    ):
        assert f"| {line}" in text, line
    assert "against going direct with the clients' own cache breakpoints" in text
    header = render_csv(report).splitlines()[0].split(",")
    assert {"direct_baseline", "coalescing_savings", "batch_savings", "kept_off_llm"} <= set(header)
