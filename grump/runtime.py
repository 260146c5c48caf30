"""Everything a grump process needs, built once from Settings and lazily.

A ``Runtime`` is per process: engines, Redis clients, providers, caches and
the embed batcher are never shared across a fork. A prefork child calls
``dispose`` and builds its own on first use.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from grump.ledger.db import make_engine, make_sessionmaker
from grump.providers.base import ChatProvider, EmbeddingProvider
from grump.providers.registry import (
    EMBED_TIER,
    RateLimitedChat,
    RateLimitedEmbeddings,
    chat_provider,
    embedding_provider,
    rate_limit_of,
)
from grump.redis_client import is_redis_url, redis_client
from grump.routing.pricing import PriceCatalogue, load_catalogue
from grump.settings import Settings

if TYPE_CHECKING:
    from grump.cache.completions import CompletionCache
    from grump.jobs.embed.service import EmbedService
    from grump.jobs.leases import Leases
    from grump.jobs.waiters import JobWaiters
    from grump.providers.ratelimit import RateLimiter


class Runtime:
    """The process's resources: ledger sessions, prices, providers, Redis, caches, embedder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._chat: dict[str, ChatProvider] = {}
        self._lock = threading.Lock()

    @cached_property
    def engine(self) -> Engine:
        """The ledger's engine (Postgres, or the embedded SQLite file)."""
        return make_engine(self.settings.effective_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the ledger; use them through ``session_scope``."""
        return make_sessionmaker(self.engine)

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
        """This process's job leases, on GRUMP_REDIS_URL or a Redis broker; None without Redis."""
        url = self.settings.redis_url
        if not is_redis_url(url):
            url = self.settings.broker_url if is_redis_url(self.settings.broker_url) else None
        if url is None:
            return None
        from grump.jobs.leases import Leases

        settings = self.settings
        return Leases(url, settings.worker_heartbeat_seconds, settings.worker_lease_seconds)

    @cached_property
    def job_waiters(self) -> JobWaiters:
        """This process's callers waiting on jobs, and how job events reach them and others."""
        from grump.jobs.waiters import JobWaiters

        client = self.redis if self.redis is not None else self.broker_redis
        return JobWaiters(client, self.settings.result_recheck_seconds)

    def redis_reachable(self) -> dict[str, bool]:
        """Whether each Redis this process depends on answers a PING, by role."""
        clients = {"broker": self.broker_redis, "redis": self.redis}
        reachable: dict[str, bool] = {}
        for role, client in clients.items():
            if client is None:
                continue
            try:
                reachable[role] = bool(client.ping())
            except (RedisError, OSError):
                reachable[role] = False
        return reachable

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

    def dispose(self) -> None:
        """Close what was built; a forked child calls this and builds its own again."""
        if "engine" in self.__dict__:
            self.engine.dispose()
        cache = self.__dict__.pop("completion_cache", None)
        if cache is not None:
            cache.tiered.close()
        service = self.__dict__.pop("embed_service", None)
        if service is not None:
            service.close()
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
