"""Which provider answers for a model: a real one when its key is set, else offline."""

from __future__ import annotations

from grump.pricing import PriceCatalogue
from grump.providers.base import ChatProvider, EmbeddingProvider
from grump.providers.offline import OfflineChat, OfflineEmbeddings
from grump.settings import Settings


def chat_provider(model: str, catalogue: PriceCatalogue, settings: Settings) -> ChatProvider:
    provider = catalogue.price(model).provider
    if provider == "nim" and settings.nim_api_key:
        from grump.providers.nim import NimChat

        return NimChat(settings)
    if provider == "anthropic" and settings.anthropic_api_key:
        from grump.providers.anthropic import AnthropicChat

        return AnthropicChat(settings)
    return OfflineChat(latency_seconds=settings.offline_latency_ms / 1000)


def embedding_provider(settings: Settings) -> EmbeddingProvider:
    if settings.nim_api_key:
        from grump.providers.nim import NimEmbeddings

        return NimEmbeddings(settings)
    return OfflineEmbeddings(
        default_dimensions=settings.embed_dimensions,
        latency_seconds=settings.offline_latency_ms / 1000,
    )
