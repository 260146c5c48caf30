"""Where a streamed job's deltas are kept while it runs: a Redis stream per job, or memory.

The log of a job (``grump:deltas:<id>``) is an append-only list of entries: an
attempt marker written first by each run of the job (its run id and the
claimer holding the job's lease), then that run's deltas, several pieces to an
entry when they came within the flush interval. Each append also publishes a
``delta`` event on the job's channel, carrying the entry (a follower in step
applies it without reading the log), and reads the job's cancel flag, in the
same pipeline: one round trip. The log expires ``GRUMP_STREAM_LOG_TTL_SECONDS``
after its last write.

With no Redis (the embedded mode, where jobs run in the API process) the same
interface keeps the logs in memory and wakes the waiters directly.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from grump.jobs.events import JobEvent, channel_of
from grump.jobs.waiters import JobWaiters

log = logging.getLogger(__name__)

LOG_PREFIX = "grump:deltas:"
CANCEL_PREFIX = "grump:stream-cancel:"
START = "0"  # read from the log's start


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of one tool call: its id and name come with its first piece, then argument fragments."""

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


Piece = TextDelta | ToolCallDelta


@dataclass(frozen=True)
class Entry:
    """One entry of a job's log: an attempt marker (``attempt`` set) or some deltas."""

    id: str
    attempt: str | None = None
    claimer: str | None = None
    pieces: tuple[Piece, ...] = ()
    seq: int = 0  # a delta entry's place in its run (the marker is 0)


def log_key(job_id: uuid.UUID) -> str:
    """The Redis key of a job's delta log."""
    return f"{LOG_PREFIX}{job_id}"


def cancel_key(job_id: uuid.UUID) -> str:
    """The Redis key of a job's cancel flag (set when its streaming caller left)."""
    return f"{CANCEL_PREFIX}{job_id}"


def plain_pieces(pieces: Sequence[Piece]) -> list[list[Any]]:
    """Pieces as JSON values: ``["t", text]`` or ``["c", index, id, name, arguments]``."""
    return [
        ["t", p.text] if isinstance(p, TextDelta) else ["c", p.index, p.id, p.name, p.arguments]
        for p in pieces
    ]


def pieces_of(items: Sequence[Any]) -> tuple[Piece, ...]:
    """The pieces ``plain_pieces`` made; unknown items are skipped."""
    pieces: list[Piece] = []
    for item in items:
        if item[0] == "t":
            pieces.append(TextDelta(str(item[1])))
        elif item[0] == "c":
            pieces.append(ToolCallDelta(int(item[1]), str(item[4]), item[2], item[3]))
    return tuple(pieces)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_entry(entry_id: Any, fields: dict[Any, Any]) -> Entry:
    """An entry as XRANGE gives it."""
    named = {_text(k): v for k, v in fields.items()}
    if "a" in named:
        return Entry(_text(entry_id), attempt=_text(named["a"]), claimer=_text(named.get("w", "")))
    pieces = pieces_of(orjson.loads(named.get("d", b"[]")))
    return Entry(_text(entry_id), pieces=pieces, seq=int(named.get("n", 0)))


def delta_event(job_id: uuid.UUID, attempt: str, seq: int, pieces: list[list[Any]]) -> JobEvent:
    """The ``delta`` event of an entry, carrying it: a follower in step needs no read."""
    return JobEvent(job_id, "delta", {"a": attempt, "n": seq, "p": pieces})


class DeltaLog(Protocol):
    """A job's delta log as its worker writes it and its followers read it."""

    def begin(self, job_id: uuid.UUID, attempt: str, claimer: str) -> bool:
        """Mark the start of a run of the job (before its first delta); whether a cancel was asked for."""

    def append(self, job_id: uuid.UUID, attempt: str, seq: int, pieces: Sequence[Piece]) -> bool:
        """Add the ``seq``-th entry of the run and wake the followers; whether a cancel was asked for."""

    def forget_cancel(self, job_id: uuid.UUID) -> None:
        """Clear a cancel that will not be done (other callers joined the job)."""

    async def read(self, job_id: uuid.UUID, after: str) -> list[Entry]:
        """The entries after ``after`` (``START``: all), oldest first."""

    async def request_cancel(self, job_id: uuid.UUID) -> None:
        """Ask the job's worker to stop streaming it."""


class RedisDeltaLog:
    """Delta logs in Redis streams: the worker writes with a sync client, followers read async."""

    def __init__(self, client: Redis, aio: Callable[[], AsyncRedis], ttl_seconds: int) -> None:
        self._client = client
        self._aio = aio
        self._ttl = ttl_seconds

    def begin(self, job_id: uuid.UUID, attempt: str, claimer: str) -> bool:
        """Write the attempt marker; whether a cancel was asked for already."""
        return self._write(
            job_id, {"a": attempt, "w": claimer}, delta_event(job_id, attempt, 0, [])
        )

    def append(self, job_id: uuid.UUID, attempt: str, seq: int, pieces: Sequence[Piece]) -> bool:
        """XADD, EXPIRE, PUBLISH (the entry itself) and EXISTS of the cancel flag: one round trip."""
        plain = plain_pieces(pieces)
        fields = {"d": orjson.dumps(plain), "n": seq}
        return self._write(job_id, fields, delta_event(job_id, attempt, seq, plain))

    def forget_cancel(self, job_id: uuid.UUID) -> None:
        """Delete the cancel flag."""
        try:
            self._client.delete(cancel_key(job_id))
        except (RedisError, OSError) as exc:
            log.info("cancel flag of job %s not cleared: %s", job_id, exc)

    def _write(self, job_id: uuid.UUID, fields: dict[Any, Any], event: JobEvent) -> bool:
        key = log_key(job_id)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.xadd(key, fields)
            pipe.expire(key, self._ttl)
            pipe.publish(channel_of(job_id), event.encode())
            pipe.exists(cancel_key(job_id))
            answers = pipe.execute()
        except (RedisError, OSError) as exc:
            # A lost entry costs the followers the rest of the answer replayed at its end.
            log.info("job %s: deltas not logged: %s", job_id, exc)
            return False
        return bool(answers[-1])

    async def read(self, job_id: uuid.UUID, after: str) -> list[Entry]:
        """XRANGE after ``after``."""
        start = "-" if after == START else f"({after}"
        found: Any = await self._aio().xrange(log_key(job_id), min=start)
        return [decode_entry(entry_id, fields) for entry_id, fields in found or ()]

    async def request_cancel(self, job_id: uuid.UUID) -> None:
        """Set the cancel flag, expiring with the log."""
        await self._aio().set(cancel_key(job_id), b"1", ex=self._ttl)


@dataclass
class _Memory:
    entries: list[Entry] = field(default_factory=list)
    expires: float = 0.0
    cancel: bool = False


class MemoryDeltaLog:
    """Delta logs in this process's memory, for the embedded mode: the same interface as Redis's."""

    def __init__(self, waiters: JobWaiters, ttl_seconds: int) -> None:
        self._waiters = waiters
        self._ttl = ttl_seconds
        self._logs: dict[uuid.UUID, _Memory] = {}
        self._lock = threading.Lock()

    def begin(self, job_id: uuid.UUID, attempt: str, claimer: str) -> bool:
        """Write the attempt marker; whether a cancel was asked for already."""
        marker = delta_event(job_id, attempt, 0, [])
        return self._add(job_id, lambda n: Entry(n, attempt=attempt, claimer=claimer), marker)

    def append(self, job_id: uuid.UUID, attempt: str, seq: int, pieces: Sequence[Piece]) -> bool:
        """Add the entry, wake this process's followers; whether a cancel was asked for."""
        event = delta_event(job_id, attempt, seq, plain_pieces(pieces))
        return self._add(job_id, lambda n: Entry(n, pieces=tuple(pieces), seq=seq), event)

    def forget_cancel(self, job_id: uuid.UUID) -> None:
        """Clear the cancel flag."""
        with self._lock:
            if job_id in self._logs:
                self._logs[job_id].cancel = False

    def _add(self, job_id: uuid.UUID, make: Callable[[str], Entry], event: JobEvent) -> bool:
        now = time.monotonic()
        with self._lock:
            if job_id not in self._logs:
                self._prune(now)
            found = self._logs.setdefault(job_id, _Memory())
            found.entries.append(make(f"0-{len(found.entries) + 1}"))
            found.expires = now + self._ttl
            cancelled = found.cancel
        self._waiters.publish([event])
        return cancelled

    def _prune(self, now: float) -> None:
        for job_id in [j for j, m in self._logs.items() if m.expires < now]:
            del self._logs[job_id]

    async def read(self, job_id: uuid.UUID, after: str) -> list[Entry]:
        """The entries after ``after``."""
        seen = 0 if after == START else int(after.split("-")[1])
        with self._lock:
            found = self._logs.get(job_id)
            return list(found.entries[seen:]) if found else []

    async def request_cancel(self, job_id: uuid.UUID) -> None:
        """Set the cancel flag."""
        with self._lock:
            self._logs.setdefault(
                job_id, _Memory(expires=time.monotonic() + self._ttl)
            ).cancel = True
