"""Everything a grump process needs, built once from Settings and lazily.

A prefork worker builds its own after the fork: engines and HTTP clients are
never shared across processes.
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from grump.ledger.db import make_engine, make_sessionmaker
from grump.pricing import PriceCatalogue, load_catalogue
from grump.providers.base import ChatProvider, EmbeddingProvider
from grump.providers.registry import chat_provider, embedding_provider
from grump.settings import Settings


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
            self._chat[model] = chat_provider(model, self.catalogue, self.settings)
        return self._chat[model]

    @cached_property
    def embeddings(self) -> EmbeddingProvider:
        return embedding_provider(self.settings)

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
