"""Embed jobs batched together against a NIM-format server on loopback.

Each job gets its own vectors, in its own order, equal to what a call with
only its texts returns; shares of a call add up to the call's cost; a refused
text fails only its job; the per-text cache makes repeated texts free.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from grump.errors import ProviderError, ProviderTransient
from grump.jobs.embed.batcher import BatchLimits
from grump.jobs.embed.cache import MemoryVectorCache, NoVectorCache, VectorCache
from grump.jobs.embed.service import EmbedService
from grump.jobs.models import EmbedInput, Outcome
from grump.providers.base import EmbedRequest
from grump.providers.http import RetryPolicy
from grump.providers.nim import NimEmbeddings
from grump.routing.pricing import load_catalogue
from grump.settings import Settings
from grump.vectors import postprocess
from tests.fakes.nim import FakeNim, count_tokens
from tests.fakes.server import server_error

MODEL = "nvidia/nv-embedqa-e5-v5"
TOKEN_LIMIT = 16
CATALOGUE = load_catalogue()
PRICE = CATALOGUE.price(MODEL)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeNim]:
    with FakeNim(token_limit=TOKEN_LIMIT, dimensions=32) as fake:
        yield fake


@pytest.fixture
def nim(server: FakeNim) -> FakeNim:
    server.reset()
    return server


def provider_for(nim: FakeNim) -> NimEmbeddings:
    settings = Settings(nim_url=nim.url, nim_api_key="k", provider_timeout_seconds=5.0)
    return NimEmbeddings(settings, retry=RetryPolicy(attempts=1))


def service_for(
    nim: FakeNim, *, cache: VectorCache | None = None, max_texts: int = 256, wait: float = 10.0
) -> EmbedService:
    # A long wait: a batch goes when full (or at close), so which jobs share a call is exact.
    limits = BatchLimits(max_texts=max_texts, wait_seconds=wait)
    return EmbedService(
        provider_for(nim),
        CATALOGUE,
        cache or NoVectorCache(),
        limits,
        xp=np,
        wait_timeout_seconds=10,
    )


def job(*texts: str, **fields: Any) -> EmbedInput:
    return EmbedInput(texts=list(texts), dimensions=fields.pop("dimensions", 32), **fields)


def embed_one(service: EmbedService, tenant: str, payload: EmbedInput) -> Outcome:
    return service.collect(service.start(tenant, payload, MODEL))


def run_together(
    service: EmbedService, payloads: Sequence[EmbedInput], tenant: str = "acme"
) -> list[Outcome | BaseException]:
    def one(payload: EmbedInput) -> Outcome | BaseException:
        try:
            return embed_one(service, tenant, payload)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(payloads)) as pool:
        return list(pool.map(one, payloads))


def alone(nim: FakeNim, payload: EmbedInput) -> dict[str, Any]:
    """What one call with only this job's texts gives, post-processed the same way."""
    answer = provider_for(nim).embed(
        EmbedRequest(MODEL, tuple(payload.texts), payload.input_type, payload.dimensions, "END")
    )
    encoded = postprocess(
        answer.vectors, dimensions=payload.dimensions, encoding=payload.encoding, xp=np
    )
    return encoded.to_json()


def embeddings_call_texts(nim: FakeNim) -> list[list[str]]:
    return [r.body["input"] for r in nim.requests if r.path == "/v1/embeddings"]


def test_many_jobs_share_one_call_and_each_gets_its_own_vectors(nim: FakeNim) -> None:
    payloads = [job(f"job {i} first", f"job {i} second") for i in range(20)]
    payloads.append(job("int8 please", encoding="int8"))
    payloads.append(job("bits please", encoding="binary"))
    service = service_for(nim, max_texts=42)  # all 42 texts: full
    outcomes = run_together(service, payloads)
    service.close()
    assert len(embeddings_call_texts(nim)) == 1
    nim.reset()
    for payload, outcome in zip(payloads, outcomes, strict=True):
        assert isinstance(outcome, Outcome)
        expected = alone(nim, payload)
        assert {k: outcome.result[k] for k in expected} == expected


def test_the_shares_of_a_call_add_up_to_its_cost_and_tokens(nim: FakeNim) -> None:
    payloads = [job(*(f"w{i} " * (i + 1) for i in range(k, k + 3))) for k in range(7)]
    service = service_for(nim, max_texts=9)  # distinct texts: w0..w8 in varying lengths
    outcomes = [o for o in run_together(service, payloads) if isinstance(o, Outcome)]
    service.close()
    (sent,) = embeddings_call_texts(nim)
    reported = sum(count_tokens(t) for t in sent)
    assert sum(o.tokens_in for o in outcomes) == reported
    assert sum((o.cost for o in outcomes), Decimal(0)) == PRICE.cost(reported)
    assert all(o.cost > 0 and o.baseline_cost == o.cost for o in outcomes)
    # The job with the longest texts pays the most.
    assert max(outcomes, key=lambda o: o.cost) is outcomes[-1]


def test_identical_texts_of_different_jobs_are_sent_once(nim: FakeNim) -> None:
    service = service_for(nim, wait=0.5)  # the three jobs arrive well within the wait
    outcomes = run_together(service, [job("same", "other"), job("same"), job("other", "same")])
    service.close()
    (sent,) = embeddings_call_texts(nim)
    assert sorted(sent) == ["other", "same"]
    vectors = [o.result["embeddings"] for o in outcomes if isinstance(o, Outcome)]
    assert vectors[1][0] == vectors[0][0] == vectors[2][1]
    assert vectors[0][1] == vectors[2][0]


def test_a_refused_text_fails_only_its_own_job(nim: FakeNim) -> None:
    poisoned = job("fine words", "word " * (TOKEN_LIMIT + 5), truncate="NONE")
    others = [job(f"healthy {i}", truncate="NONE") for i in range(7)]
    service = service_for(nim, max_texts=9)
    outcomes = run_together(service, [*others[:3], poisoned, *others[3:]])
    service.close()
    failed = outcomes[3]
    assert isinstance(failed, ProviderError)
    assert "exceeds maximum allowed token size" in failed.message
    good = [o for i, o in enumerate(outcomes) if i != 3]
    assert all(isinstance(o, Outcome) for o in good)
    succeeded_texts = {t for call in embeddings_call_texts(nim)[1:] for t in call}
    assert {f"healthy {i}" for i in range(7)} <= succeeded_texts


def test_a_failed_call_fails_only_the_jobs_in_it(nim: FakeNim) -> None:
    service = service_for(nim, max_texts=2)
    nim.script(server_error("nim", 503))
    first = run_together(service, [job("a"), job("b")])
    second = run_together(service, [job("c"), job("d")])
    service.close()
    assert all(isinstance(o, ProviderTransient) for o in first)
    assert all(isinstance(o, Outcome) for o in second)


def test_cached_texts_are_free_and_record_their_saving(nim: FakeNim) -> None:
    service = service_for(nim, cache=MemoryVectorCache(100, 60), wait=0.001)
    first = embed_one(service, "acme", job("alpha", "beta"))
    again = embed_one(service, "acme", job("alpha", "beta"))
    mixed = embed_one(service, "acme", job("beta", "gamma", "alpha"))
    other_tenant = embed_one(service, "globex", job("alpha"))
    service.close()
    assert embeddings_call_texts(nim) == [["alpha", "beta"], ["gamma"], ["alpha"]]
    assert again.cost == 0 and again.tokens_in == 0 and again.cached
    assert again.cache_savings > 0 and again.baseline_cost == again.cache_savings
    assert again.result["embeddings"] == first.result["embeddings"]
    assert mixed.cost == PRICE.cost(count_tokens("gamma")) and not mixed.cached
    assert mixed.result["embeddings"][0] == first.result["embeddings"][1]
    assert other_tenant.cost > 0  # one tenant never reads another's entries


def test_a_job_larger_than_one_call_is_split_and_kept_in_order(nim: FakeNim) -> None:
    payload = job(*(f"text number {i}" for i in range(11)))
    service = service_for(nim, max_texts=4, wait=0.001)
    outcome = embed_one(service, "acme", payload)
    service.close()
    # Two calls may be in flight at once, so the fake can log them in either order.
    assert sorted(len(c) for c in embeddings_call_texts(nim)) == [3, 4, 4]
    nim.reset()
    assert outcome.result["embeddings"] == alone(nim, payload)["embeddings"]
