"""Everything a grump process needs, built once from Settings and lazily.

A prefork worker builds its own after the fork: engines and HTTP clients are
never shared across processes.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

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
from grump.routing.pricing import PriceCatalogue, load_catalogue
from grump.settings import Settings

if TYPE_CHECKING:
    import redis

    from grump.cache.completions import CompletionCache
    from grump.providers.ratelimit import RateLimiter


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._chat: dict[str, ChatProvider] = {}

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def catalogue(self) -> PriceCatalogue:
        return load_catalogue(self.settings.price_catalogue_file)

    def chat(self, model: str) -> ChatProvider:
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
        provider = embedding_provider(self.settings)
        limiter = self.rate_limiter(EMBED_TIER)
        if limiter is not None and provider.name != "offline":
            return RateLimitedEmbeddings(provider, limiter, self.settings.rate_limit_wait_seconds)
        return provider

    # Completions: cache, Redis and rate limits (built on first use)
    @cached_property
    def redis(self) -> redis.Redis | None:
        """The client of GRUMP_REDIS_URL (cache, rate limits), or None when it is unset."""
        if not self.settings.redis_url:
            return None
        import redis as redis_lib

        return redis_lib.Redis.from_url(
            self.settings.redis_url, socket_connect_timeout=2, socket_timeout=2
        )

    def rate_limiter(self, tier: str) -> RateLimiter | None:
        """The tier's shared token bucket; None when unlimited or there is no Redis."""
        rate, burst = rate_limit_of(self.settings, tier)
        if rate <= 0 or self.redis is None:
            return None
        from grump.providers.ratelimit import RateLimiter, bucket_key

        return RateLimiter(self.redis, bucket_key(tier), rate, burst)

    @cached_property
    def completion_cache(self) -> CompletionCache | None:
        from grump.cache.build import build_tiered_cache
        from grump.cache.completions import CompletionCache

        tiered = build_tiered_cache(self.settings, self.redis)
        if tiered is None:
            return None
        return CompletionCache(tiered, self.settings.cache_compress_min_bytes)

    def redis_urls(self) -> dict[str, str]:
        """The Redis servers this process depends on, by role."""
        urls: dict[str, str] = {}
        broker = self.settings.broker_url
        if broker and broker.startswith(("redis://", "rediss://")):
            urls["broker"] = broker
        if self.settings.redis_url:
            urls["redis"] = self.settings.redis_url
        return urls

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        cache = self.__dict__.pop("completion_cache", None)
        if cache is not None:
            cache.tiered.close()
        client = self.__dict__.pop("redis", None)
        if client is not None:
            client.close()
