"""A rate-limited chat provider streams as the provider does, after taking its call slot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from grump.errors import ProviderTransient
from grump.providers.base import ChatDelta, ChatResult
from grump.providers.http import RetryPolicy
from grump.providers.nim import NimChat
from grump.providers.ratelimit import RateLimiter, bucket_key
from grump.providers.registry import RateLimitedChat, is_rate_limited
from grump.settings import Settings
from tests.chat import chat_request
from tests.fakes.nim import FakeNim
from tests.fakes.server import sse_event, streamed
from tests.streams import first_then_close

pytestmark = pytest.mark.integration

QUESTION = chat_request("m", ("user", "stream me something"), max_tokens=20)


@pytest.fixture
def limited(redis_url: str) -> Iterator[tuple[RateLimitedChat, FakeNim]]:
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, bucket_key(f"test-{uuid.uuid4().hex}"), 0.01, burst=2)
    with FakeNim() as fake:
        settings = Settings(nim_url=fake.url, nim_api_key="k")
        with NimChat(settings, retry=RetryPolicy(attempts=1)) as chat:
            yield RateLimitedChat(chat, limiter, wait_seconds=0.0), fake
    client.close()


def test_streams_take_a_slot_each_and_a_full_bucket_refuses_before_calling(
    limited: tuple[RateLimitedChat, FakeNim],
) -> None:
    chat, fake = limited
    *deltas, result = chat.stream(QUESTION)
    assert isinstance(result, ChatResult) and result.content == "echo: stream me something"
    assert "".join(d.text for d in deltas if isinstance(d, ChatDelta)) == result.content
    long_answer = [
        sse_event({"choices": [{"index": 0, "delta": {"content": f" w{i}"}}]}) for i in range(60)
    ]
    fake.script(streamed(*long_answer, sse_event("[DONE]"), gap_ms=20))
    # Closed through the wrapper, down to the upstream response.
    assert first_then_close(fake, chat.stream(QUESTION)) == ChatDelta(text=" w0")
    assert fake.client_disconnects == 1
    with pytest.raises(ProviderTransient) as caught:
        next(chat.stream(QUESTION))
    assert is_rate_limited(caught.value) and fake.call_count == 2
