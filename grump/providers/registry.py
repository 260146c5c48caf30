"""Which provider answers for a model, how fast it may be called, and what it falls back to.

* NIM answers NIM models when ``GRUMP_NIM_API_KEY`` is set, or when
  ``GRUMP_NIM_URL`` was changed from the hosted default (a self-hosted NIM
  usually has no key). Anthropic answers Claude models when its key is set.
  Anything else is answered by the offline provider.
* Each tier may have a rate limit, a token bucket in Redis shared by every
  worker process, so N workers together stay within the provider's allowance.
* A routed complete job whose provider is down past its retries may run on
  the other tier's model instead (``GRUMP_FALLBACK_TO_OTHER_TIER``).
"""

from __future__ import annotations

from collections.abc import Iterator

from grump.errors import ProviderTransient
from grump.providers.base import (
    ChatDelta,
    ChatProvider,
    ChatRequest,
    ChatResult,
    EmbeddingProvider,
    EmbedRequest,
    EmbedResult,
)
from grump.providers.http import RetryPolicy
from grump.providers.offline import OfflineChat, OfflineEmbeddings
from grump.providers.ratelimit import RateLimiter
from grump.routing.pricing import PriceCatalogue
from grump.settings import Settings

# The reason carried by the ProviderTransient of a call that found no token in time:
# the provider is not down, so such a failure never triggers a fallback.
RATE_LIMITED = "rate_limited"
EMBED_TIER = "embed"


def nim_configured(settings: Settings) -> bool:
    """Whether NIM can be called: a key is set, or the URL was changed from the hosted one."""
    hosted_default = Settings.model_fields["nim_url"].default
    return bool(settings.nim_api_key) or settings.nim_url.rstrip("/") != hosted_default


def anthropic_configured(settings: Settings) -> bool:
    """Whether Claude models can be called: the Anthropic key is set."""
    return bool(settings.anthropic_api_key)


def retry_policy(settings: Settings) -> RetryPolicy:
    """How the paid providers retry transient failures, from settings."""
    return RetryPolicy(
        attempts=settings.provider_retry_attempts,
        base_delay=settings.provider_retry_base_delay_seconds,
    )


def chat_provider(model: str, catalogue: PriceCatalogue, settings: Settings) -> ChatProvider:
    """The provider that answers ``model``: its own when configured, else the offline one."""
    provider = catalogue.price(model).provider
    if provider == "nim" and nim_configured(settings):
        from grump.providers.nim import NimChat

        return NimChat(settings, retry=retry_policy(settings))
    if provider == "anthropic" and anthropic_configured(settings):
        from grump.providers.anthropic import AnthropicChat

        return AnthropicChat(settings, retry=retry_policy(settings))
    return OfflineChat(latency_seconds=settings.offline_latency_ms / 1000)


def embedding_provider(settings: Settings) -> EmbeddingProvider:
    """The provider that embeds: NIM when configured, else the offline one."""
    if nim_configured(settings):
        from grump.providers.nim import NimEmbeddings

        return NimEmbeddings(settings, retry=retry_policy(settings))
    return OfflineEmbeddings(
        default_dimensions=settings.embed_dimensions,
        latency_seconds=settings.offline_latency_ms / 1000,
    )


def rate_limit_of(settings: Settings, tier: str) -> tuple[float, int]:
    """(calls per second, burst) of a tier; a rate of 0 means unlimited."""
    limits = {
        "economy": (settings.rate_limit_economy_rps, settings.rate_limit_economy_burst),
        "premium": (settings.rate_limit_premium_rps, settings.rate_limit_premium_burst),
        EMBED_TIER: (settings.rate_limit_embed_rps, settings.rate_limit_embed_burst),
    }
    return limits.get(tier, (0.0, 1))


def fallback_model(model: str, catalogue: PriceCatalogue, settings: Settings) -> str | None:
    """The other tier's chat model for ``model``, or None when fallback is off or impossible."""
    if not settings.fallback_to_other_tier:
        return None
    other = {
        settings.economy_model: settings.premium_model,
        settings.premium_model: settings.economy_model,
    }.get(model)
    if other is None or other == model or other not in catalogue:
        return None
    return other


def is_rate_limited(error: ProviderTransient) -> bool:
    """Whether ``error`` is the tier's rate limit, not a provider outage (so no fallback)."""
    return error.details.get("reason") == RATE_LIMITED


def _take_token(limiter: RateLimiter, wait_seconds: float, provider: str) -> None:
    if limiter.acquire(wait_seconds):
        return
    raise ProviderTransient(
        f"{provider}: rate limit of this tier reached; no call slot within {wait_seconds:g}s",
        retry_after=1.0 / limiter.rate_per_second,
        provider=provider,
        reason=RATE_LIMITED,
    )


class _Limited:
    def __init__(self, limiter: RateLimiter, wait_seconds: float) -> None:
        self.limiter = limiter
        self.wait_seconds = wait_seconds


class RateLimitedChat(_Limited):
    """A chat provider that takes a token from its tier's bucket before each call."""

    def __init__(self, inner: ChatProvider, limiter: RateLimiter, wait_seconds: float) -> None:
        super().__init__(limiter, wait_seconds)
        self.inner = inner
        self.name = inner.name

    def complete(self, request: ChatRequest) -> ChatResult:
        """Take a call slot of the tier, then complete; ProviderTransient if none comes in time."""
        _take_token(self.limiter, self.wait_seconds, self.name)
        return self.inner.complete(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        """Take a call slot of the tier, then stream; ProviderTransient if none comes in time."""
        _take_token(self.limiter, self.wait_seconds, self.name)
        yield from self.inner.stream(request)


class RateLimitedEmbeddings(_Limited):
    """An embedding provider that takes a token from the embed bucket before each call."""

    def __init__(self, inner: EmbeddingProvider, limiter: RateLimiter, wait_seconds: float) -> None:
        super().__init__(limiter, wait_seconds)
        self.inner = inner
        self.name = inner.name

    def embed(self, request: EmbedRequest) -> EmbedResult:
        """Take an embed call slot, then embed; ProviderTransient if none comes in time."""
        _take_token(self.limiter, self.wait_seconds, self.name)
        return self.inner.embed(request)
