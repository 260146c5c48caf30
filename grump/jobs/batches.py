"""Deferred complete jobs through Anthropic's Message Batches: beat's one pass, state in the ledger.

Each pass (``drive_batches``, run by beat every ``GRUMP_BATCH_INTERVAL_SECONDS``):

1. jobs whose deadline is near (within ``GRUMP_BATCH_ORDINARY_SECONDS``) leave
   their batch and run as ordinary jobs, or fail when the deadline has passed;
2. batches whose creation was not recorded (a crash between the provider's
   answer and the commit) are found among the provider's recent batches by
   creation time and size and adopted, or, after ``GRUMP_BATCH_PENDING_GRACE_SECONDS``
   with none found, abandoned (their jobs wait for the next batch);
3. open batches are polled; an ended one's results are matched to jobs by
   ``custom_id`` (the job id) and each job recorded once: answered at the batch
   price, run as an ordinary job (expired, cancelled, a failed request) while its
   deadline allows, else failed;
4. waiting jobs are claimed into a new batch row, committed, then sent.

Nothing lives in memory between passes: a restarted beat carries on from the ledger.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from celery import Celery

from grump.errors import ProviderError, ProviderTransient
from grump.jobs import admission
from grump.jobs import batch_ledger as ledger
from grump.jobs.batch_results import read_line, savings_note
from grump.jobs.enqueue import publish_job
from grump.jobs.models import CompleteInput
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.providers.anthropic_batches import AnthropicBatches
from grump.providers.anthropic_shapes import messages_payload
from grump.providers.base import ChatRequest
from grump.providers.registry import anthropic_configured
from grump.routing.prompt_cache import prepare_for_provider
from grump.runtime import Runtime

log = logging.getLogger(__name__)
PROVIDER = "anthropic"
CLOCK_SKEW = timedelta(minutes=1)  # between grump's clock and the provider's created_at


@dataclass
class BatchPass:
    """What one pass did, for beat's log and for tests."""

    sent: int = 0
    answered: int = 0
    ordinary: int = 0
    failed: int = 0
    adopted: int = 0
    abandoned: int = 0
    to_publish: list[Job] = field(default_factory=list)  # to run as ordinary jobs
    ended: list[uuid.UUID] = field(default_factory=list)  # answered or failed: waiters are told

    def counts(self) -> dict[str, int]:
        """The pass's counts, as beat's task returns them."""
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


def drive_batches(
    runtime: Runtime,
    app: Celery,
    now: datetime | None = None,
    client: AnthropicBatches | None = None,
) -> BatchPass:
    """One pass over deferred jobs and their batches (see the module's docstring)."""
    now = now or utcnow()
    report = BatchPass()
    _near_deadline(runtime, now, report)
    if anthropic_configured(runtime.settings):
        batches = client or AnthropicBatches(runtime.settings)
        try:
            for step in (_resolve_pending, _poll, _send):
                try:
                    step(runtime, batches, now, report)
                except (ProviderTransient, ProviderError) as exc:
                    log.warning("message batches: %s: %s", step.__name__.strip("_"), exc)
        finally:
            if client is None:
                batches.close()
    if report.ended:
        runtime.job_waiters.announce_final(report.ended)
    for job in report.to_publish:
        # Fair share as for any new job: past the tenant's slots it is held, released later.
        if admission.admitted(runtime, job):
            publish_job(app, job.id, job.queue, job.priority, runtime.settings.retry_after_seconds)
    return report


def _to_ordinary(
    runtime: Runtime, session: Any, job: Job, now: datetime, key: str | None, report: BatchPass
) -> None:
    """Run ``job`` as an ordinary job when its deadline allows, else fail it."""
    if job.defer_until is not None and now >= job.defer_until:
        error = {"code": "deadline_exceeded", "message": "the job's deadline passed in its batch"}
        _failed(report, job, ledger.fail_deferred(session, job.id, key, error))
        return
    deadline = ledger.ordinary_deadline(now, runtime.settings.job_deadline_seconds)
    queue = ledger.run_ordinary(session, job, runtime.catalogue, deadline, key)
    if queue:
        report.ordinary += 1
        job.queue = queue  # as the row now says (admission reads it)
        report.to_publish.append(job)
    else:
        _failed(report, job, queue == ledger.REFUSED)


def _failed(report: BatchPass, job: Job, failed: bool) -> None:
    if failed:
        report.failed += 1
        report.ended.append(job.id)


def _near_deadline(runtime: Runtime, now: datetime, report: BatchPass) -> None:
    latest = now + timedelta(seconds=runtime.settings.batch_ordinary_seconds)
    with session_scope(runtime.sessions) as session:
        for job in ledger.nearing_deadline(session, latest):
            _to_ordinary(runtime, session, job, now, None, report)


def _created_at(batch: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(batch.get("created_at")))
    except ValueError:
        return None


def _size(batch: dict[str, Any]) -> int:
    counts = batch.get("request_counts") or {}
    return sum(int(v) for v in counts.values()) if isinstance(counts, dict) else -1


def _resolve_pending(
    runtime: Runtime, batches: AnthropicBatches, now: datetime, report: BatchPass
) -> None:
    grace = timedelta(seconds=runtime.settings.batch_pending_grace_seconds)
    with session_scope(runtime.sessions) as session:
        pending = ledger.batches_in(session, ledger.PENDING)
        if not pending:
            return
        recent, known = batches.recent(), ledger.known_provider_ids(session)
        for row in pending:
            match = next(
                (
                    b
                    for b in recent
                    if b.get("id") not in known
                    and _size(b) == row.request_count
                    and (_created_at(b) or now) >= row.created_at - CLOCK_SKEW
                ),
                None,
            )
            if match is not None:
                ledger.mark_submitted(session, row.id, str(match["id"]), now)
                known.add(str(match["id"]))
                report.adopted += 1
            elif now - row.created_at > grace:
                ledger.abandon(session, row.id, now)
                report.abandoned += 1


def _poll(runtime: Runtime, batches: AnthropicBatches, now: datetime, report: BatchPass) -> None:
    with session_scope(runtime.sessions) as session:
        open_ = [
            (b.id, b.provider_batch_id) for b in ledger.batches_in(session, ledger.IN_PROGRESS)
        ]
    for key, provider_id in open_:
        batch = batches.retrieve(str(provider_id))
        if batch.get("processing_status") != "ended":
            continue
        lines = batches.results(str(batch["results_url"]))
        with session_scope(runtime.sessions) as session:
            _record_results(runtime, session, key, str(provider_id), lines, now, report)
            ledger.mark_ended(session, key, now)


def _record_results(
    runtime: Runtime,
    session: Any,
    key: str,
    provider_id: str,
    lines: list[dict[str, Any]],
    now: datetime,
    report: BatchPass,
) -> None:
    """Each job still waiting in the batch recorded once from its result line."""
    waiting = {str(job.id): job for job in ledger.waiting_in(session, key)}
    premium = runtime.settings.premium_model
    for line in lines:
        job = waiting.pop(str(line.get("custom_id")), None)
        if job is None:
            continue  # answered already, run elsewhere, cancelled: ignored
        model = job.model or premium
        read = read_line(
            line, model, CompleteInput.model_validate(job.input), runtime.catalogue, premium
        )
        if read.verdict == "answered" and read.outcome is not None:
            note = {"id": key, "provider_batch_id": provider_id}
            note |= savings_note(read.outcome, runtime.catalogue.price(model).batch_discount)
            routing = {**(job.routing or {}), "batch": note}
            outcome = replace(read.outcome, routing=routing)
            if ledger.record_answer(session, job, key, outcome):
                report.answered += 1
                report.ended.append(job.id)
        elif read.verdict == "refused":
            error = {"code": "provider_error", "message": read.error}
            _failed(report, job, ledger.fail_deferred(session, job.id, key, error))
        else:
            log.info("job %s: %s; it runs as an ordinary job", job.id, read.error)
            _to_ordinary(runtime, session, job, now, key, report)
    for job in waiting.values():  # no line at all: as if it expired
        _to_ordinary(runtime, session, job, now, key, report)


def _params(runtime: Runtime, job: Job) -> dict[str, Any]:
    """The Messages body of a job, as the Anthropic provider would send it."""
    model = job.model or runtime.settings.premium_model
    payload = CompleteInput.model_validate(job.input)
    sent = prepare_for_provider(runtime, model, payload, job.tenant)
    return messages_payload(ChatRequest(model=model, input=sent))


def _send(runtime: Runtime, batches: AnthropicBatches, now: datetime, report: BatchPass) -> None:
    settings = runtime.settings
    key = f"gb_{uuid.uuid4().hex}"
    latest = now + timedelta(seconds=settings.batch_ordinary_seconds)
    with session_scope(runtime.sessions) as session:
        jobs = ledger.claim_for_batch(
            session, key, PROVIDER, now, latest, settings.batch_max_requests
        )
        requests = [{"custom_id": str(job.id), "params": _params(runtime, job)} for job in jobs]
    if not requests:
        return
    try:
        created = batches.create(requests)
    except ProviderError:
        # The provider refused the batch itself: its jobs run one by one, each to its own answer.
        with session_scope(runtime.sessions) as session:
            ledger.abandon(session, key, now)
            for job in jobs:
                _to_ordinary(runtime, session, job, now, None, report)
        raise
    # A crash here leaves the row pending: the next pass adopts the provider's batch.
    with session_scope(runtime.sessions) as session:
        ledger.mark_submitted(session, key, str(created["id"]), now)
    report.sent += len(requests)
