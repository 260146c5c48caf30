"""Leases on jobs: which live worker process holds each job, renewed by a process of its own.

A worker process holds ``grump:lease:<job id>`` (value: its claimer id, expiring
after ``GRUMP_WORKER_LEASE_SECONDS``) on every job whose message it has received,
from receipt until the message is acknowledged, and while it runs the job. The
leases are renewed every ``GRUMP_WORKER_HEARTBEAT_SECONDS`` by a helper process
(``grump.jobs.lease_helper``), not a thread: a provider call or a parse that
holds the GIL cannot stop the renewal, so a healthy call is never mistaken for a
dead worker however long it takes. The worker tells the helper what it holds over
a pipe. When the worker dies, even by SIGKILL, the pipe closes (or the helper sees
its parent change) and the helper deletes the leases at once and exits; if the
helper itself is killed, they lapse after the lease time.

So a job with no lease is held by no live worker, and ``grump.jobs.recovery``
runs it again. A lease is only ever renewed or deleted by its own claimer (a Lua
check-and-set), so a worker that took a job over keeps it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError

from grump.redis_client import redis_client

log = logging.getLogger(__name__)

LEASE_PREFIX = "grump:lease:"

# Take a lease that is free or already ours (held since its message came): 1, else 0.
TAKE_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""
# Delete a lease only if it is still ours (the worker and its helper both do).
DROP_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(job_id: uuid.UUID | str) -> str:
    """The Redis key of a job's lease."""
    return f"{LEASE_PREFIX}{job_id}"


def new_claimer_id() -> str:
    """This process's name in leases and in ``jobs.claimed_by``: host, pid and a nonce."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """The leases one worker process holds, counted: a job may be held by its message and its run.

    ``take`` is called when the process is about to run a job: True when the
    lease is (now) this process's, False when another live process holds it or
    this process already runs it, None when Redis cannot tell (the job runs:
    delivery stays at least once, and the ledger keeps effects exactly once).
    """

    def __init__(self, url: str, heartbeat_seconds: float, lease_seconds: int) -> None:
        self.claimer = new_claimer_id()
        self._url = url
        self._heartbeat = heartbeat_seconds
        self._ttl = lease_seconds
        self._redis: Redis = redis_client(url)
        self._drop = self._redis.register_script(DROP_SCRIPT)
        self._take = self._redis.register_script(TAKE_SCRIPT)
        self._counts: Counter[uuid.UUID] = Counter()
        self._running: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._helper: subprocess.Popen[bytes] | None = None

    def hold(self, job_id: uuid.UUID) -> None:
        """Hold ``job_id``'s lease while its message is here (best effort: never raises)."""
        self.hold_many([job_id])

    def hold_many(self, job_ids: Iterable[uuid.UUID]) -> None:
        """``hold`` each of ``job_ids``: one word to the helper, which sets the leases.

        The helper sets a lease it is told of at once, unless another claimer
        holds it, in one pipeline for all it was told together: receiving a
        message costs this process no Redis round trip. A message is never
        restored by recovery before it is a lease time old, and running its job
        takes the lease here first (``take``).
        """
        self._hold_all(list(job_ids))

    def take(self, job_id: uuid.UUID) -> bool | None:
        """Hold ``job_id``'s lease to run it; see the class's docstring for the answers."""
        with self._lock:
            # Checked and marked at once: two deliveries of one job in this process (a
            # restored message and a requeued one) must not both pass, or both would run.
            if job_id in self._running:
                return False
            self._running.add(job_id)
        try:
            # One round trip: set if free, else whether it is already this process's.
            mine = bool(self._take(keys=[lease_key(job_id)], args=[self.claimer, self._ttl]))
        except (RedisError, OSError) as exc:
            log.warning("lease of job %s unknown (%s); running it", job_id, exc)
            mine = None
        if mine is False:
            with self._lock:
                self._running.discard(job_id)
            return False
        self._hold_all([job_id])
        return True if mine else None

    def done(self, job_id: uuid.UUID) -> None:
        """The run that ``take`` allowed has ended."""
        with self._lock:
            if job_id not in self._running:
                return
            self._running.discard(job_id)
        self.release(job_id)

    def release(self, job_id: uuid.UUID) -> None:
        """One hold of ``job_id`` fewer; the last deletes the lease."""
        self.release_many([job_id])

    def release_many(self, job_ids: Iterable[uuid.UUID]) -> None:
        """``release`` each of ``job_ids``: one word to the helper, one Redis round trip."""
        last: list[uuid.UUID] = []
        with self._lock:
            for job_id in job_ids:
                if self._counts[job_id] <= 0:
                    continue
                self._counts[job_id] -= 1
                if not self._counts[job_id]:
                    del self._counts[job_id]
                    last.append(job_id)
        if not last:
            return
        self._tell("\n".join(f"-{job_id}" for job_id in last))
        # Deleted here too, not only by the helper: a message that arrives next finds it free.
        try:
            pipe = self._redis.pipeline(transaction=False)
            for job_id in last:
                self._drop(keys=[lease_key(job_id)], args=[self.claimer], client=pipe)
            pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("leases of %d jobs not deleted (they lapse): %s", len(last), exc)

    def held(self) -> set[uuid.UUID]:
        """The jobs this process holds a lease on."""
        with self._lock:
            return set(self._counts)

    def has_lease(self, job_ids: list[uuid.UUID]) -> list[bool]:
        """Whether each job has a live lease, anyone's; raises RedisError when Redis cannot tell."""
        pipe = self._redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.exists(lease_key(job_id))
        return [bool(n) for n in pipe.execute()]

    @property
    def redis(self) -> Redis:
        """The Redis the leases live on (recovery reads its uptime and takes its lock there)."""
        return self._redis

    def close(self) -> None:
        """Stop the helper (it deletes the leases it renews). In a forked child: forget them."""
        helper, self._helper = self._helper, None
        if helper is not None and helper.stdin is not None:
            helper.stdin.close()
            if os.getpid() == self._pid:
                try:
                    helper.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    helper.kill()
        self._redis.close()

    def _hold_all(self, job_ids: list[uuid.UUID]) -> None:
        first: list[uuid.UUID] = []
        with self._lock:
            for job_id in job_ids:
                self._counts[job_id] += 1
                if self._counts[job_id] == 1:
                    first.append(job_id)
        if first:
            self._tell("\n".join(f"+{job_id}" for job_id in first))

    def _tell(self, line: str) -> None:
        with self._lock:
            for _ in range(2):
                helper = self._helper
                if helper is None or helper.poll() is not None or os.getpid() != self._pid:
                    helper = self._start_helper()
                try:
                    assert helper.stdin is not None
                    helper.stdin.write(f"{line}\n".encode())
                    helper.stdin.flush()
                    return
                except (BrokenPipeError, OSError):
                    self._helper = None
            log.error("the lease helper cannot be started; leases will lapse")

    def _start_helper(self) -> subprocess.Popen[bytes]:
        """Start the renewing process, giving it what this process holds (caller has the lock)."""
        self._pid = os.getpid()
        helper = subprocess.Popen(
            [sys.executable, "-m", "grump.jobs.lease_helper", self.claimer],
            stdin=subprocess.PIPE,
            close_fds=True,
        )
        assert helper.stdin is not None
        # The URL goes over the pipe, not argv: it may carry a password.
        helper.stdin.write(f"{self._url}\n{self._heartbeat}\n{self._ttl}\n".encode())
        for job_id in self._counts:
            helper.stdin.write(f"+{job_id}\n".encode())
        helper.stdin.flush()
        self._helper = helper
        return helper


if __name__ == "__main__":
    # A worker started before its helper had a module of its own starts it here.
    from grump.jobs.lease_helper import main

    main(sys.argv[1:])
