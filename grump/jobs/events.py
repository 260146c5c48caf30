"""Job events pushed from workers to the API processes that wait on them.

A worker that commits a job's end publishes ``final`` on the job's channel
(``grump:job-events:<id>``); a running job may publish ``delta`` events (the
streamed tokens of a completion) on the same channel. Each API process listens
to every job channel with one pattern subscription (``JobWaiters``) and wakes
the callers waiting on that job, which then read the ledger: the ledger stays
the truth, an event only says "look now".

Publishing never fails a job: Redis being away costs the waiting callers a
re-check of the ledger (``GRUMP_RESULT_RECHECK_SECONDS``), no more.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "grump:job-events:"
CHANNEL_PATTERN = f"{CHANNEL_PREFIX}*"

EventKind = Literal["final", "delta"]


@dataclass(frozen=True)
class JobEvent:
    """Something that happened to a job: it ended, or a running one produced a delta."""

    job_id: uuid.UUID
    kind: EventKind
    data: dict[str, Any] | None = None

    def encode(self) -> bytes:
        """The event's message body (the job id is in the channel)."""
        return orjson.dumps({"kind": self.kind, "data": self.data})

    @classmethod
    def decode(cls, channel: str | bytes, body: str | bytes) -> JobEvent | None:
        """The event of a message on a job channel; None when it is not one."""
        name = channel.decode() if isinstance(channel, bytes) else channel
        try:
            job_id = uuid.UUID(name.removeprefix(CHANNEL_PREFIX))
            payload = orjson.loads(body)
            kind = payload["kind"]
            if kind not in ("final", "delta"):
                return None
            return cls(job_id, kind, payload.get("data"))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None


def channel_of(job_id: uuid.UUID) -> str:
    """The channel a job's events go to."""
    return f"{CHANNEL_PREFIX}{job_id}"


def publish(client: Redis | None, events: Iterable[JobEvent]) -> None:
    """Publish ``events`` in one round trip; a Redis error is logged, never raised."""
    batch = list(events)
    if client is None or not batch:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for event in batch:
            pipe.publish(channel_of(event.job_id), event.encode())
        pipe.execute()
    except (RedisError, OSError) as exc:
        log.info("job events not published (waiters re-check the ledger): %s", exc)
