"""A bad request gets a 4xx naming the field and the reason, and nothing is enqueued."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from grump.celery.queues import ALL_QUEUES
from grump.ledger.models import Job
from tests.conftest import Api


def _nothing_recorded(api: Api) -> None:
    with api.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert sum(api.queued_messages(q) for q in ALL_QUEUES) == 0


@pytest.mark.parametrize(
    ("body", "field", "reason_part"),
    [
        ({"kind": "paint", "input": {}}, "kind", "parse"),
        ({"kind": "embed", "input": {"texts": []}}, "input.texts", "at least 1"),
        ({"kind": "embed", "input": {"texts": "not a list"}}, "input.texts", "list"),
        ({"kind": "parse", "input": {"text": 12}}, "input.text", "string"),
        ({"kind": "complete", "input": {"messages": []}}, "input.messages", "at least 1"),
        (
            {
                "kind": "complete",
                "input": {"messages": [{"role": "user", "content": "x"}], "max_tokens": -5},
            },
            "input.max_tokens",
            "greater than or equal to 1",
        ),
        (
            {"kind": "parse", "input": {"text": "x"}, "priority": 42},
            "priority",
            "less than or equal to 9",
        ),
        (
            {"kind": "parse", "input": {"text": "x", "colour": "red"}},
            "input.colour",
            "Extra inputs",
        ),
        ({"input": {"text": "x"}}, "kind", "must be one of"),
    ],
)
def test_schema_errors_name_the_field(
    api: Api, body: dict[str, Any], field: str, reason_part: str
) -> None:
    response = api.client.post("/v1/jobs", json=body, headers=api.auth())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert reason_part.lower() in (error["reason"] + error["field"]).lower()
    _nothing_recorded(api)


def test_malformed_json_is_422(api: Api) -> None:
    response = api.client.post(
        "/v1/jobs",
        content=b'{"kind": "parse", "input": {',
        headers={**api.auth(), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "json" in response.json()["error"]["reason"].lower()
    _nothing_recorded(api)


def test_text_over_the_size_limit_names_its_index(api: Api) -> None:
    limit = api.settings.max_text_bytes
    body = {"kind": "embed", "input": {"texts": ["fine", "x" * (limit + 1)]}}
    response = api.client.post("/v1/jobs", json=body, headers=api.auth())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "input.texts[1]"
    assert str(limit) in error["reason"]
    _nothing_recorded(api)


def test_body_over_the_limit_is_413(api: Api) -> None:
    big = "y" * (api.settings.max_body_bytes + 10)
    response = api.client.post(
        "/v1/jobs", json={"kind": "parse", "input": {"text": big}}, headers=api.auth()
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]
    _nothing_recorded(api)


def test_unknown_model_is_422_not_a_free_call(api: Api) -> None:
    body = {
        "kind": "complete",
        "input": {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-imaginary"},
    }
    response = api.client.post("/v1/jobs", json=body, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "input.model"
    _nothing_recorded(api)


@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer grump_wrong", "Basic abc"])
def test_missing_or_wrong_key_is_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = api.client.post(
        "/v1/jobs", json={"kind": "parse", "input": {"text": "x"}}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    _nothing_recorded(api)


def test_batch_with_one_invalid_job_names_its_index(api: Api) -> None:
    body = {
        "jobs": [
            {"kind": "parse", "input": {"text": "ok"}},
            {"kind": "embed", "input": {"texts": []}},
        ]
    }
    response = api.client.post("/v1/jobs:batch", json=body, headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "jobs[1].input.texts"
    _nothing_recorded(api)
