"""An embed job on the GPU worker: cache lookups, batched call, shares, cache writes.

A batch of jobs calls ``EmbedService.start`` for each, then ``collect`` for
each: start looks every text up in the per-text cache and sends the misses
through the process's batcher (split into pieces no larger than one call);
collect waits for the job's pieces and returns its ``Outcome``: its own vectors in its own order, its exact share of each call's
tokens and cost, and the saving of its cache hits (which cost 0). The caller
records the outcome and its cost event in one transaction before the message
is acked.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType

import numpy as np

from grump.errors import ProviderTransient
from grump.jobs.embed.batcher import Batcher, BatchLimits
from grump.jobs.embed.cache import EmbedParams, Vector, VectorCache, text_keys
from grump.jobs.embed.calls import Piece, PieceResult, call_with_bisection, concat_rows
from grump.jobs.models import EmbedInput, Outcome
from grump.providers.base import EmbeddingProvider, estimate_tokens
from grump.routing.pricing import PriceCatalogue
from grump.settings import Settings
from grump.vectors import EncodedBatch, postprocess
from grump.vectors.device import array_module
from grump.vectors.gpu_sampler import GpuSampler


@dataclass(frozen=True)
class PendingEmbed:
    """A started embed job: its pieces in the batcher, or its outcome when all was cached."""

    keys: dict[str, str]  # text -> its cache key
    model: str
    savings: Decimal
    pieces: list[Piece]
    done: Outcome | None = None


def limits_from(settings: Settings) -> BatchLimits:
    """The batcher's limits, from settings."""
    return BatchLimits(
        max_texts=settings.embed_batch_max_texts,
        max_tokens=settings.embed_batch_max_tokens,
        wait_seconds=settings.embed_batch_wait_ms / 1000,
        calls_in_flight=settings.embed_calls_in_flight,
    )


class EmbedService:
    """The gpu worker's embedder: cached texts looked up, the rest batched into shared calls."""

    def __init__(
        self,
        provider: EmbeddingProvider,
        catalogue: PriceCatalogue,
        cache: VectorCache,
        limits: BatchLimits,
        *,
        wait_timeout_seconds: float = 600.0,
        xp: ModuleType | None = None,
    ) -> None:
        self.provider = provider
        self.catalogue = catalogue
        self.cache = cache
        self.xp = xp if xp is not None else array_module()
        self.wait_timeout = wait_timeout_seconds
        self._gpu = GpuSampler()
        self.batcher = Batcher(self._run_call, limits)

    def _run_call(self, pieces: list[Piece]) -> None:
        price = self.catalogue.price(pieces[0].params.model)
        call_with_bisection(pieces, self.provider, price, self.xp, self._gpu.after_call)

    def close(self) -> None:
        """Send what the batcher holds and stop its threads (the runtime's dispose)."""
        self.batcher.close()

    def start(self, tenant: str, payload: EmbedInput, model: str) -> PendingEmbed:
        """Look the texts up and hand the misses to the batcher; does not wait.

        A batch of jobs starts all of them before collecting any, so their
        texts share provider calls.
        """
        price = self.catalogue.price(model)  # an unknown model fails before any call
        params = EmbedParams(model, payload.input_type, payload.dimensions, payload.truncate)
        texts = list(payload.texts)
        keys = text_keys(tenant, params, texts)
        cached = {i: v for i, v in enumerate(self.cache.get_many(keys)) if v is not None}
        savings = price.cost(sum(estimate_tokens(texts[i]) for i in cached))
        if len(cached) == len(texts):
            encoded = self._from_cache(texts, cached, payload)
            done = _outcome(model, self.provider.name, encoded, 0, Decimal(0), savings, True)
            return PendingEmbed({}, model, savings, [], done)
        pieces = self._pieces(params, payload, texts, cached)
        for piece in pieces:
            self.batcher.submit(piece)
        return PendingEmbed(dict(zip(texts, keys, strict=True)), model, savings, pieces)

    def collect(self, pending: PendingEmbed) -> Outcome:
        """Wait for a started job's pieces; its outcome, or the error of its call."""
        if pending.done is not None:
            return pending.done
        results = [self._wait(piece) for piece in pending.pieces]
        keys = pending.keys
        self.cache.put_many({keys[text]: v for r in results for text, v in r.raw.items()})
        encoded = concat_rows([r.encoded for r in results])
        tokens = sum(r.tokens_in for r in results)
        cost = sum((r.cost for r in results), Decimal(0))
        provider = results[0].provider
        return _outcome(pending.model, provider, encoded, tokens, cost, pending.savings, False)

    def _from_cache(
        self, texts: Sequence[str], cached: dict[int, Vector], payload: EmbedInput
    ) -> EncodedBatch:
        matrix = np.stack([cached[i] for i in range(len(texts))])
        return postprocess(
            matrix, dimensions=payload.dimensions, encoding=payload.encoding, xp=self.xp
        )

    def _pieces(
        self,
        params: EmbedParams,
        payload: EmbedInput,
        texts: list[str],
        cached: dict[int, Vector],
    ) -> list[Piece]:
        """The job cut into pieces of at most one call's texts and tokens (misses counted)."""
        limits = self.batcher.limits
        pieces: list[Piece] = []
        start, count, tokens = 0, 0, 0
        for index, text in enumerate(texts):
            if index in cached:
                continue
            cost = estimate_tokens(text)
            if count and (count + 1 > limits.max_texts or tokens + cost > limits.max_tokens):
                pieces.append(_piece(params, payload, texts, cached, start, index))
                start, count, tokens = index, 0, 0
            count, tokens = count + 1, tokens + cost
        pieces.append(_piece(params, payload, texts, cached, start, len(texts)))
        return pieces

    def _wait(self, piece: Piece) -> PieceResult:
        try:
            return piece.future.result(timeout=self.wait_timeout)
        except FutureTimeout:
            raise ProviderTransient("embedding batch did not finish in time") from None


def _piece(
    params: EmbedParams,
    payload: EmbedInput,
    texts: list[str],
    cached: dict[int, Vector],
    start: int,
    stop: int,
) -> Piece:
    known = {i - start: cached[i] for i in range(start, stop) if i in cached}
    return Piece(params, payload.encoding, tuple(texts[start:stop]), known)


def _outcome(
    model: str,
    provider: str,
    encoded: EncodedBatch,
    tokens: int,
    cost: Decimal,
    savings: Decimal,
    cached: bool,
) -> Outcome:
    return Outcome(
        result={"model": model, **encoded.to_json()},
        model=model,
        provider=provider,
        tokens_in=tokens,
        tokens_out=0,
        cost=cost,
        # Embeddings have no premium alternative: the baseline is the same texts, uncached.
        baseline_cost=cost + savings,
        cache_savings=savings,
        cached=cached,
    )
