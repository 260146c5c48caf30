"""A token bucket in Redis, shared by every worker process of a tier.

Each tier has one bucket (``grump:ratelimit:<tier>``). Refill and take happen
in one Lua script, so any number of processes on any number of hosts see one
consistent bucket; the script reads Redis's own clock, so the workers' clocks
do not have to agree.
"""

from __future__ import annotations

import math
import random
import time

import redis

from grump.errors import ServiceUnavailable

KEY_PREFIX = "grump:ratelimit:"
_MIN_SLEEP = 0.001

# KEYS[1] bucket hash; ARGV rate/s, burst, tokens wanted.
# Returns {1, "0"} when taken, or {0, "<seconds until enough tokens>"}.
# Numbers travel as strings: Redis turns a Lua number reply into an integer.
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
-- Redis before 5 replicates scripts verbatim and refuses writes after TIME.
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local taken = 0
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
  taken = 1
else
  wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {taken, string.format('%.6f', wait)}
"""


def bucket_key(tier: str) -> str:
    """The Redis key of ``tier``'s bucket."""
    return f"{KEY_PREFIX}{tier}"


class RateLimiter:
    """At most ``rate_per_second`` acquisitions a second on average, ``burst`` at once.

    Every ``RateLimiter`` built on the same Redis and ``key`` shares one
    bucket, whichever process it lives in.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        key: str,
        rate_per_second: float,
        burst: int,
    ) -> None:
        if not rate_per_second > 0 or not math.isfinite(rate_per_second):
            raise ValueError("rate_per_second must be a positive number")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.key = key
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._take_script = redis_client.register_script(_TAKE_SCRIPT)

    def try_acquire(self) -> tuple[bool, float]:
        """Take a token if one is there; else say how long until one should be."""
        try:
            taken, wait = self._take_script(
                keys=[self.key], args=[self.rate_per_second, self.burst, 1]
            )
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"rate limiter unavailable: {exc}") from exc
        return int(taken) == 1, float(wait)

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a token; True when one was taken.

        Sleeps until the bucket should hold a token rather than polling, and
        gives up at once when even that would be past the deadline.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            taken, wait = self.try_acquire()
            if taken:
                return True
            remaining = deadline - time.monotonic()
            if wait > remaining:
                return False
            # Other processes race for the same token: spread the wake-ups a little.
            jittered = max(wait, _MIN_SLEEP) * (1.0 + 0.1 * random.random())
            time.sleep(min(jittered, remaining))
