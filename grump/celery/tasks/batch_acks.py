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
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task
from kombu.transport.redis import QoS as RedisQoS
from kombu.transport.virtual.base import QoS as VirtualQoS

from grump.celery.held import let_go_of_message

log = logging.getLogger(__name__)


class AckTogetherBatches(Batches):  # type: ignore[misc]
    """The gpu worker's batch task base: a batch's acks_late messages are acknowledged together."""

    abstract = True

    def flush(self, requests: Collection[Any]) -> Any:
        """Run ``requests`` as one batch in the pool; acks_late ones are acknowledged together."""
        early = [r for r in requests if not r.task.acks_late]
        late = [r for r in requests if r.task.acks_late]
        batch = ([SimpleRequest.from_request(r) for r in requests],)

        def on_accepted(pid: int, time_accepted: float) -> None:
            for request in early:
                request.acknowledge()
                let_go_of_message(request)

        def on_return(result: Any) -> None:
            acknowledge_together(late)

        return self._pool.apply_async(
            apply_batches_task,
            (self, batch, 0, None),
            accept_callback=on_accepted,
            callback=on_return,
        )


def acknowledge_together(requests: Sequence[Any]) -> None:
    """Acknowledge ``requests`` (one Redis pipeline per channel, else one by one), then let go
    of their jobs' leases."""
    try:
        _acknowledge_together(requests)
    finally:
        for request in requests:
            let_go_of_message(request)


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
