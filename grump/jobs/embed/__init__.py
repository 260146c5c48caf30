"""The GPU tier's embedding path: cross-job batching, a per-text cache, exact cost shares.

- ``shares``: largest-remainder splits of a call's tokens and cost
- ``cache``: the per-text, per-tenant vector cache (Redis or in-process)
- ``calls``: one provider call for a batch of pieces, with bisection of refusals
- ``batcher``: the gathering thread (full or after a short wait)
- ``service``: an embed job from cache lookup to ``Outcome``
"""

from grump.jobs.embed.batcher import Batcher, BatchLimits
from grump.jobs.embed.cache import EmbedParams, make_vector_cache, text_key
from grump.jobs.embed.service import EmbedService, limits_from
from grump.jobs.embed.shares import largest_remainder, occurrence_weights, split_money

__all__ = [
    "BatchLimits",
    "Batcher",
    "EmbedParams",
    "EmbedService",
    "largest_remainder",
    "limits_from",
    "make_vector_cache",
    "occurrence_weights",
    "split_money",
    "text_key",
]
