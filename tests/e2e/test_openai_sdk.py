"""The official OpenAI SDK against a running grump API (uvicorn), Redis, Postgres and a worker."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
import uvicorn
from openai import OpenAI

from grump.api.app import create_app
from grump.settings import Settings
from tests.fakes.nim import count_tokens
from tests.integration.completions_support import Stack, fakes, with_fakes

pytestmark = pytest.mark.e2e


@pytest.fixture
def sdk(clean_ledger: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[OpenAI, Stack]]:
    base = Settings.model_validate(
        {
            "broker_url": redis_url,
            "redis_url": redis_url,
            "database_url": clean_ledger,
            "data_dir": tmp_path / "grump",
        }
    )
    with fakes() as (nim, anthropic):
        stack = Stack(with_fakes(base, nim, anthropic))
        app = create_app(stack.settings, stack.runtime, stack.celery)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=stack.key, max_retries=0)
        try:
            with stack.worker():
                yield client, stack
        finally:
            client.close()
            server.should_exit = True
            thread.join(10)
            stack.close()


def test_chat_completions_with_model_auto(sdk: tuple[OpenAI, Stack]) -> None:
    client, stack = sdk
    prompt = "name three colours"
    answer = client.chat.completions.create(
        model="auto",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt}],
        max_tokens=20,
    )
    assert answer.choices[0].message.content == f"echo: {prompt}"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == stack.settings.economy_model  # routed: a simple prompt goes economy
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == count_tokens(f"be brief {prompt}")
    assert answer.usage.completion_tokens == count_tokens(f"echo: {prompt}")
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert len(stack.cost_events()) == 1


def test_embeddings_in_both_encodings(sdk: tuple[OpenAI, Stack]) -> None:
    client, _ = sdk
    floats = client.embeddings.create(
        model="auto", input=["first text", "second"], dimensions=32, encoding_format="float"
    )
    packed = client.embeddings.create(
        model="auto", input=["first text", "second"], dimensions=32, encoding_format="base64"
    )
    assert [len(d.embedding) for d in floats.data] == [32, 32]
    assert [d.index for d in floats.data] == [0, 1]
    # Asked for explicitly, base64 comes back as sent: little-endian float32.
    raw = base64.b64decode(str(packed.data[0].embedding))
    unpacked = np.frombuffer(raw, dtype="<f4").tolist()
    assert unpacked == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert floats.usage.prompt_tokens == count_tokens("first text second")
    assert floats.usage.total_tokens == floats.usage.prompt_tokens


def test_errors_arrive_as_the_sdks_exceptions(sdk: tuple[OpenAI, Stack]) -> None:
    client, _ = sdk
    message = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=message)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="auto", messages=message, temperature=5)  # type: ignore[arg-type]
    assert bad.value.param == "temperature"
    intruder = client.with_options(api_key="not-a-key")
    with pytest.raises(openai.AuthenticationError):
        intruder.chat.completions.create(model="auto", messages=message)  # type: ignore[arg-type]
