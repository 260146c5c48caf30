"""The lease helper: the process of its own that renews a worker's leases (``grump.jobs.leases``).

Started by the worker as ``python -m grump.jobs.lease_helper <claimer>``. Over
its stdin it reads the Redis URL, the heartbeat and the lease time, then a line
``+<job id>`` for each lease the worker takes and ``-<job id>`` for each it lets
go of. Every heartbeat it renews what is held (never a lease another claimer
took over); when the pipe closes or its parent changes (the worker died, even by
SIGKILL) it deletes what was held and exits. Being a process, not a thread, a
worker busy holding the GIL never delays a renewal.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from grump.jobs.leases import DROP_SCRIPT, lease_key
from grump.redis_client import redis_client

# Renew a lease that is ours or has lapsed; never one another claimer took over.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""


def main(argv: Sequence[str]) -> None:
    """Renew the leases of the claimer ``argv[0]`` until the worker goes."""
    # Signals meant for the worker (a Ctrl-C to its group, a warm shutdown) must not
    # end the renewals while the worker finishes its jobs: the helper ends with its parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _renew_forever(argv[0])


def _renew_forever(claimer: str) -> None:
    """The helper's loop: read +id/-id lines, renew every heartbeat, clean up when the parent goes."""
    stdin = sys.stdin.buffer
    url = stdin.readline().decode().strip()
    heartbeat = float(stdin.readline())
    ttl = int(stdin.readline())
    parent = os.getppid()
    client = redis_client(url)
    renew, drop = client.register_script(_RENEW), client.register_script(DROP_SCRIPT)
    # A thread reads the pipe, so the loop can wait on lines and on the clock at once.
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=_read_lines, args=(stdin, lines), daemon=True).start()
    held: set[str] = set()
    next_renewal = 0.0
    while True:
        now = time.monotonic()
        if now >= next_renewal:
            _each(
                held, lambda key, pipe: renew(keys=[key], args=[claimer, ttl], client=pipe), client
            )
            next_renewal = now + heartbeat
        # A short wait, so a parent that died with its pipe still open (a forked child
        # kept it) is noticed within half a second.
        got = _lines_waiting(lines, min(0.5, max(0.0, next_renewal - time.monotonic())))
        dropped: set[str] = set()
        added: set[str] = set()
        for line in got:
            if not line:  # the parent is gone: what it held is dropped below
                break
            key = lease_key(line[1:].decode().strip())
            if line.startswith(b"+"):
                held.add(key)
                added.add(key)
                dropped.discard(key)
            else:
                held.discard(key)
                added.discard(key)
                dropped.add(key)
        if b"" in got or os.getppid() != parent:
            held |= dropped
            break
        # What was let go of together is deleted together; what was newly held is set
        # together (unless another claimer holds it).
        _each(dropped, lambda k, pipe: drop(keys=[k], args=[claimer], client=pipe), client)
        _each(added, lambda key, pipe: renew(keys=[key], args=[claimer, ttl], client=pipe), client)
    _each(held, lambda key, pipe: drop(keys=[key], args=[claimer], client=pipe), client)


def _lines_waiting(lines: queue.Queue[bytes], timeout: float) -> list[bytes]:
    """The next line (waiting up to ``timeout``) and every line already behind it."""
    try:
        got = [lines.get(timeout=timeout)]
    except queue.Empty:
        return []
    while got[-1] != b"":
        try:
            got.append(lines.get_nowait())
        except queue.Empty:
            break
    return got


def _read_lines(stream: Any, lines: queue.Queue[bytes]) -> None:
    """Put each line of ``stream`` on ``lines``; an empty one at the end (the parent is gone)."""
    for line in stream:
        lines.put(line)
    lines.put(b"")


def _each(keys: set[str], run: Callable[[str, Any], object], client: Redis) -> None:
    """Run a script on each key in one pipeline; Redis being away is retried next heartbeat."""
    if not keys:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            run(key, pipe)
        pipe.execute()
    except (RedisError, OSError) as exc:
        print(f"grump lease helper: {exc}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
