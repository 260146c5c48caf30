"""Everything a grump process needs, built once from Settings and lazily.

A ``Runtime`` is per process: engines, Redis clients, providers, caches and
the embed batcher are never shared across a fork. A prefork child calls
``dispose`` and builds its own on first use. Whether the services behind them
answer is ``grump.readiness``'s.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from grump.broker import is_amqp_url
from grump.ledger.aio import make_async_engine, make_async_sessionmaker
from grump.ledger.db import make_engine, make_sessionmaker
from grump.loop_local import LoopLocal
from grump.providers.base import ChatProvider, EmbeddingProvider
from grump.providers.registry import (
    EMBED_TIER,
    RateLimitedChat,
    RateLimitedEmbeddings,
    chat_provider,
    embedding_provider,
    rate_limit_of,
)
from grump.redis_client import async_redis_client, is_redis_url, redis_client
from grump.routing.pricing import PriceCatalogue, load_catalogue
from grump.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from grump.cache.completions import CompletionCache
    from grump.jobs.capacity import LiveCapacity
    from grump.jobs.deltalog import DeltaLog
    from grump.jobs.embed.service import EmbedService
    from grump.jobs.ended import EndedJobs
    from grump.jobs.leases import Leases
    from grump.jobs.run_grouped import LedgerGroups
    from grump.jobs.submit_groups import SubmitGroups
    from grump.jobs.waiters import JobWaiters
    from grump.providers.ratelimit import RateLimiter


AioLedger = tuple[AsyncEngine, async_sessionmaker[AsyncSession]]


async def _close_aio_ledger(ledger: AioLedger) -> None:
    await ledger[0].dispose()


async def _close_submit_groups(groups: SubmitGroups) -> None:
    await groups.aclose()


async def _close_aio_redis(clients: dict[str, AsyncRedis]) -> None:
    for client in clients.values():
        await client.aclose()


class Runtime:
    """The process's resources: ledger sessions, prices, providers, Redis, caches, embedder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._chat: dict[str, ChatProvider] = {}
        self._lock = threading.Lock()
        # Async connections belong to the event loop that made them: one set per loop.
        self._aio_ledger = LoopLocal(self._make_aio_ledger, _close_aio_ledger)
        self._aio_redis = LoopLocal(self._make_aio_redis, _close_aio_redis)
        self._submit_groups = LoopLocal(self._make_submit_groups, _close_submit_groups)
        # The process's Celery app (set by create_celery): what a worker publishes with.
        self.celery: Celery | None = None

    @cached_property
    def engine(self) -> Engine:
        """The ledger's engine (Postgres, or the embedded SQLite file)."""
        return make_engine(self.settings.effective_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the ledger; use them through ``session_scope``."""
        return make_sessionmaker(self.engine)

    def _make_aio_ledger(self) -> AioLedger:
        engine = make_async_engine(self.settings.effective_database_url)
        return engine, make_async_sessionmaker(engine)

    def _make_submit_groups(self) -> SubmitGroups:
        from grump.jobs.submit_groups import SubmitGroups

        return SubmitGroups(self)

    def submit_groups(self) -> SubmitGroups:
        """The running loop's group commit of submits (``grump.jobs.submit_groups``)."""
        return self._submit_groups.get()

    @property
    def aio_engine(self) -> AsyncEngine:
        """The running loop's async engine on the ledger (psycopg async, or aiosqlite)."""
        return self._aio_ledger.get()[0]

    @property
    def aio_sessions(self) -> async_sessionmaker[AsyncSession]:
        """The running loop's async sessions on the ledger; use them through ``async_session_scope``."""
        return self._aio_ledger.get()[1]

    @cached_property
    def catalogue(self) -> PriceCatalogue:
        """The price catalogue, with ``GRUMP_PRICE_CATALOGUE_FILE`` laid over it."""
        return load_catalogue(self.settings.price_catalogue_file)

    def chat(self, model: str) -> ChatProvider:
        """The provider that answers ``model``, behind its tier's shared rate limit."""
        with self._lock:
            if model not in self._chat:
                provider = chat_provider(model, self.catalogue, self.settings)
                limiter = self.rate_limiter(self.catalogue.price(model).tier)
                if limiter is not None and provider.name != "offline":
                    wait = self.settings.rate_limit_wait_seconds
                    provider = RateLimitedChat(provider, limiter, wait)
                self._chat[model] = provider
            return self._chat[model]

    @cached_property
    def embeddings(self) -> EmbeddingProvider:
        """The embedding provider, behind the embed tier's shared rate limit."""
        provider = embedding_provider(self.settings)
        limiter = self.rate_limiter(EMBED_TIER)
        if limiter is not None and provider.name != "offline":
            return RateLimitedEmbeddings(provider, limiter, self.settings.rate_limit_wait_seconds)
        return provider

    @cached_property
    def redis(self) -> Redis | None:
        """The client of GRUMP_REDIS_URL (caches, rate limits), or None when it is unset."""
        if not self.settings.redis_url:
            return None
        return redis_client(self.settings.redis_url)

    @cached_property
    def broker_redis(self) -> Redis | None:
        """A client of the broker when it is Redis (queue depths, readiness), else None."""
        broker = self.settings.broker_url
        return redis_client(broker) if broker and is_redis_url(broker) else None

    @cached_property
    def leases(self) -> Leases | None:
        """This process's job leases, on GRUMP_REDIS_URL or a Redis broker; None without Redis.

        A RabbitMQ broker holds no leases: with it, GRUMP_REDIS_URL is what lets recovery
        tell a dead claimer from a live one.
        """
        url = self.settings.redis_url
        if not is_redis_url(url):
            url = self.settings.broker_url if is_redis_url(self.settings.broker_url) else None
        if url is None:
            return None
        from grump.jobs.leases import Leases

        settings = self.settings
        return Leases(url, settings.worker_heartbeat_seconds, settings.worker_lease_seconds)

    @cached_property
    def live_capacity(self) -> LiveCapacity:
        """The queues' live capacity as the workers register it, read through a cache."""
        from grump.jobs.capacity import LiveCapacity

        return LiveCapacity(self.capacity_redis)

    @property
    def capacity_redis(self) -> Redis | None:
        """The Redis workers register their capacity on: GRUMP_REDIS_URL, else a Redis broker."""
        return self.redis if self.redis is not None else self.broker_redis

    @cached_property
    def job_waiters(self) -> JobWaiters:
        """This process's callers waiting on jobs, and how job events reach them and others."""
        from grump.jobs.waiters import JobWaiters

        client = self.redis if self.redis is not None else self.broker_redis
        return JobWaiters(client, self.settings.result_recheck_seconds)

    def _redis_urls(self) -> dict[str, str]:
        """The URL of each Redis this process depends on, by role."""
        urls: dict[str, str] = {}
        if is_redis_url(self.settings.broker_url):
            urls["broker"] = str(self.settings.broker_url)
        if self.settings.redis_url:
            urls["redis"] = self.settings.redis_url
        return urls

    def _make_aio_redis(self) -> dict[str, AsyncRedis]:
        return {role: async_redis_client(url) for role, url in self._redis_urls().items()}

    def aio_redis(self) -> dict[str, AsyncRedis]:
        """The running loop's ``redis.asyncio`` clients, by role (as ``_redis_urls``)."""
        return self._aio_redis.get()

    @cached_property
    def delta_log(self) -> DeltaLog:
        """Where streamed jobs' deltas go: Redis streams beside the job events, else memory."""
        from grump.jobs.deltalog import MemoryDeltaLog, RedisDeltaLog

        ttl = self.settings.stream_log_ttl_seconds
        client = self.redis if self.redis is not None else self.broker_redis
        if client is None:
            # Embedded, jobs run in this process. With a broker elsewhere and no Redis the
            # log reaches no follower (they get the answer whole at its end): kept a minute.
            return MemoryDeltaLog(self.job_waiters, ttl if self.settings.broker_url is None else 60)
        role = "redis" if self.redis is not None else "broker"
        return RedisDeltaLog(client, lambda: self.aio_redis()[role], ttl)

    def aio_lease_redis(self) -> AsyncRedis | None:
        """The running loop's client of the Redis the job leases live on; None without leases."""
        clients = self.aio_redis()
        if is_redis_url(self.settings.redis_url):
            return clients.get("redis")
        return clients.get("broker")

    @cached_property
    def ledger_groups(self) -> LedgerGroups:
        """The claims and records of this process's concurrent jobs, group-committed."""
        from grump.jobs.run_grouped import ledger_groups

        return ledger_groups(self)

    @cached_property
    def ended_jobs(self) -> EndedJobs:
        """This process's callers waiting for jobs to end, answered by batched ledger reads."""
        from grump.jobs.ended import EndedJobs
        from grump.jobs.waiters import load_ended

        return EndedJobs(self.job_waiters, load_ended(self), self.settings.result_recheck_seconds)

    @property
    def broker_amqp_url(self) -> str | None:
        """The broker's URL when it is RabbitMQ (queue depths, readiness), else None."""
        broker = self.settings.broker_url
        return broker if is_amqp_url(broker) else None

    def rate_limiter(self, tier: str) -> RateLimiter | None:
        """The tier's shared token bucket; None when unlimited or there is no Redis."""
        rate, burst = rate_limit_of(self.settings, tier)
        if rate <= 0 or self.redis is None:
            return None
        from grump.providers.ratelimit import RateLimiter, bucket_key

        return RateLimiter(self.redis, bucket_key(tier), rate, burst)

    @cached_property
    def completion_cache(self) -> CompletionCache | None:
        """The completion cache's tiers (memory, Redis, disk) as settings enable them."""
        from grump.cache.build import build_tiered_cache
        from grump.cache.completions import CompletionCache

        tiered = build_tiered_cache(self.settings, self.redis)
        if tiered is None:
            return None
        return CompletionCache(tiered, self.settings.cache_compress_min_bytes)

    @cached_property
    def embed_service(self) -> EmbedService:
        """The gpu worker's embedder: one batcher per process gathers every job's texts."""
        from grump.jobs.embed.cache import make_vector_cache
        from grump.jobs.embed.service import EmbedService, limits_from

        settings = self.settings
        return EmbedService(
            self.embeddings,
            self.catalogue,
            make_vector_cache(settings, self.redis),
            limits_from(settings),
            wait_timeout_seconds=float(settings.job_deadline_seconds),
        )

    async def aclose(self) -> None:
        """Close, on the running loop, what it used: its submit groups, async engine, Redis clients."""
        await self._submit_groups.aclose()
        await self._aio_ledger.aclose()
        await self._aio_redis.aclose()

    def dispose(self) -> None:
        """Close what was built; a forked child calls this and builds its own again."""
        if "engine" in self.__dict__:
            self.engine.dispose()
        self._submit_groups.close()
        self._aio_ledger.close()
        self._aio_redis.close()
        cache = self.__dict__.pop("completion_cache", None)
        if cache is not None:
            cache.tiered.close()
        service = self.__dict__.pop("embed_service", None)
        if service is not None:
            service.close()
        self.__dict__.pop("delta_log", None)
        self.__dict__.pop("ledger_groups", None)
        self.__dict__.pop("live_capacity", None)
        ended = self.__dict__.pop("ended_jobs", None)
        if ended is not None:
            ended.close()
        waiters = self.__dict__.pop("job_waiters", None)
        if waiters is not None:
            waiters.close()
        leases = self.__dict__.pop("leases", None)
        if leases is not None:
            leases.close()
        for name in ("redis", "broker_redis"):
            client = self.__dict__.pop(name, None)
            if client is not None:
                client.close()
        self._chat.clear()
