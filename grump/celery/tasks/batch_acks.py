"""celery-batches' task class, acknowledging a batch's messages together.

Upstream acknowledges each message of a batch on its own once the batch
returns; on Redis that is a MULTI/EXEC round trip per message, made with a new
client object each time, and it was a third of the gpu worker's consumer time.
Here the messages of a batch that came through kombu's Redis transport are
removed from its unacked index in one pipeline, then marked acknowledged
without a further round trip; any other transport (the in-process broker of
the embedded mode) acknowledges one by one as upstream does.

Acknowledging still happens only after the batch's task returned, which is
after its jobs are recorded: a worker killed mid-batch leaves every message
unacknowledged for Redis to deliver again.

Flower sees each message of a batch as a task of its own: each is announced
received when it is buffered, started when its batch starts in the pool, and
succeeded (with its job's step, when the batch task returns one) once the batch
returned, which is after its commit and before its acknowledgement.

A prefork child that dies under a batch (the pool sees ``WorkerLostError``)
leaves no message behind: each goes back to its queue, and when it comes
back it runs in a batch of its own, so that a job that kills its worker is
found out (its losses counted, ``GRUMP_MAX_WORKER_LOSSES``) without failing
the neighbours it died among.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from queue import Queue
from typing import Any

from celery.utils.saferepr import saferepr
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task
from kombu.transport.redis import QoS as RedisQoS
from kombu.transport.virtual.base import QoS as VirtualQoS

from grump.celery.held import (
    hold_messages,
    job_of,
    let_go_of_message,
    let_go_of_messages,
    runtime_of,
)
from grump.jobs.claims import note_worker_lost

log = logging.getLogger(__name__)


class AckTogetherBatches(Batches):  # type: ignore[misc]
    """The batch task base: a batch's acks_late messages are acknowledged together, each
    message is a task of its own to Flower, and a batch whose pool child died goes round again."""

    abstract = True
    # Its messages' leases are held when the buffer is flushed, together (grump.celery.held).
    holds_its_messages = True
    # Batches short of ``flush_every`` run at most this many at once (None: one per pool
    # process); more wait to grow while these run. Full ones take any free process.
    small_batches_in_flight: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self._buffer = _AnnouncingBuffer()
        # Jobs whose batch lost its pool child: when they come back, each runs alone.
        self._suspects: set[uuid.UUID] = set()
        self._in_flight = 0  # batches handed to the pool, not yet returned
        self._in_flight_lock = threading.Lock()

    def _do_flush(self) -> None:
        """Hold the leases of every message received since the last flush, then flush,
        unless the pool is busy (``small_batches_in_flight``): then the next batch grows
        while the others run, instead of queueing small batches behind them."""
        received = self._buffer.take_received()
        if received:
            hold_messages(received)
        limit = getattr(self._pool, "limit", None) or 1
        with self._in_flight_lock:
            in_flight = self._in_flight
        full = self._buffer.qsize() >= self.flush_every
        if in_flight >= (limit if full else min(limit, self.small_batches_in_flight or limit)):
            return  # the flush timer comes back
        super()._do_flush()

    def _returned(self) -> None:
        with self._in_flight_lock:
            self._in_flight -= 1

    def flush(self, requests: Collection[Any]) -> Any:
        """Run ``requests`` in the pool: batches of ``flush_every``, and one each for suspects."""
        together = [r for r in requests if job_of(r) not in self._suspects]
        for request in requests:
            if job_of(request) in self._suspects:
                self._suspects.discard(job_of(request))
                self._flush_batch([request], alone=True)
        size = max(1, self.flush_every)
        for start in range(0, len(together), size):  # grown past its size while all were busy
            self._flush_batch(together[start : start + size], alone=False)

    def _flush_batch(self, requests: Sequence[Any], alone: bool) -> Any:
        early = [r for r in requests if not r.task.acks_late]
        late = [r for r in requests if r.task.acks_late]
        batch = ([SimpleRequest.from_request(r) for r in requests],)
        started = time.monotonic()

        def on_accepted(pid: int, time_accepted: float) -> None:
            for request in requests:
                request.worker_pid = pid
                request.send_event("task-started")
            for request in early:
                request.acknowledge()
                let_go_of_message(request)

        def on_return(result: Any) -> None:
            self._returned()
            steps = result if isinstance(result, Mapping) else {}
            runtime = time.monotonic() - started
            try:
                for request in requests:
                    result = saferepr(steps.get(request.id))  # as Celery reports a return
                    request.send_event("task-succeeded", result=result, runtime=runtime)
            finally:
                acknowledge_together(late)

        def on_error(exc_info: Any) -> None:
            self._returned()
            self._lost(late, exc_info, alone)

        with self._in_flight_lock:
            self._in_flight += 1
        return self._pool.apply_async(
            apply_batches_task,
            (self, batch, 0, None),
            accept_callback=on_accepted,
            callback=on_return,
            error_callback=on_error,
        )

    def _lost(self, requests: Sequence[Any], exc_info: Any, alone: bool) -> None:
        """The pool could not run the batch (its child died): every message goes back."""
        exc = getattr(exc_info, "exception", exc_info)
        log.error("a batch of %d messages was lost with its pool process: %r", len(requests), exc)
        for request in requests:
            job_id = job_of(request)
            runtime = runtime_of(request)
            if alone and job_id is not None and runtime is not None:
                try:
                    note_worker_lost(runtime, job_id)
                except Exception:
                    log.exception("job %s: its worker loss could not be counted", job_id)
            if job_id is not None:
                # Alone from now on: a job that kills its process is counted, and stopped
                # at GRUMP_MAX_WORKER_LOSSES, without failing the neighbours it died among.
                self._suspects.add(job_id)
            request.send_event("task-failed", exception=repr(exc), traceback="")
            try:
                if not request.acknowledged:
                    request.reject(requeue=True)
            finally:
                let_go_of_message(request)


class _AnnouncingBuffer(Queue[Any]):
    """The buffer of received messages: each put is announced to Flower as task-received,
    and kept until its lease is held."""

    def __init__(self) -> None:
        super().__init__()
        self._received: list[Any] = []

    def take_received(self) -> list[Any]:
        """The messages put since the last call (the consumer's thread puts and takes)."""
        received, self._received = self._received, []
        return received

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Buffer ``item``, then send its task-received event."""
        super().put(item, block, timeout)
        self._received.append(item)
        item.send_event(
            "task-received",
            name=item.name,
            args=item.argsrepr,
            kwargs=item.kwargsrepr,
            root_id=item.root_id,
            parent_id=item.parent_id,
            retries=item.request_dict.get("retries", 0),
            eta=item.eta and item.eta.isoformat(),
            expires=item.expires and item.expires.isoformat(),
        )


def acknowledge_together(requests: Sequence[Any]) -> None:
    """Acknowledge ``requests`` (one Redis pipeline per channel, else one by one), then let go
    of their jobs' leases."""
    try:
        _acknowledge_together(requests)
    finally:
        let_go_of_messages(requests)


def _acknowledge_together(requests: Sequence[Any]) -> None:
    by_channel: dict[int, list[Any]] = {}
    for request in requests:
        if request.acknowledged:
            continue
        channel = request.message.channel
        if isinstance(getattr(channel, "qos", None), RedisQoS):
            by_channel.setdefault(id(channel), []).append(request)
        else:
            request.acknowledge()
    for group in by_channel.values():
        try:
            _acknowledge_on_redis(group)
        except Exception:
            log.exception("acknowledging %d messages together failed; one by one", len(group))
            for request in group:
                if not request.acknowledged:
                    request.acknowledge()


def _acknowledge_on_redis(requests: list[Any]) -> None:
    qos = requests[0].message.channel.qos
    with qos.pipe_or_acquire() as pipe:
        for request in requests:
            qos._remove_from_indices(request.message.delivery_tag, pipe)
        pipe.execute()
    for request in requests:
        # What kombu's Redis QoS.ack does after its own round trip, and what
        # Message.ack and Request.acknowledge record: done, without another trip.
        VirtualQoS.ack(qos, request.message.delivery_tag)
        request.message._state = "ACK"
        request.acknowledged = True
