"""One provider call for a batch of pieces (parts of jobs), and what each piece gets back.

A call sends every distinct uncached text of its pieces once, then hands each
piece its own rows in its own order (cached rows included), post-processed
once per encoding group, with its exact share of the call's tokens and cost.

A provider refusal (a 4xx: e.g. a text too long with truncate NONE) is
bisected: the pieces are split in halves and each half is called again until
the refused piece stands alone and fails with the provider's message; the
others succeed. Any other error fails or retries only the pieces of the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType

import numpy as np

from grump import metrics
from grump.errors import ProviderError
from grump.jobs.embed.cache import EmbedParams, Vector
from grump.jobs.embed.shares import largest_remainder, occurrence_weights, split_money
from grump.providers.base import EmbeddingProvider, EmbedRequest
from grump.routing.pricing import ModelPrice
from grump.vectors import EncodedBatch, Encoding, postprocess

# Statuses that mean "this request is refused", where one bad text can be to blame.
_REFUSAL_STATUSES = frozenset({400, 413, 422})


@dataclass(frozen=True)
class PieceResult:
    """A piece's part of a call: its encoded rows, raw vectors to cache, its tokens and cost."""

    encoded: EncodedBatch  # one row per text of the piece, in its order
    raw: dict[str, Vector]  # the provider's vector of each text that was sent
    tokens_in: int
    cost: Decimal
    provider: str


@dataclass(eq=False)
class Piece:
    """Up to one call's worth of one job's texts, waiting to be sent."""

    params: EmbedParams
    encoding: Encoding
    texts: tuple[str, ...]
    cached: dict[int, Vector]  # position -> vector already known
    queued_at: float = field(default_factory=time.monotonic)
    future: Future[PieceResult] = field(default_factory=Future)

    @property
    def misses(self) -> list[str]:
        """The piece's texts with no cached vector: what the call must send."""
        return [t for i, t in enumerate(self.texts) if i not in self.cached]


def call_with_bisection(
    pieces: Sequence[Piece],
    provider: EmbeddingProvider,
    price: ModelPrice,
    xp: ModuleType,
    on_call: Callable[[int], None] = lambda _: None,
) -> None:
    """Resolve every piece's future: a result, or the error that concerns it."""
    try:
        results = _call(pieces, provider, price, xp, on_call)
    except ProviderError as exc:
        if len(pieces) > 1 and exc.details.get("status") in _REFUSAL_STATUSES:
            half = len(pieces) // 2
            call_with_bisection(pieces[:half], provider, price, xp, on_call)
            call_with_bisection(pieces[half:], provider, price, xp, on_call)
            return
        _fail_all(pieces, exc)
        return
    except Exception as exc:  # transient or unexpected: every piece of this call, no other
        _fail_all(pieces, exc)
        return
    for piece, result in results:
        if isinstance(result, BaseException):
            piece.future.set_exception(result)
        else:
            piece.future.set_result(result)


def _fail_all(pieces: Sequence[Piece], error: BaseException) -> None:
    for piece in pieces:
        piece.future.set_exception(error)


def _call(
    pieces: Sequence[Piece],
    provider: EmbeddingProvider,
    price: ModelPrice,
    xp: ModuleType,
    on_call: Callable[[int], None],
) -> list[tuple[Piece, PieceResult | BaseException]]:
    params = pieces[0].params
    misses = [piece.misses for piece in pieces]
    distinct = list(dict.fromkeys(t for texts in misses for t in texts))
    answer = provider.embed(
        EmbedRequest(
            model=params.model,
            texts=tuple(distinct),
            input_type=params.input_type,
            dimensions=params.dimensions,
            truncate=params.truncate,
        )
    )
    metrics.BATCH_REQUESTS.labels(params.model).inc(len(distinct))
    on_call(len(distinct))
    fresh = _matrix(answer.vectors, len(distinct))
    row_of = {text: i for i, text in enumerate(distinct)}
    weights = occurrence_weights(misses)
    tokens = largest_remainder(answer.tokens_in, weights)
    costs = split_money(price.cost(answer.tokens_in), weights)
    raws = [_piece_rows(piece, fresh, row_of) for piece in pieces]
    encoded = _postprocess_by_encoding(pieces, raws, xp)
    results: list[tuple[Piece, PieceResult | BaseException]] = []
    for index, piece in enumerate(pieces):
        rows = encoded[index]
        if isinstance(rows, BaseException):
            results.append((piece, rows))
            continue
        sent = {t: fresh[row_of[t]] for t in misses[index]}
        results.append(
            (piece, PieceResult(rows, sent, tokens[index], costs[index], answer.provider))
        )
    return results


def _matrix(vectors: list[list[float]], expected_rows: int) -> Vector:
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"embedding batch is not a numeric matrix: {exc}") from exc
    if matrix.ndim != 2 or matrix.shape[0] != expected_rows:
        raise ProviderError(f"embedding batch has shape {matrix.shape} for {expected_rows} texts")
    return matrix


def _piece_rows(piece: Piece, fresh: Vector, row_of: dict[str, int]) -> Vector:
    rows = np.empty((len(piece.texts), fresh.shape[1]), dtype=np.float32)
    for position, text in enumerate(piece.texts):
        known = piece.cached.get(position)
        if known is not None and known.shape != (fresh.shape[1],):
            raise ProviderError(
                f"cached vector has {known.shape[0]} dimensions, the provider gave {fresh.shape[1]}"
            )
        rows[position] = known if known is not None else fresh[row_of[text]]
    return rows


def _postprocess_by_encoding(
    pieces: Sequence[Piece], raws: Sequence[Vector], xp: ModuleType
) -> list[EncodedBatch | BaseException]:
    """One device round trip per encoding: the pieces' rows stacked, processed, split."""
    out: list[EncodedBatch | BaseException] = [ProviderError("not processed")] * len(pieces)
    groups: dict[Encoding, list[int]] = {}
    for index, piece in enumerate(pieces):
        groups.setdefault(piece.encoding, []).append(index)
    dimensions = pieces[0].params.dimensions
    for encoding, members in groups.items():
        try:
            stacked = np.concatenate([raws[i] for i in members])
            batch = postprocess(stacked, dimensions=dimensions, encoding=encoding, xp=xp)
        except Exception as exc:  # e.g. NaN from the provider: only this group's jobs fail
            for i in members:
                out[i] = exc
            continue
        start = 0
        for i in members:
            stop = start + len(raws[i])
            out[i] = rows_of(batch, start, stop)
            start = stop
    return out


def rows_of(batch: EncodedBatch, start: int, stop: int) -> EncodedBatch:
    """Rows ``start:stop`` of a post-processed batch, scales included: one piece's share."""
    scales = None if batch.scales is None else batch.scales[start:stop]
    return EncodedBatch(batch.encoding, batch.dimensions, batch.vectors[start:stop], scales)


def concat_rows(parts: Sequence[EncodedBatch]) -> EncodedBatch:
    """Pieces of one job joined back in order (post-processing works row by row)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    scales = None
    if first.scales is not None:
        scales = np.concatenate([p.scales for p in parts if p.scales is not None])
    return EncodedBatch(
        first.encoding, first.dimensions, np.concatenate([p.vectors for p in parts]), scales
    )
