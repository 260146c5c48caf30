"""Deferred jobs through the fake's Message Batches, on real Postgres and Redis.

Beat's pass (``drive_batches``) is called directly, as beat's task would call it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from grump.jobs.batches import drive_batches
from grump.jobs.models import CompleteInput
from grump.ledger.db import make_engine, session_scope, utcnow
from grump.ledger.models import Job, MessageBatch
from grump.money.budget_math import Period
from grump.money.budgets import set_budget
from grump.providers.anthropic_batches import AnthropicBatches
from grump.routing.pricing import estimate_max_cost
from grump.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.anthropic_batches import BATCH_SHARE
from tests.fakes.nim import FakeNim
from tests.integration.completions_support import Stack, complete, fakes, with_fakes

pytestmark = pytest.mark.integration
CLAUDE = "claude-sonnet-4-5"
HARD = (
    "Design the architecture of a distributed system, refactor the concurrency model, "
    "prove the trade-off and debug it"
)


@pytest.fixture
def providers() -> Iterator[tuple[FakeNim, FakeAnthropic]]:
    with fakes() as pair:
        yield pair


def _forget_batches_and_budgets(url: str) -> None:
    """What clean_ledger leaves behind: batch rows, and budgets (later tests must not meet them)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE message_batches, budgets CASCADE"))
    engine.dispose()


@pytest.fixture
def stack(real_settings: Settings, providers: tuple[FakeNim, FakeAnthropic]) -> Iterator[Stack]:
    nim, anthropic = providers
    url = real_settings.database_url or ""
    _forget_batches_and_budgets(url)
    built = Stack(with_fakes(real_settings, nim, anthropic, defer_priority_zero_tenants="acme"))
    try:
        yield built
    finally:
        built.close()
        _forget_batches_and_budgets(url)


def _deferred(content: str = HARD, deadline: str | None = "PT6H", **extra: Any) -> dict[str, Any]:
    body = complete(content, max_tokens=40, **extra)
    return body | ({"deadline": deadline} if deadline else {})


def _job(stack: Stack, job_id: str) -> Job:
    with stack.runtime.sessions() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        return job


def _pass(stack: Stack, **kwargs: Any) -> dict[str, int]:
    return drive_batches(stack.runtime, stack.celery, **kwargs).counts()


def test_a_deferred_job_is_batched_answered_once_and_priced_at_half(
    stack: Stack, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    _, anthropic = providers
    anthropic.batches.polls_to_end = 1  # the batch takes a while: one poll still in progress
    submitted = stack.submit(_deferred())
    ordinary = stack.submit(complete(HARD, max_tokens=40, temperature=0.5))
    assert submitted["status"] == "queued" and submitted["model"] == CLAUDE
    job = _job(stack, submitted["id"])
    assert job.defer_until is not None and job.batch_id is None and job.queue == "deferred"
    # Held at the batch price: half of what the same request holds as an ordinary job.
    assert job.reserved_cost == _job(stack, ordinary["id"]).reserved_cost * BATCH_SHARE
    assert _pass(stack)["sent"] == 1
    assert anthropic.call_count == 1  # the create; no /v1/messages call
    sent = anthropic.requests[0].body["requests"]
    assert [r["custom_id"] for r in sent] == [submitted["id"]]
    assert sent[0]["params"]["model"] == CLAUDE and sent[0]["params"]["max_tokens"] == 40
    assert _pass(stack)["answered"] == 0  # in progress
    assert _pass(stack)["answered"] == 1
    assert _pass(stack)["answered"] == 0  # recorded once
    done = stack.wait(submitted["id"])
    assert done["status"] == "succeeded"
    assert done["result"]["content"].startswith("echo: Design the architecture")
    usage = done["result"]["usage"]
    billed = anthropic.batches.bill[0]
    assert usage["prompt_tokens"] == billed["input_tokens"]
    assert usage["completion_tokens"] == billed["output_tokens"]
    price = stack.runtime.catalogue.price(CLAUDE)
    full = price.cost(billed["input_tokens"], billed["output_tokens"])
    [event] = stack.cost_events(submitted["id"])
    assert event.cost == Decimal(done["cost"]) == (full * BATCH_SHARE).quantize(event.cost)
    assert event.batch_savings == full - event.cost and event.routing_savings == 0
    assert done["routing"]["batch"]["discount"] == "0.50"
    summary = stack.client.get(
        "/v1/costs/summary", headers={"Authorization": f"Bearer {stack.key}"}
    ).json()["total"]
    assert Decimal(summary["batch_savings"]) == event.batch_savings > 0
    with stack.runtime.sessions() as session:
        [batch] = session.scalars(select(MessageBatch)).all()
    assert batch.state == "ended" and batch.provider_batch_id == anthropic.batches.created[0]


class _CrashAfterCreate(AnthropicBatches):
    """The provider creates the batch; the process dies before grump records its id."""

    def create(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        super().create(requests)
        raise SystemExit("killed between the create and its commit")


def test_a_crash_between_create_and_commit_does_not_submit_twice(
    stack: Stack, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    _, anthropic = providers
    submitted = stack.submit(_deferred())
    crashing = _CrashAfterCreate(stack.settings)
    with pytest.raises(SystemExit):
        drive_batches(stack.runtime, stack.celery, client=crashing)
    crashing.close()
    assert len(anthropic.batches.created) == 1
    assert _job(stack, submitted["id"]).batch_id is not None  # claimed, creation unrecorded
    after_restart = _pass(stack)  # adopts the provider's batch, polls it: it has ended
    assert (after_restart["adopted"], after_restart["sent"], after_restart["answered"]) == (1, 0, 1)
    assert len(anthropic.batches.created) == 1 and len(anthropic.batches.bill) == 1
    assert stack.wait(submitted["id"])["status"] == "succeeded"
    assert len(stack.cost_events(submitted["id"])) == 1


class _CrashBeforeCreate(AnthropicBatches):
    def create(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        raise SystemExit("killed before the create")


def test_a_batch_never_created_is_abandoned_after_its_grace_and_sent_again(stack: Stack) -> None:
    submitted = stack.submit(_deferred())
    with pytest.raises(SystemExit):
        drive_batches(stack.runtime, stack.celery, client=_CrashBeforeCreate(stack.settings))
    assert _pass(stack) == dict.fromkeys(_pass(stack), 0)  # within its grace: left alone
    later = utcnow() + timedelta(seconds=stack.settings.batch_pending_grace_seconds + 1)
    counts = _pass(stack, now=later)  # abandoned, and its job sent in a new batch
    assert (counts["abandoned"], counts["sent"]) == (1, 1)
    assert _pass(stack)["answered"] == 1
    assert stack.wait(submitted["id"])["status"] == "succeeded"
    assert len(stack.cost_events(submitted["id"])) == 1


def test_an_expired_batch_runs_its_jobs_as_ordinary_ones(
    stack: Stack, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    _, anthropic = providers
    anthropic.batches.expire = True
    submitted = stack.submit(_deferred())
    assert _pass(stack)["sent"] == 1
    assert _pass(stack)["ordinary"] == 1
    job = _job(stack, submitted["id"])
    assert job.defer_until is None and job.batch_id is None and job.queue == "complete.premium"
    with stack.worker():
        done = stack.wait(submitted["id"])
    assert done["status"] == "succeeded" and done["model"] == CLAUDE
    [event] = stack.cost_events(submitted["id"])
    usage = done["result"]["usage"]
    price = stack.runtime.catalogue.price(CLAUDE)
    assert event.cost == price.cost(usage["prompt_tokens"], usage["completion_tokens"])
    assert event.batch_savings == 0 and "batch" not in (done["routing"] or {})


def test_an_errored_request_is_retried_ordinary_and_no_answer_comes_after_the_deadline(
    stack: Stack, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    _, anthropic = providers
    anthropic.batches.polls_to_end = 10**6  # the batch runs on and on
    near = stack.submit(_deferred(deadline="PT1H"))
    late = stack.submit(_deferred(HARD + " twice", deadline="PT1H"))
    assert _pass(stack)["sent"] == 2
    # Ten minutes (GRUMP_BATCH_ORDINARY_SECONDS) before the deadline the job leaves its batch...
    soon = utcnow() + timedelta(minutes=51)
    with session_scope(stack.runtime.sessions) as session:  # ... the other is past its own
        session.get(Job, uuid.UUID(late["id"])).defer_until = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]
    counts = _pass(stack, now=soon)
    assert (counts["ordinary"], counts["failed"]) == (1, 1)
    assert _job(stack, near["id"]).batch_id is None
    failed = stack.wait(late["id"])
    assert failed["error"]["code"] == "deadline_exceeded" and stack.cost_events(late["id"]) == []
    # ... and the batch's later answers for both are ignored: each job is recorded once.
    anthropic.batches.polls_to_end = 0
    assert _pass(stack)["answered"] == 0
    assert _job(stack, near["id"]).status == "queued" and stack.cost_events() == []


def test_the_402_comes_at_the_batch_price(stack: Stack) -> None:
    pinned = {"model": CLAUDE}
    price = _job(stack, stack.submit(_deferred(**pinned))["id"]).reserved_cost
    with session_scope(stack.runtime.sessions) as session:
        limit = Decimal(price) * 3 / 2  # one deferred job's hold and a half
        set_budget(session, "acme", None, Period.DAILY, limit, Decimal("0.8"), utcnow())
    headers = {"Authorization": f"Bearer {stack.key}"}
    ordinary = stack.client.post("/v1/jobs", json=complete(HARD, 40, **pinned), headers=headers)
    assert ordinary.status_code == 402  # the full price does not fit what is left
    fits = _deferred(HARD + " again", **pinned)
    assert stack.client.post("/v1/jobs", json=fits, headers=headers).status_code == 202
    third = _deferred(HARD + " thrice", **pinned)
    assert stack.client.post("/v1/jobs", json=third, headers=headers).status_code == 402


@pytest.mark.parametrize(
    ("deadline", "reason"),
    [("6 hours", "ISO 8601"), ("PT30M", "between PT1H and P7D"), ("P8D", "between")],
)
def test_a_bad_deadline_is_a_422_naming_it(stack: Stack, deadline: str, reason: str) -> None:
    headers = {"Authorization": f"Bearer {stack.key}"}
    answer = stack.client.post("/v1/jobs", json=_deferred(deadline=deadline), headers=headers)
    assert answer.status_code == 422
    assert (
        answer.json()["error"]["field"] == "deadline" and reason in answer.json()["error"]["reason"]
    )


def test_economy_and_priority_zero_routes(stack: Stack) -> None:
    economy = stack.submit(_deferred("say hello to the team"))
    job = _job(stack, economy["id"])
    assert job.model == "moonshotai/kimi-k2.5" and job.defer_until is None  # NIM: runs now
    policy = stack.submit(complete(HARD, max_tokens=40) | {"priority": 0})
    found = _job(stack, policy["id"])
    assert found.defer_until is not None, (
        found.model,
        found.routing,
        found.status,
    )  # acme: priority 0 waits


def test_an_expired_job_whose_full_price_does_not_fit_fails_instead_of_overrunning(
    stack: Stack, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    _, anthropic = providers
    anthropic.batches.expire = True
    submitted = stack.submit(_deferred(model=CLAUDE))
    held = _job(stack, submitted["id"]).reserved_cost
    with session_scope(stack.runtime.sessions) as session:
        set_budget(session, "acme", None, Period.DAILY, held * 3 / 2, Decimal("0.8"), utcnow())
    assert _pass(stack)["sent"] == 1
    counts = _pass(stack)
    assert (counts["ordinary"], counts["failed"]) == (0, 1)
    failed = stack.wait(submitted["id"])
    assert failed["error"]["code"] == "budget_exceeded" and stack.cost_events() == []


def test_prompt_cache_tokens_in_a_batch_are_priced_at_the_batch_price(
    stack: Stack, providers: tuple[FakeNim, FakeAnthropic]
) -> None:
    _, anthropic = providers
    system = " ".join(f"rule{i} keep the service reliable" for i in range(400))  # ~2,000 words
    ids = []
    for ask in ("review the first diff", "review the second diff"):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": ask}]
        body = {"kind": "complete", "deadline": "PT6H", "input": {"messages": messages}}
        ids.append(stack.submit(body | {"input": {"messages": messages, "model": CLAUDE}})["id"])
    assert _pass(stack)["sent"] == 2
    assert _pass(stack)["answered"] == 2
    price = stack.runtime.catalogue.price(CLAUDE)
    events = [stack.cost_events(job_id)[0] for job_id in ids]
    assert [(e.tokens_cache_write > 0, e.tokens_cache_read > 0) for e in events] == [
        (True, False),
        (False, True),
    ]
    for event in events:
        standard = price.cost(
            event.tokens_in, event.tokens_out, event.tokens_cache_read, event.tokens_cache_write
        )
        assert event.cost == price.batch_cost(standard)
    # What the fake billed, at half price, is what the ledger recorded.
    billed = sum(
        price.batch_cost(
            price.cost(
                b["input_tokens"] + b["cache_read_input_tokens"] + b["cache_creation_input_tokens"],
                b["output_tokens"],
                b["cache_read_input_tokens"],
                b["cache_creation_input_tokens"],
            )
        )
        for b in anthropic.batches.bill
    )
    assert billed == sum(e.cost for e in events)


def test_a_budget_short_of_the_full_price_still_routes_a_deferred_hard_job_to_claude(
    stack: Stack,
) -> None:
    price = stack.runtime.catalogue.price(CLAUDE)
    body = complete(HARD, max_tokens=40)
    full = estimate_max_cost(price, CompleteInput.model_validate(body["input"]))
    with session_scope(stack.runtime.sessions) as session:  # 3/4 of the full price
        set_budget(session, "acme", None, Period.DAILY, full * 3 / 4, Decimal("0.8"), utcnow())
    ordinary = _job(stack, stack.submit(body)["id"])
    assert ordinary.routing is not None and ordinary.routing["reason"] == "downgraded:budget"
    deferred = _job(stack, stack.submit(_deferred())["id"])
    assert (deferred.model, deferred.queue) == (CLAUDE, "deferred")
    assert deferred.reserved_cost == price.batch_cost(full)
