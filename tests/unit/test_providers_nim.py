"""NIM chat and embeddings against a fake NIM speaking its wire format on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from grump.errors import ProviderError, ProviderTransient
from grump.providers.base import EmbedRequest, estimate_tokens
from grump.providers.http import RetryPolicy
from grump.providers.nim import NimChat, NimEmbeddings, nim_base_url
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.nim import FakeNim, count_tokens, fake_vector
from tests.fakes.server import failure, malformed, rate_limited, reply, server_error, slow
from tests.services import free_port

API_KEY = "nvapi-test-key"
TOKEN_LIMIT = 8
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=2.0)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeNim]:
    with FakeNim(api_key=API_KEY, token_limit=TOKEN_LIMIT) as fake:
        yield fake


@pytest.fixture
def nim(server: FakeNim) -> FakeNim:
    server.reset()
    server.latency_ms = 0.0
    return server


def settings_for(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "nim_url": url,
        "nim_api_key": API_KEY,
        "provider_timeout_seconds": 2.0,
        "provider_connect_timeout_seconds": 1.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def chat_client(nim: FakeNim, retry: RetryPolicy = FAST, **overrides: object) -> NimChat:
    return NimChat(settings_for(nim.url, **overrides), retry=retry)


def embed_client(nim: FakeNim, retry: RetryPolicy = FAST) -> NimEmbeddings:
    return NimEmbeddings(settings_for(nim.url), retry=retry)


QUESTION = chat_request(
    "moonshotai/kimi-k2.5",
    ("system", "You answer in few words."),
    ("user", "what is the capital of France"),
    max_tokens=50,
    temperature=0.3,
)


# --- chat ------------------------------------------------------------------------


def test_chat_returns_content_and_the_usage_nim_reported(nim: FakeNim) -> None:
    with chat_client(nim) as chat:
        result = chat.complete(QUESTION)
    assert result.content == "echo: what is the capital of France"
    assert result.provider == "nim" == chat.name
    assert result.model == "moonshotai/kimi-k2.5"
    assert result.finish_reason == "stop"
    prompt = " ".join(m.content for m in QUESTION.messages)
    assert result.tokens_in == count_tokens(prompt)
    assert result.tokens_out == count_tokens(result.content)
    # NIM's count, not grump's four-characters-a-token estimate
    assert result.tokens_in != sum(estimate_tokens(m.content) for m in QUESTION.messages)


def test_as_many_calls_at_once_as_a_worker_makes_keep_their_connections(nim: FakeNim) -> None:
    """A worker's concurrent calls neither queue for the pool nor reconnect: a second round opens none."""
    nim.latency_ms = 200.0  # every call of a round is in flight at once
    calls = 48  # above httpx's default of 20 connections kept alive
    with chat_client(nim, llm_concurrency=calls) as chat, ThreadPoolExecutor(calls) as pool:
        list(pool.map(lambda _: chat.complete(QUESTION), range(calls)))
        opened = nim.connections
        list(pool.map(lambda _: chat.complete(QUESTION), range(calls)))
    assert opened == calls
    assert nim.connections == opened
    assert len(nim.requests) == 2 * calls


def test_chat_sends_the_openai_request_with_the_bearer_key(nim: FakeNim) -> None:
    with chat_client(nim) as chat:
        chat.complete(QUESTION)
    [sent] = nim.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["model"] == QUESTION.model
    assert sent.body["max_tokens"] == 50
    assert sent.body["temperature"] == 0.3
    assert sent.body["messages"] == [
        {"role": "system", "content": "You answer in few words."},
        {"role": "user", "content": "what is the capital of France"},
    ]


def test_chat_cut_short_reports_length(nim: FakeNim) -> None:
    short = chat_request("m", ("user", "one two three four"), max_tokens=2)
    with chat_client(nim) as chat:
        result = chat.complete(short)
    assert (result.finish_reason, result.tokens_out) == ("length", 2)


def test_usage_is_estimated_only_when_nim_leaves_it_out(nim: FakeNim) -> None:
    body = {"model": "m", "choices": [{"message": {"content": "a fairly long answer"}}]}
    nim.script(reply(body))
    with chat_client(nim) as chat:
        result = chat.complete(QUESTION)
    assert result.tokens_out == estimate_tokens("a fairly long answer")
    assert result.tokens_in == sum(estimate_tokens(m.content) for m in QUESTION.messages)


@pytest.mark.parametrize("url_suffix", ["", "/", "/v1", "/v1/"])
def test_base_url_gets_v1_when_missing(nim: FakeNim, url_suffix: str) -> None:
    with NimChat(settings_for(nim.url + url_suffix), retry=FAST) as chat:
        chat.complete(QUESTION)
    assert [r.path for r in nim.requests] == ["/v1/chat/completions"]


def test_base_url_normalisation() -> None:
    assert nim_base_url("http://nim:8000") == "http://nim:8000/v1"
    assert nim_base_url("https://integrate.api.nvidia.com/v1") == (
        "https://integrate.api.nvidia.com/v1"
    )


# --- retries ---------------------------------------------------------------------


def test_429_and_500_are_retried_until_success(nim: FakeNim) -> None:
    nim.script(rate_limited("nim"), server_error("openai", 503))
    with chat_client(nim) as chat:
        result = chat.complete(QUESTION)
    assert result.content.startswith("echo:")
    assert nim.call_count == 3


@pytest.mark.parametrize("shape", ["nim", "openai", "plain"])
def test_429_past_the_last_attempt_is_transient_with_the_message(nim: FakeNim, shape: str) -> None:
    nim.script(*[rate_limited(shape, retry_after="0") for _ in range(3)])  # type: ignore[arg-type]
    with chat_client(nim) as chat, pytest.raises(ProviderTransient) as caught:
        chat.complete(QUESTION)
    assert nim.call_count == FAST.attempts
    assert "Rate limit exceeded" in caught.value.message
    assert caught.value.details["status"] == 429
    assert caught.value.retry_after == 0.0


def test_retry_after_seconds_is_waited_for(nim: FakeNim) -> None:
    nim.script(rate_limited("nim", retry_after="1"))
    with chat_client(nim) as chat:
        chat.complete(QUESTION)
    first, second = nim.requests
    assert second.received_at - first.received_at >= 1.0


def test_retry_after_http_date_is_waited_for(nim: FakeNim) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    nim.script(rate_limited("openai", retry_after=later))
    sleeps: list[float] = []
    retry = RetryPolicy(attempts=2, base_delay=0.01, max_delay=10.0, sleep=sleeps.append)
    with chat_client(nim, retry) as chat:
        chat.complete(QUESTION)
    assert nim.call_count == 2
    [waited] = sleeps
    assert 1.5 <= waited <= 3.1  # the date has whole seconds, the clock moved on a little


def test_retry_after_beyond_the_cap_is_handed_back_not_slept(nim: FakeNim) -> None:
    nim.script(rate_limited("nim", retry_after="120"))
    sleeps: list[float] = []
    retry = RetryPolicy(attempts=5, base_delay=0.01, max_delay=30.0, sleep=sleeps.append)
    with chat_client(nim, retry) as chat, pytest.raises(ProviderTransient) as caught:
        chat.complete(QUESTION)
    assert caught.value.retry_after == 120.0
    assert (nim.call_count, sleeps) == (1, [])


def test_backoff_grows_between_attempts(nim: FakeNim) -> None:
    nim.script(server_error("nim"), server_error("nim"), server_error("nim"))
    sleeps: list[float] = []
    retry = RetryPolicy(attempts=4, base_delay=1.0, max_delay=30.0, sleep=sleeps.append)
    with chat_client(nim, retry) as chat:
        chat.complete(QUESTION)
    assert len(sleeps) == 3
    assert 1.0 <= sleeps[0] <= 1.5 and 2.0 <= sleeps[1] <= 2.5 and 4.0 <= sleeps[2] <= 4.5


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_4xx_fail_at_once_with_nims_message(nim: FakeNim, status: int) -> None:
    nim.script(failure(status, "Function id 'abc': model not available", "nim"))
    with chat_client(nim) as chat, pytest.raises(ProviderError) as caught:
        chat.complete(QUESTION)
    assert nim.call_count == 1
    assert "Function id 'abc': model not available" in caught.value.message
    assert caught.value.details == {"provider": "nim", "status": status}


def test_a_wrong_key_is_a_provider_error_not_retried(nim: FakeNim) -> None:
    with pytest.raises(ProviderError) as caught:
        chat_client(nim, nim_api_key="wrong").complete(QUESTION)
    assert (nim.call_count, caught.value.details["status"]) == (1, 401)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b"[1, 2]",
        b'{"choices": []}',
        b'{"choices": [{}]}',
        b'{"choices": [{"message": {"content": 7}}]}',
        b'{"choices": [',
    ],
)
def test_malformed_success_is_a_provider_error_without_retry(nim: FakeNim, body: bytes) -> None:
    nim.script(malformed(body))
    with chat_client(nim) as chat, pytest.raises(ProviderError) as caught:
        chat.complete(QUESTION)
    assert nim.call_count == 1
    assert "malformed response" in caught.value.message


def test_a_slow_answer_times_out_and_is_retried_then_gives_up(nim: FakeNim) -> None:
    nim.latency_ms = 400
    retry = RetryPolicy(attempts=2, base_delay=0.01)
    with (
        chat_client(nim, retry, provider_timeout_seconds=0.1) as chat,
        pytest.raises(ProviderTransient) as caught,
    ):
        chat.complete(QUESTION)
    assert nim.call_count == 2
    assert "timed out" in caught.value.message


def test_a_slow_answer_within_the_timeout_succeeds(nim: FakeNim) -> None:
    nim.script(slow(150))
    with chat_client(nim, provider_timeout_seconds=1.0) as chat:
        assert chat.complete(QUESTION).content.startswith("echo:")
    assert nim.call_count == 1


def test_an_unreachable_nim_is_transient_after_retries() -> None:
    port = free_port()  # nobody listens there
    sleeps: list[float] = []
    retry = RetryPolicy(attempts=3, base_delay=0.01, sleep=sleeps.append)
    with (
        NimChat(settings_for(f"http://127.0.0.1:{port}"), retry=retry) as chat,
        pytest.raises(ProviderTransient, match="connection failed"),
    ):
        chat.complete(QUESTION)
    assert len(sleeps) == 2


# --- embeddings --------------------------------------------------------------------

TEXTS = ("red apples", "green pears and plums", "a blue sky")


def test_embeddings_come_back_in_input_order_with_nims_usage(nim: FakeNim) -> None:
    request = EmbedRequest(model="nvidia/nv-embedqa-e5-v5", texts=TEXTS, dimensions=16)
    with embed_client(nim) as embedder:
        result = embedder.embed(request)
    assert result.vectors == [fake_vector(t, 16, "passage") for t in TEXTS]
    assert result.tokens_in == sum(count_tokens(t) for t in TEXTS)
    assert (result.model, result.provider) == ("nvidia/nv-embedqa-e5-v5", "nim")


def test_embeddings_request_carries_every_nim_field(nim: FakeNim) -> None:
    request = EmbedRequest(
        model="nvidia/nv-embedqa-e5-v5", texts=TEXTS, input_type="query", truncate="START"
    )
    with embed_client(nim) as embedder:
        result = embedder.embed(request)
    [sent] = nim.requests
    assert sent.path == "/v1/embeddings"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body == {
        "model": "nvidia/nv-embedqa-e5-v5",
        "input": list(TEXTS),
        "input_type": "query",
        "encoding_format": "float",
        "truncate": "START",
    }
    assert len(result.vectors[0]) == 1024  # the model's own size when none is asked for
    assert result.vectors[0] == fake_vector(TEXTS[0], 1024, "query")


def test_an_input_over_the_limit_with_truncate_none_fails_with_nims_message(
    nim: FakeNim,
) -> None:
    too_long = " ".join(["word"] * (TOKEN_LIMIT + 1))
    request = EmbedRequest(model="m", texts=("short", too_long), truncate="NONE")
    with embed_client(nim) as embedder, pytest.raises(ProviderError) as caught:
        embedder.embed(request)
    assert nim.call_count == 1
    assert caught.value.message == (
        f"Bad Request: Input length {TOKEN_LIMIT + 1} exceeds maximum allowed token size "
        f"{TOKEN_LIMIT}"
    )


def test_an_input_over_the_limit_with_truncate_end_is_cut_by_nim(nim: FakeNim) -> None:
    words = [f"w{i}" for i in range(TOKEN_LIMIT + 4)]
    request = EmbedRequest(model="m", texts=(" ".join(words),), dimensions=8, truncate="END")
    with embed_client(nim) as embedder:
        result = embedder.embed(request)
    assert result.vectors == [fake_vector(" ".join(words[:TOKEN_LIMIT]), 8)]
    assert result.tokens_in == TOKEN_LIMIT


def test_embeddings_retry_a_server_error(nim: FakeNim) -> None:
    nim.script(server_error("nim-local", 502))
    with embed_client(nim) as embedder:
        result = embedder.embed(EmbedRequest(model="m", texts=TEXTS, dimensions=4))
    assert len(result.vectors) == 3 and nim.call_count == 2


def test_no_texts_means_no_call(nim: FakeNim) -> None:
    with embed_client(nim) as embedder:
        result = embedder.embed(EmbedRequest(model="m", texts=()))
    assert (result.vectors, result.tokens_in, nim.call_count) == ([], 0, 0)


def _item(index: object, embedding: object) -> dict[str, object]:
    return {"object": "embedding", "index": index, "embedding": embedding}


@pytest.mark.parametrize(
    "data",
    [
        [_item(0, [0.1, 0.2])],  # one vector for two texts
        [_item(0, [0.1, 0.2]), _item(0, [0.3, 0.4])],  # an index twice
        [_item(0, [0.1, 0.2]), _item(2, [0.3, 0.4])],  # an index out of range
        [_item(0, [0.1, 0.2]), _item(1, [0.3])],  # the wrong size
        [_item(0, [0.1, "x"]), _item(1, [0.3, 0.4])],  # not numbers
        [_item("0", [0.1, 0.2]), _item(1, [0.3, 0.4])],  # index not an integer
    ],
)
def test_malformed_embeddings_are_a_provider_error(nim: FakeNim, data: list[object]) -> None:
    nim.script(reply({"object": "list", "data": data, "usage": {"prompt_tokens": 2}}))
    request = EmbedRequest(model="m", texts=("a", "b"), dimensions=2)
    with embed_client(nim) as embedder, pytest.raises(ProviderError, match="malformed"):
        embedder.embed(request)
    assert nim.call_count == 1
