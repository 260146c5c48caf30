"""The OpenAI-compatible routes' answers when no worker is there and when asked the impossible."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, local_settings

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    instance = Api(local_settings(tmp_path, openai_wait_seconds=0.1))
    yield instance
    instance.client.close()
    instance.runtime.dispose()


def test_an_unfinished_job_is_a_504_naming_the_job(api: Api) -> None:
    response = api.client.post(
        "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES}, headers=api.auth()
    )
    assert response.status_code == 504
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["code"] == "timeout"
    job_id = response.headers["x-grump-job-id"]
    assert job_id in error["message"]
    assert int(response.headers["retry-after"]) == api.runtime.settings.retry_after_seconds
    assert api.client.get(f"/v1/jobs/{job_id}", headers=api.auth()).json()["status"] == "queued"
    # Sent again as the answer invites, the request joins the job in flight.
    again = api.client.post(
        "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES}, headers=api.auth()
    )
    assert again.headers["x-grump-job-id"] == job_id


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"tools": [{"type": "custom", "custom": {"name": "f"}}]}, "tools[0].type"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "assistant", "content": None}]}, "messages[0]"),
    ],
)
def test_what_grump_cannot_honour_is_refused_by_name(
    api: Api, extra: dict[str, object], param: str
) -> None:
    body = {"model": "auto", "messages": MESSAGES} | extra
    response = api.client.post("/v1/chat/completions", json=body, headers=api.auth())
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert api.queued_messages("complete.economy") == 0


def test_a_stream_that_cannot_start_is_an_ordinary_http_error(api: Api) -> None:
    body = {"model": "auto", "messages": MESSAGES, "stream": True}
    response = api.client.post("/v1/chat/completions", json=body, headers=api.auth())
    assert response.status_code == 504  # no worker: the wait ran out before a first delta
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "timeout"
    assert int(response.headers["retry-after"]) == api.runtime.settings.retry_after_seconds


def test_auth_and_body_errors_use_openais_shape(api: Api) -> None:
    missing = api.client.post("/v1/embeddings", json={"input": "x"})
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    empty = api.client.post("/v1/chat/completions", json={"messages": []}, headers=api.auth())
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "messages"
