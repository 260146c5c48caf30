"""Hostile bodies against the real stack (Postgres ledger, Redis broker): a clear 4xx, nothing kept.

Each attack is sent to every route that takes a body. After each one the jobs
table, the cost ledger and every Redis list of every queue must be empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.celery.queues import ALL_QUEUES, redis_priority_keys
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.runtime import Runtime
from grump.settings import Settings

pytestmark = pytest.mark.integration

JOB_ROUTES = ("/v1/jobs", "/v1/jobs:batch", "/v1/chat/completions", "/v1/embeddings")
GOOD_JOB: dict[str, Any] = {"kind": "parse", "input": {"text": "book a table for two"}}
GOOD_BODIES: dict[str, dict[str, Any]] = {
    "/v1/jobs": GOOD_JOB,
    "/v1/jobs:batch": {"jobs": [GOOD_JOB]},
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "hi"}]},
    "/v1/embeddings": {"input": "hi"},
}


class Target:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.celery = create_celery(settings, self.runtime)
        self.client = TestClient(
            create_app(settings, self.runtime, self.celery), raise_server_exceptions=False
        )
        self.redis = redis.Redis.from_url(settings.broker_url or "")
        with session_scope(self.runtime.sessions) as session:
            self.key = create_api_key(session, "mallory")

    def post(self, path: str, content: bytes, content_type: str | None = "application/json") -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        if content_type is not None:
            headers["content-type"] = content_type
        return self.client.post(path, content=content, headers=headers)

    def assert_nothing_kept(self) -> None:
        with self.runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Job)) == 0
            assert session.scalar(select(func.count()).select_from(CostEvent)) == 0
        lengths = {k: self.redis.llen(k) for q in ALL_QUEUES for k in redis_priority_keys(q)}
        assert sum(lengths.values()) == 0, lengths

    def close(self) -> None:
        self.client.close()
        self.redis.close()
        self.runtime.dispose()


OWN_REDIS_DB = 11  # not the shared test database: other suites running meanwhile publish there


@pytest.fixture
def target(real_settings: Settings, redis_url: str) -> Iterator[Target]:
    own = urlunsplit(urlsplit(redis_url)._replace(path=f"/{OWN_REDIS_DB}"))
    with redis.Redis.from_url(own) as client:
        client.flushdb()
    values = {
        **real_settings.model_dump(),
        "broker_url": own,
        "redis_url": own,
        "openai_wait_seconds": 0.05,
    }
    built = Target(Settings.model_validate(values))
    yield built
    built.close()


def _refused(response: Any, *allowed: int) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    body = response.json()
    assert isinstance(body["error"], dict) and body["error"].get("message"), body


def _deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def _with_text(path: str, text_json: bytes) -> bytes:
    """A route's minimal body with its one free text replaced by raw JSON bytes."""
    marker = "\u2603MARK\u2603"
    body = json.loads(json.dumps(GOOD_BODIES[path]))
    if path == "/v1/jobs":
        body["input"]["text"] = marker
    elif path == "/v1/jobs:batch":
        body["jobs"][0]["input"]["text"] = marker
    elif path == "/v1/chat/completions":
        body["messages"][0]["content"] = marker
    else:
        body["input"] = marker
    return (
        json.dumps(body, ensure_ascii=False)
        .encode()
        .replace(b'"' + marker.encode() + b'"', text_json)
    )


@pytest.mark.parametrize("path", JOB_ROUTES)
@pytest.mark.parametrize(
    ("attack", "raw"),
    [
        ("nested 10,000 levels", _deep(10_000)),
        ("nested arrays 10,000 levels", b"[" * 10_000 + b"]" * 10_000),
        ("invalid UTF-8", b'{"kind": "parse", "input": {"text": "\xff\xfe\xc3("}}'),
        ("truncated", b'{"kind": "parse", "input": {'),
        ("not JSON", b"kind=parse&text=hi"),
        ("empty", b""),
        ("JSON null", b"null"),
        ("JSON array", b"[1, 2, 3]"),
        ("JSON string", b'"parse"'),
        ("huge number", b'{"kind": "parse", "priority": ' + b"9" * 5000 + b"}"),
        ("NaN", b'{"kind": "complete", "input": {"temperature": NaN}}'),
        ("duplicate keys", b'{"kind": "parse", "kind": "paint", "input": {"text": "x"}}'),
    ],
)
def test_malformed_bodies_are_4xx_and_keep_nothing(
    target: Target, path: str, attack: str, raw: bytes
) -> None:
    _refused(target.post(path, raw), 400, 413, 422)
    target.assert_nothing_kept()


@pytest.mark.parametrize("path", JOB_ROUTES)
@pytest.mark.parametrize(
    ("attack", "text_json"),
    [
        ("NUL byte", b'"before\\u0000after"'),
        ("lone surrogate", b'"half \\ud800 a pair"'),
        ("reversed surrogates", b'"\\udc00\\ud800"'),
    ],
)
def test_texts_a_ledger_cannot_store_are_4xx(
    target: Target, path: str, attack: str, text_json: bytes
) -> None:
    response = target.post(path, _with_text(path, text_json))
    if path == "/v1/jobs:batch":  # a batch answers per job: its one job is refused
        assert response.status_code == 202, response.text[:300]
        (item,) = response.json()["items"]
        assert item["job"] is None and item["error"]["field"] == "input.text", item
    else:
        _refused(response, 400, 422)
    target.assert_nothing_kept()


@pytest.mark.parametrize("field", ["user", "session"])
def test_unstorable_user_and_session_are_422(target: Target, field: str) -> None:
    raw = json.dumps(GOOD_JOB)[:-1].encode() + f', "{field}": "a\\u0000b"}}'.encode()
    response = target.post("/v1/jobs", raw)
    _refused(response, 422)
    assert response.json()["error"]["field"] == field
    target.assert_nothing_kept()


@pytest.mark.parametrize("path", JOB_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_wrong_content_types_are_4xx_or_read_as_json(
    target: Target, path: str, content_type: str | None
) -> None:
    # A form-encoded body is never taken for a job; a JSON body under a wrong label may be
    # refused (415/422) or read as JSON, but it never breaks the API.
    form = target.post(path, b"kind=parse&input=hi", content_type)
    _refused(form, 400, 415, 422)
    target.assert_nothing_kept()


@pytest.mark.parametrize("path", JOB_ROUTES)
def test_bodies_over_the_limit_are_413_with_or_without_a_length(target: Target, path: str) -> None:
    limit = target.settings.max_body_bytes
    big = json.dumps({"kind": "parse", "input": {"text": "y" * (limit + 10)}}).encode()
    _refused(target.post(path, big), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    headers = {"Authorization": f"Bearer {target.key}", "content-type": "application/json"}
    _refused(target.client.post(path, content=chunks(), headers=headers), 413)
    lying = {**headers, "content-length": "12"}
    response = target.client.post(path, content=big, headers=lying)
    assert response.status_code < 500
    target.assert_nothing_kept()


def _huge_text_bodies(limit: int) -> dict[str, dict[str, Any]]:
    text = "z" * (limit + 1)
    return {
        "/v1/jobs": {"kind": "parse", "input": {"text": text}},
        "/v1/chat/completions": {"messages": [{"role": "user", "content": text}]},
        "/v1/embeddings": {"input": ["ok", text]},
    }


def test_a_huge_text_in_a_batch_sinks_only_its_own_job(target: Target) -> None:
    text = "z" * (target.settings.max_text_bytes + 1)
    body = {"jobs": [{"kind": "embed", "input": {"texts": ["ok", text]}}, GOOD_JOB]}
    response = target.client.post(
        "/v1/jobs:batch", json=body, headers={"Authorization": f"Bearer {target.key}"}
    )
    assert response.status_code == 202
    refused, accepted = response.json()["items"]
    assert refused["job"] is None and refused["error"]["field"] == "input.texts[1]"
    assert accepted["job"]["kind"] == "parse"
    with target.runtime.sessions() as session:
        assert list(session.scalars(select(Job.kind))) == ["parse"]
    assert sum(target.redis.llen(k) for k in redis_priority_keys("parse")) == 1
    assert sum(target.redis.llen(k) for k in redis_priority_keys("embed")) == 0


@pytest.mark.parametrize("path", [p for p in JOB_ROUTES if p != "/v1/jobs:batch"])
def test_a_text_over_its_limit_is_refused_naming_it(target: Target, path: str) -> None:
    body = _huge_text_bodies(target.settings.max_text_bytes)[path]
    response = target.client.post(
        path, json=body, headers={"Authorization": f"Bearer {target.key}"}
    )
    _refused(response, 400, 422)
    assert str(target.settings.max_text_bytes) in response.text
    target.assert_nothing_kept()


def test_too_many_texts_and_jobs_are_refused(target: Target) -> None:
    headers = {"Authorization": f"Bearer {target.key}"}
    many = ["t"] * (target.settings.max_texts_per_job + 1)
    for path, body in (
        ("/v1/jobs", {"kind": "embed", "input": {"texts": many}}),
        ("/v1/embeddings", {"input": many}),
        ("/v1/jobs:batch", {"jobs": [GOOD_JOB] * (target.settings.max_jobs_per_batch + 1)}),
    ):
        _refused(target.client.post(path, json=body, headers=headers), 400, 422)
    target.assert_nothing_kept()


MAX_TOKENS = [-1, 0, -(2**63), 32_769, 10**12, 2**63, 10**100, 1.5, "many"]


@pytest.mark.parametrize("value", MAX_TOKENS, ids=repr)
def test_bad_max_tokens_are_refused(target: Target, value: Any) -> None:
    headers = {"Authorization": f"Bearer {target.key}"}
    messages = [{"role": "user", "content": "hi"}]
    job = {"kind": "complete", "input": {"messages": messages, "max_tokens": value}}
    response = target.client.post("/v1/jobs", json=job, headers=headers)
    _refused(response, 422)
    assert response.json()["error"]["field"] == "input.max_tokens"
    for name in ("max_tokens", "max_completion_tokens"):
        body = {"messages": messages, name: value}
        response = target.client.post("/v1/chat/completions", json=body, headers=headers)
        _refused(response, 400)
        assert response.json()["error"]["param"] in (name, "max_tokens"), response.text
    target.assert_nothing_kept()


@pytest.mark.parametrize(
    "model", ["gpt-imaginary", "", " ", "x" * 10_000, "../../etc/passwd", "'; DROP TABLE jobs;--"]
)
def test_unknown_models_are_refused(target: Target, model: str) -> None:
    headers = {"Authorization": f"Bearer {target.key}"}
    messages = [{"role": "user", "content": "hi"}]
    bodies = [
        ("/v1/jobs", {"kind": "complete", "input": {"messages": messages, "model": model}}),
        ("/v1/jobs", {"kind": "embed", "input": {"texts": ["hi"], "model": model}}),
        ("/v1/chat/completions", {"model": model, "messages": messages}),
        ("/v1/embeddings", {"model": model, "input": "hi"}),
    ]
    for path, body in bodies:
        _refused(target.client.post(path, json=body, headers=headers), 400, 404, 413, 422)
    target.assert_nothing_kept()


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/jobs", "limit=0"),
        ("/v1/jobs", "limit=99999999999999999999"),
        ("/v1/jobs", "cursor=%FF%FE"),
        ("/v1/jobs", "cursor=" + "A" * 5000),
        ("/v1/jobs", "status=exploded"),
        ("/v1/costs/summary", "from=not-a-date"),
        ("/v1/costs/summary", "from=9999-12-31T23:59:59&to=0001-01-01T00:00:00"),
        ("/v1/costs/summary", "from=0001-01-01T00:00:00"),
        ("/v1/costs/summary", "group_by=password"),
    ],
)
def test_hostile_queries_are_4xx(target: Target, path: str, query: str) -> None:
    response = target.client.get(
        f"{path}?{query}", headers={"Authorization": f"Bearer {target.key}"}
    )
    assert response.status_code < 500, response.text[:300]
    target.assert_nothing_kept()


@pytest.mark.parametrize(
    "job_id",
    ["not-a-uuid", "0" * 5000, "%00", "..%2F..%2Fhealthz", "00000000-0000-0000-0000-000000000000"],
)
def test_hostile_job_ids_are_404(target: Target, job_id: str) -> None:
    headers = {"Authorization": f"Bearer {target.key}"}
    for method in ("GET", "DELETE"):
        response = target.client.request(method, f"/v1/jobs/{job_id}", headers=headers)
        expected = 400 if job_id == "%00" else 404  # a NUL in a URL is refused up front
        assert response.status_code == expected, (method, job_id, response.text[:300])
    target.assert_nothing_kept()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer " + "k" * 100_000,
        "Bearer grump_\u00e9\u00e8",
        "Bearer \ud800",
        "bearer  grump_x  ",
        "Bearer grump_x' OR '1'='1",
    ],
    ids=["long", "latin-1", "surrogate", "spaces", "sql"],
)
def test_hostile_keys_are_401(target: Target, header: str) -> None:
    raw = header.encode("utf-8", "surrogatepass")
    response = target.client.post("/v1/jobs", json=GOOD_JOB, headers=[(b"authorization", raw)])
    assert response.status_code in (400, 401, 431), response.text[:300]
    target.assert_nothing_kept()
