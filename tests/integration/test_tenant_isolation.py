"""Tenant A learns nothing of tenant B through any route; only admin keys touch budgets.

The walker iterates ``app.routes``: every route of the app must have a check
below, so a route added later fails this test until someone says how it keeps
tenants apart. Keys are stored only as hashes, and looked up through the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, inspect, select, text, update

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.jobs.models import JobStatus
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import authenticate, create_api_key, hash_key
from grump.ledger.models import ApiKey, Job
from grump.ledger.money_models import CostEvent
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.money_fixtures import money_ledger  # noqa: F401

pytestmark = pytest.mark.integration

B_USER, B_SESSION = "bob-the-b-user", "b-session-secret"
B_PROMPT = "tenant B's private prompt: the merger closes on friday"
B_IDEMPOTENCY = "b-idem-1"
# B's cost has an integer part no timestamp's seconds can show ("…:07.77…" could match 7.77).
A_COST, B_COST = Decimal("0.012300"), Decimal("777.770000")


def _complete(content: str, user: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complete",
        "input": {"messages": [{"role": "user", "content": content}], "max_tokens": 20},
    }
    if user is not None:
        body.update(user=user, session=B_SESSION)
    return body


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    a: dict[str, str]
    b: dict[str, str]
    admin: dict[str, str]
    b_keys: list[str]
    a_admin: dict[str, str] = field(default_factory=dict)  # tenant A's own admin key
    b_jobs: list[str] = field(default_factory=list)  # b_jobs[0] stays queued
    a_jobs: list[str] = field(default_factory=list)

    def b_secrets(self) -> list[str]:
        """Strings that only a response leaking B's data could contain."""
        return [*self.b_jobs, B_USER, B_SESSION, B_PROMPT, str(B_COST), "777.77", *self.b_keys]

    def assert_no_b(self, response: Any, shown: str | None = None) -> None:
        """Nothing of B in the answer (or in ``shown``, the part of it A did not send)."""
        body = response.text if shown is None else shown
        leaked = [s for s in self.b_secrets() if s in body]
        assert not leaked, (response.request.method, response.request.url, leaked)


def _submit(client: TestClient, auth: dict[str, str], body: dict[str, Any], **hdr: str) -> str:
    response = client.post("/v1/jobs", json=body, headers={**auth, **hdr})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _charge(runtime: Runtime, job_id: str, cost: Decimal) -> None:
    """Mark a job succeeded with one cost event, as a worker would have."""
    ident, now = uuid.UUID(job_id), utcnow()
    with session_scope(runtime.sessions) as session:
        job = session.get(Job, ident)
        assert job is not None
        session.execute(
            update(Job)
            .where(Job.id == ident)
            .values(status=JobStatus.SUCCEEDED.value, cost=cost, finished_at=now)
        )
        session.add(
            CostEvent(
                job_id=ident,
                tenant=job.tenant,
                user_id=job.user_id,
                session_id=job.session_id,
                kind=job.kind,
                model=job.model or "",
                tier=job.tier,
                provider="offline",
                tokens_in=10,
                tokens_out=10,
                cost=cost,
                baseline_cost=cost * 2,
                created_at=now - timedelta(minutes=5),
            )
        )


@pytest.fixture
def world(real_settings: Settings, money_ledger: str) -> Iterator[World]:  # noqa: F811
    settings = Settings.model_validate({**real_settings.model_dump(), "openai_wait_seconds": 0.05})
    runtime = Runtime(settings)
    client = TestClient(create_app(settings, runtime, create_celery(settings, runtime)))
    with session_scope(runtime.sessions) as session:
        key_a, key_b = create_api_key(session, "tenant-a"), create_api_key(session, "tenant-b")
        key_admin = create_api_key(session, "operators", admin=True)
        key_a_admin = create_api_key(session, "tenant-a", admin=True)
    built = World(
        client,
        runtime,
        {"Authorization": f"Bearer {key_a}"},
        {"Authorization": f"Bearer {key_b}"},
        {"Authorization": f"Bearer {key_admin}"},
        b_keys=[key_b, key_admin],
        a_admin={"Authorization": f"Bearer {key_a_admin}"},
    )
    built.b_jobs.append(
        _submit(client, built.b, _complete(B_PROMPT, B_USER), **{"Idempotency-Key": B_IDEMPOTENCY})
    )
    built.b_jobs.append(_submit(client, built.b, _complete(B_PROMPT + " (done)", B_USER)))
    _charge(runtime, built.b_jobs[1], B_COST)
    built.a_jobs.append(_submit(client, built.a, _complete("hello from a")))
    _charge(runtime, built.a_jobs[0], A_COST)
    for period in ("daily", "monthly"):
        put = client.put(
            f"/v1/budgets/tenant-b/{period}", json={"limit": "99"}, headers=built.admin
        )
        assert put.status_code == 200, put.text
    try:
        yield built
    finally:
        client.close()
        runtime.dispose()


# --- one check per route: (method, path) -> check(world) ---


def _public(path: str) -> Callable[[World], None]:
    def check(w: World) -> None:
        for auth in ({}, w.a):
            response = w.client.get(path, headers=auth)
            assert response.status_code in (200, 503), response.text[:200]
            w.assert_no_b(response)

    return check


def _read_b_job(w: World) -> None:
    unknown = str(uuid.uuid4())
    stranger = w.client.get(f"/v1/jobs/{unknown}", headers=w.a)
    for job_id in w.b_jobs:
        response = w.client.get(f"/v1/jobs/{job_id}", headers=w.a)
        assert response.status_code == 404
        w.assert_no_b(response, response.text.replace(job_id, "the id A sent"))
        # Same answer as for an id nobody has: existence does not leak.
        assert response.text.replace(job_id, unknown) == stranger.text
    assert w.client.get(f"/v1/jobs/{w.b_jobs[0]}", headers=w.b).status_code == 200


def _cancel_b_job(w: World) -> None:
    unknown = str(uuid.uuid4())
    stranger = w.client.delete(f"/v1/jobs/{unknown}", headers=w.a)
    for job_id in w.b_jobs:  # a queued one (cancellable) and a finished one (409 for B)
        response = w.client.delete(f"/v1/jobs/{job_id}", headers=w.a)
        assert response.status_code == 404
        assert response.text.replace(job_id, unknown) == stranger.text
    mine = w.client.get(f"/v1/jobs/{w.b_jobs[0]}", headers=w.b).json()
    assert mine["status"] == "queued"


def _list_jobs(w: World) -> None:
    queries = ["", f"?user={B_USER}", f"?session={B_SESSION}", "?status=queued", "?limit=200"]
    for query in queries:
        response = w.client.get(f"/v1/jobs{query}", headers=w.a)
        assert response.status_code == 200
        w.assert_no_b(response)
    ids = [j["id"] for j in w.client.get("/v1/jobs", headers=w.a).json()["items"]]
    assert set(w.a_jobs) <= set(ids) and not set(ids) & set(w.b_jobs)
    # B's cursor, replayed by A, pages A's jobs only.
    b_page = w.client.get("/v1/jobs?limit=1", headers=w.b).json()
    assert b_page["next_cursor"]
    replay = w.client.get(f"/v1/jobs?cursor={b_page['next_cursor']}", headers=w.a)
    w.assert_no_b(replay)


def _submit_as_b_did(w: World) -> None:
    """Same request and Idempotency-Key as B's queued job: A gets a job of its own."""
    body = _complete(B_PROMPT)  # the fingerprint covers the input, not the user
    response = w.client.post(
        "/v1/jobs", json=body, headers={**w.a, "Idempotency-Key": B_IDEMPOTENCY}
    )
    assert response.status_code == 202
    answer = response.json()
    assert answer["id"] not in w.b_jobs and not answer["coalesced"]
    w.a_jobs.append(answer["id"])


def _batch_as_b_did(w: World) -> None:
    response = w.client.post("/v1/jobs:batch", json={"jobs": [_complete(B_PROMPT)]}, headers=w.a)
    assert response.status_code == 202
    (item,) = response.json()["items"]
    # It may coalesce with A's own identical job from the check above, never with B's.
    assert item["job"]["id"] not in w.b_jobs
    assert not item["job"]["coalesced"] or item["job"]["id"] in w.a_jobs


def _openai(path: str, body: dict[str, Any]) -> Callable[[World], None]:
    def check(w: World) -> None:
        response = w.client.post(path, json=body, headers=w.a)
        assert response.status_code in (200, 504), response.text[:200]
        assert response.headers["x-grump-job-id"] not in w.b_jobs
        w.a_jobs.append(response.headers["x-grump-job-id"])
        w.assert_no_b(response, body_free(response, body))

    return check


def _count_tokens(w: World) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": B_PROMPT}]}
    response = w.client.post("/v1/messages/count_tokens", json=body, headers=w.a)
    assert response.status_code == 200 and set(response.json()) == {"input_tokens"}
    w.assert_no_b(response, body_free(response, body))


def body_free(response: Any, sent: dict[str, Any]) -> str:
    """The answer without the prompt A itself sent (A may see its own words)."""
    return str(response.text).replace(json.dumps(sent)[1:-1], "")


def _budgets_need_admin(method: str, path: str) -> Callable[[World], None]:
    def check(w: World) -> None:
        url = path.replace("{tenant}", "tenant-b").replace("{period}", "daily")
        body = {"limit": "0"} if method == "PUT" else None
        for auth in (w.a, w.b):  # neither the victim's nor another tenant's plain key
            response = w.client.request(method, url, json=body, headers=auth)
            assert response.status_code == 403, response.text[:200]
            w.assert_no_b(response)
        limits = w.client.get("/v1/budgets/tenant-b", headers=w.admin).json()["items"]
        assert sorted(Decimal(b["limit"]) for b in limits) == [Decimal(99), Decimal(99)]

    return check


def _cost_summary(w: World) -> None:
    for group in ("day", "model", "kind", "tier", "user"):
        response = w.client.get(f"/v1/costs/summary?group_by={group}", headers=w.a)
        assert response.status_code == 200
        assert Decimal(response.json()["total"]["cost"]) == A_COST
        assert response.json()["tenant"] == "tenant-a"
        w.assert_no_b(response)


def _budget_status(w: World) -> None:
    response = w.client.get("/v1/costs/budget-status", headers=w.a)
    assert response.status_code == 200 and response.json()["items"] == []
    mine = w.client.get("/v1/costs/budget-status", headers=w.b).json()["items"]
    assert len(mine) == 2  # B's own view shows them: the check above can fail


def _recommendations(w: World) -> None:
    response = w.client.get("/v1/costs/recommendations", headers=w.a)
    assert response.status_code == 200
    assert Decimal(response.json()["routed_cost"]) <= A_COST
    users = response.json()["top_users"]
    assert len(users) == 1 and Decimal(users[0]["cost"]) == A_COST  # A's one user without a name
    w.assert_no_b(response)


def _b_key_ids(w: World) -> list[int]:
    with session_scope(w.runtime.sessions) as session:
        return list(session.scalars(select(ApiKey.id).where(ApiKey.tenant == "tenant-b")))


def _keys_of_a(w: World) -> None:
    assert w.client.get("/v1/keys", headers=w.a).status_code == 403  # a plain key
    response = w.client.get("/v1/keys", headers=w.a_admin)
    assert response.status_code == 200
    assert {k["tenant"] for k in response.json()["items"]} == {"tenant-a"}
    b_prefixes = [k["Authorization"][7:21] for k in (w.b,)]
    assert not any(p in response.text for p in b_prefixes)
    w.assert_no_b(response)


def _create_key_for_a(w: World) -> None:
    body = {"name": "svc", "tenant": "tenant-b", "admin": True}  # the tenant field is ignored
    assert w.client.post("/v1/keys", json=body, headers=w.a).status_code == 403
    response = w.client.post("/v1/keys", json=body, headers=w.a_admin)
    assert response.status_code == 201
    assert response.json()["tenant"] == "tenant-a"
    w.assert_no_b(response)


def _b_key_route(method: str, suffix: str) -> Callable[[World], None]:
    def check(w: World) -> None:
        body = {"rps_limit": 1} if method == "PATCH" else None
        unknown = w.client.request(method, f"/v1/keys/987654{suffix}", json=body, headers=w.a_admin)
        assert unknown.status_code == 404
        for key_id in _b_key_ids(w):
            url = f"/v1/keys/{key_id}{suffix}"
            assert w.client.request(method, url, json=body, headers=w.a).status_code == 403
            response = w.client.request(method, url, json=body, headers=w.a_admin)
            assert response.status_code == 404, response.text
            assert response.text.replace(str(key_id), "987654") == unknown.text
        # B's key still works, unrotated and without a limit A set.
        assert w.client.get("/v1/jobs", headers=w.b).status_code == 200

    return check


CHECKS: dict[tuple[str, str], Callable[[World], None]] = {
    ("GET", "/healthz"): _public("/healthz"),
    ("GET", "/readyz"): _public("/readyz"),
    ("GET", "/metrics"): _public("/metrics"),
    ("GET", "/openapi.json"): _public("/openapi.json"),
    ("GET", "/docs"): _public("/docs"),
    ("GET", "/docs/oauth2-redirect"): _public("/docs/oauth2-redirect"),
    ("GET", "/redoc"): _public("/redoc"),
    ("POST", "/v1/jobs"): _submit_as_b_did,
    ("POST", "/v1/jobs:batch"): _batch_as_b_did,
    ("GET", "/v1/jobs/{job_id}"): _read_b_job,
    ("DELETE", "/v1/jobs/{job_id}"): _cancel_b_job,
    ("GET", "/v1/jobs"): _list_jobs,
    ("PUT", "/v1/budgets/{tenant}/{period}"): _budgets_need_admin(
        "PUT", "/v1/budgets/{tenant}/{period}"
    ),
    ("GET", "/v1/budgets/{tenant}"): _budgets_need_admin("GET", "/v1/budgets/{tenant}"),
    ("DELETE", "/v1/budgets/{tenant}/{period}"): _budgets_need_admin(
        "DELETE", "/v1/budgets/{tenant}/{period}"
    ),
    ("GET", "/v1/costs/summary"): _cost_summary,
    ("GET", "/v1/costs/budget-status"): _budget_status,
    ("GET", "/v1/costs/recommendations"): _recommendations,
    ("GET", "/v1/keys"): _keys_of_a,
    ("POST", "/v1/keys"): _create_key_for_a,
    ("GET", "/v1/keys/{key_id}"): _b_key_route("GET", ""),
    ("PATCH", "/v1/keys/{key_id}"): _b_key_route("PATCH", ""),
    ("POST", "/v1/keys/{key_id}/revoke"): _b_key_route("POST", "/revoke"),
    ("POST", "/v1/keys/{key_id}/rotate"): _b_key_route("POST", "/rotate"),
    ("POST", "/v1/chat/completions"): _openai(
        "/v1/chat/completions", {"messages": [{"role": "user", "content": B_PROMPT}]}
    ),
    ("POST", "/v1/embeddings"): _openai("/v1/embeddings", {"input": B_PROMPT}),
    ("POST", "/v1/messages"): _openai(
        "/v1/messages",
        {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": B_PROMPT}]},
    ),
    ("POST", "/v1/messages/count_tokens"): _count_tokens,
}


def _app_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        # FastAPI keeps an included router as one entry; its effective routes carry full paths.
        contexts = getattr(route, "effective_route_contexts", None)
        for served in contexts() if contexts else [route]:
            methods = set(getattr(served, "methods", None) or {"GET"})
            found += [(m, served.path) for m in sorted(methods - {"HEAD", "OPTIONS"})]
    return found


def test_every_route_keeps_tenant_b_from_tenant_a(world: World) -> None:
    routes = _app_routes(world.client.app)
    unchecked = [r for r in routes if r not in CHECKS]
    assert not unchecked, f"routes with no tenant-isolation check: {unchecked}"
    assert ("GET", "/v1/jobs/{job_id}") in routes  # the walker sees included routers
    for route in routes:
        CHECKS[route](world)
    # After A did everything it could, B's queued job is still B's and still queued.
    b_job = world.client.get(f"/v1/jobs/{world.b_jobs[0]}", headers=world.b).json()
    assert b_job["status"] == "queued" and b_job["user"] == B_USER


def test_only_admin_keys_change_budgets(world: World) -> None:
    url = "/v1/budgets/tenant-a/monthly"
    assert world.client.put(url, json={"limit": "1000"}, headers=world.a).status_code == 403
    assert world.client.put(url, json={"limit": "5"}, headers=world.admin).status_code == 200
    assert world.client.delete(url, headers=world.a).status_code == 403
    assert world.client.delete(url, headers=world.admin).status_code == 204


def _every_row_as_text(runtime: Runtime) -> str:
    with runtime.engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        dumps = [
            str(row)
            for table in tables
            for row in connection.execute(text(f'SELECT t::text FROM "{table}" t'))
        ]
    return "\n".join(dumps)


def test_keys_are_stored_only_as_their_hash(world: World) -> None:
    stored = _every_row_as_text(world.runtime)
    for header in (world.a, world.b, world.admin, world.a_admin):
        key = header["Authorization"].removeprefix("Bearer ")
        assert key not in stored
        assert key[len("grump_") + 8 :] not in stored  # not even past the shown prefix
        assert hash_key(key) in stored


def test_key_lookup_goes_through_the_hash_in_constant_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = world.a["Authorization"].removeprefix("Bearer ")
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(left: str, right: str) -> bool:
        compared.append((left, right))
        return real(left, right)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # keys.py calls it via the module
    sent: list[str] = []

    def record(_c: object, _cur: object, statement: str, params: Any, *_: object) -> None:
        sent.append(f"{statement} {params!r}")

    event.listen(world.runtime.engine, "before_cursor_execute", record)
    try:
        with session_scope(world.runtime.sessions) as session:
            row = authenticate(session, key)
            assert row is not None and row.tenant == "tenant-a"
            assert authenticate(session, key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    finally:
        event.remove(world.runtime.engine, "before_cursor_execute", record)
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert (digest, digest) in compared  # the stored hash, compared with hmac.compare_digest
    assert all(key not in s for s in sent)  # the plaintext never reaches the database
    assert any(digest in s for s in sent)


def test_a_row_holding_a_plaintext_key_does_not_authenticate(world: World) -> None:
    # If the column ever held a plaintext key, that key would not work: lookup hashes first.
    planted = "grump_planted-plaintext-key"
    with session_scope(world.runtime.sessions) as session:
        session.add(
            ApiKey(tenant="tenant-a", key_hash=planted, prefix="grump_pla", created_at=utcnow())
        )
    headers = {"Authorization": f"Bearer {planted}"}
    assert world.client.get("/v1/jobs", headers=headers).status_code == 401
    with session_scope(world.runtime.sessions) as session:
        assert session.scalar(select(ApiKey.tenant).where(ApiKey.key_hash == planted))
