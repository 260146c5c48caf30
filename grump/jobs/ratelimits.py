"""Requests per second and tokens per minute, per key and per tenant, checked at submit.

Each limit is a token bucket in Redis (``grump:limits:...``), shared by every API
process. One Lua script refills and checks every bucket a submit touches and takes
from all of them or from none, so a refused submit costs no limit anything. A
request is one submitted job; its tokens are its estimated input plus, for a
completion, its ``max_tokens``. The script reads Redis's clock, so the API
processes' clocks do not have to agree.
"""

from __future__ import annotations

import functools
import math
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import redis
from redis.asyncio import Redis as AsyncRedis

from grump.errors import RateLimited, ServiceUnavailable
from grump.jobs.models import AnyJobRequest, CompleteJobRequest, EmbedJobRequest
from grump.providers.base import estimate_tokens
from grump.routing.pricing import MESSAGE_OVERHEAD_TOKENS
from grump.settings import Settings

if TYPE_CHECKING:
    from grump.runtime import Runtime

KEY_PREFIX = "grump:limits:"

# KEYS: the buckets; ARGV: rate/s, burst, wanted for each, in KEYS' order.
# Returns {1, "0", 0} when every bucket gave, or {0, "<seconds>", <index of the worst>}.
_TAKE_ALL = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local levels = {}
local wait, worst = 0, 0
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  local wanted = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  levels[i] = tokens
  if tokens < wanted and (wanted - tokens) / rate > wait then
    wait, worst = (wanted - tokens) / rate, i
  end
end
if worst > 0 then return {0, string.format('%.6f', wait), worst} end
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.6f', levels[i] - tonumber(ARGV[3 * i])),
             'at', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
return {1, '0', 0}
"""


@dataclass(frozen=True)
class Caller:
    """Whose limits a submit spends: the key's lineage and its own limits (None: the default)."""

    key_id: int | None = None
    rps_limit: float | None = None
    tpm_limit: int | None = None


@dataclass(frozen=True)
class Bucket:
    """One limit a submit takes from: its Redis key, refill rate, size and what it takes."""

    key: str
    rate: float
    burst: float
    wanted: float
    scope: str  # "key" or "tenant"
    limit: str  # "rps" or "tpm"


def request_tokens(request: AnyJobRequest) -> int:
    """The tokens a request counts against a tokens-per-minute limit."""
    if isinstance(request, CompleteJobRequest):
        spoken = sum(
            estimate_tokens(m.text()) + MESSAGE_OVERHEAD_TOKENS for m in request.input.messages
        )
        return spoken + request.input.max_tokens
    if isinstance(request, EmbedJobRequest):
        return sum(estimate_tokens(text) for text in request.input.texts)
    return 0


@functools.lru_cache(maxsize=8)
def _metrics() -> ModuleType:
    # Imported when first counted, not with this module: Settings' validator imports it,
    # and a prefork worker must choose prometheus-client's multiprocess mode first.
    from grump import metrics

    return metrics


def parse_tenant_limits(text: str | None) -> dict[str, tuple[float, int]]:
    """``acme=50/200000,beta=5/0`` as {tenant: (requests/s, tokens/min)}; ValueError if unreadable."""
    found: dict[str, tuple[float, int]] = {}
    for entry in filter(None, (part.strip() for part in (text or "").split(","))):
        tenant, _, rates = entry.rpartition("=")
        rps, _, tpm = rates.partition("/")
        try:
            limits = (float(rps), int(tpm))
        except ValueError:
            limits = (-1.0, -1)
        if not tenant or not math.isfinite(limits[0]) or min(limits) < 0:
            raise ValueError(
                f"tenant rate limit {entry!r}: write tenant=requests_per_s/tokens_per_min"
            )
        found[tenant.strip()] = limits
    return found


def tenant_limits(settings: Settings, tenant: str) -> tuple[float, int]:
    """A tenant's (requests/s, tokens/min): its own entry, else the settings' default (0: none)."""
    own = parse_tenant_limits(settings.tenant_rate_limits).get(tenant)
    return own if own is not None else (settings.tenant_rps_limit, settings.tenant_tpm_limit)


def key_limits(settings: Settings, caller: Caller) -> tuple[float, int]:
    """A key's (requests/s, tokens/min): its own, else the settings' default (0: none)."""
    rps = settings.key_rps_limit if caller.rps_limit is None else caller.rps_limit
    tpm = settings.key_tpm_limit if caller.tpm_limit is None else caller.tpm_limit
    return rps, tpm


def buckets_for(settings: Settings, tenant: str, caller: Caller, tokens: int) -> list[Bucket]:
    """The buckets one submit of ``tokens`` takes from; a limit of 0 is no limit."""
    found: list[Bucket] = []
    scopes: list[tuple[str, str, float, int]] = [
        ("tenant", f"t:{tenant}", *tenant_limits(settings, tenant))
    ]
    if caller.key_id is not None:
        scopes.insert(0, ("key", f"k:{caller.key_id}", *key_limits(settings, caller)))
    for scope, name, rps, tpm in scopes:
        if rps > 0:
            found.append(Bucket(f"{KEY_PREFIX}{name}:rps", rps, max(1.0, rps), 1, scope, "rps"))
        if tpm > 0 and tokens > 0:
            # A request bigger than a minute's tokens takes the whole minute, not forever.
            wanted = min(tokens, tpm)
            found.append(Bucket(f"{KEY_PREFIX}{name}:tpm", tpm / 60, tpm, wanted, scope, "tpm"))
    return found


def _args(buckets: list[Bucket]) -> list[float]:
    return [value for b in buckets for value in (b.rate, b.burst, b.wanted)]


def _verdict(buckets: list[Bucket], answer: list[int | bytes]) -> None:
    taken, wait, worst = answer
    if int(taken) == 1:
        return
    bucket = buckets[int(worst) - 1]
    _metrics().RATE_LIMITED.labels(bucket.scope, bucket.limit).inc()
    retry_after = max(1, math.ceil(float(wait)))
    slot = RETRY_AFTER.get()
    if slot is not None:
        slot.append(retry_after)
    unit = "requests per second" if bucket.limit == "rps" else "tokens per minute"
    raise RateLimited(
        f"the {bucket.scope}'s limit of {bucket.burst if bucket.limit == 'tpm' else bucket.rate:g}"
        f" {unit} is spent; retry after {retry_after} s",
        retry_after,
        scope=bucket.scope,
        limit=bucket.limit,
    )


def shared_redis_async(runtime: Runtime) -> AsyncRedis | None:
    """The running loop's client of the Redis API processes share (limits, key epoch), if any."""
    clients = runtime.aio_redis()
    return clients.get("redis") or clients.get("broker")


def take(client: redis.Redis | None, buckets: list[Bucket]) -> None:
    """Take from every bucket or raise ``RateLimited``; no Redis or no bucket: no limit."""
    if client is None or not buckets:
        return
    try:
        answer = client.eval(_TAKE_ALL, len(buckets), *[b.key for b in buckets], *_args(buckets))
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"rate limits unavailable: {exc}") from exc
    _verdict(buckets, list(answer))


async def take_async(client: AsyncRedis | None, buckets: list[Bucket]) -> None:
    """``take`` through ``redis.asyncio``, on the event loop."""
    if client is None or not buckets:
        return
    keys = [b.key for b in buckets]
    try:
        answer = await client.eval(_TAKE_ALL, len(buckets), *keys, *_args(buckets))
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"rate limits unavailable: {exc}") from exc
    _verdict(buckets, list(answer))


def admit(runtime: Runtime, tenant: str, request: AnyJobRequest, caller: Caller) -> None:
    """Take a submit's request and tokens from its key's and tenant's limits, or raise ``RateLimited``."""
    buckets = buckets_for(runtime.settings, tenant, caller, request_tokens(request))
    try:
        take(runtime.redis or runtime.broker_redis, buckets)
    except RateLimited:
        _metrics().JOBS_REJECTED.labels(request.kind.value, "rate_limit").inc()
        raise


async def admit_async(
    runtime: Runtime, tenant: str, request: AnyJobRequest, caller: Caller
) -> None:
    """``admit`` on the event loop, through the loop's ``redis.asyncio`` client."""
    buckets = buckets_for(runtime.settings, tenant, caller, request_tokens(request))
    try:
        await take_async(shared_redis_async(runtime), buckets)
    except RateLimited:
        _metrics().JOBS_REJECTED.labels(request.kind.value, "rate_limit").inc()
        raise


# The caller of the request being served, set by the API's authentication: a submit
# that is not told its caller (the OpenAI routes pass only the tenant) takes it from here.
CURRENT_CALLER: ContextVar[tuple[str, Caller] | None] = ContextVar("grump_caller", default=None)


# Where a refusal leaves its Retry-After for the API's middleware (grump.api.retryafter).
RETRY_AFTER: ContextVar[list[int] | None] = ContextVar("grump_retry_after", default=None)


def caller_of(tenant: str, caller: Caller | None) -> Caller:
    """``caller``, else the current request's caller when it speaks for ``tenant``."""
    if caller is not None:
        return caller
    current = CURRENT_CALLER.get()
    if current is not None and current[0] == tenant:
        return current[1]
    return Caller()
