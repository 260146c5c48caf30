"""Keys' lifecycle, per-key budgets and the rate limits of keys and tenants, on real Postgres and Redis.

One API process here (a TestClient); two real ones are in tests/e2e/test_keys_two_apis.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.errors import BudgetExceeded
from grump.jobs.models import CompleteJobRequest
from grump.jobs.ratelimits import Caller
from grump.jobs.submit import submit_job_async
from grump.ledger.db import session_scope, utcnow
from grump.ledger.keys import new_api_key
from grump.ledger.models import ApiKey, Job
from grump.money import budgets
from grump.money.budget_math import Period
from grump.routing.pricing import estimate_reservation
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.money_fixtures import money_ledger  # noqa: F401

pytestmark = pytest.mark.integration


class World:
    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime(settings)
        self.celery = create_celery(settings, self.runtime)
        self.client = TestClient(create_app(settings, self.runtime, self.celery))
        self.admin = self.new_key("tenant-a", admin=True, name="ops")[1]

    def new_key(self, tenant: str, **fields: Any) -> tuple[int, dict[str, str]]:
        with session_scope(self.runtime.sessions) as session:
            key, row = new_api_key(session, tenant, **fields)
            return row.id, {"Authorization": f"Bearer {key}"}

    def submit(self, auth: dict[str, str], text: str = "hello", max_tokens: int = 20) -> Any:
        body = {
            "kind": "complete",
            "input": {"messages": [{"role": "user", "content": text}], "max_tokens": max_tokens},
        }
        return self.client.post("/v1/jobs", json=body, headers=auth)

    def refused_within(self, auth: dict[str, str], seconds: float) -> Any:
        """The first 401 for ``auth`` within ``seconds`` (the key check interval and then some)."""
        deadline = time.monotonic() + seconds
        while True:
            answer = self.client.get("/v1/jobs", headers=auth)
            if answer.status_code == 401 or time.monotonic() > deadline:
                return answer
            time.sleep(0.02)


def _world(real_settings: Settings, **overrides: Any) -> Iterator[World]:
    values = {**real_settings.model_dump(), "openai_wait_seconds": 0.05, **overrides}
    world = World(Settings.model_validate(values))
    try:
        yield world
    finally:
        world.client.close()
        world.runtime.dispose()


@pytest.fixture
def world(real_settings: Settings, money_ledger: str) -> Iterator[World]:  # noqa: F811
    yield from _world(real_settings)


def test_a_key_is_made_listed_rotated_and_revoked_through_the_api(world: World) -> None:
    c, admin = world.client, world.admin
    plain = world.new_key("tenant-a")[1]
    assert c.get("/v1/keys", headers=plain).status_code == 403
    expires = (utcnow() + timedelta(days=30)).isoformat()
    made = c.post(
        "/v1/keys", json={"name": "billing", "expires_at": expires, "rps_limit": 50}, headers=admin
    )
    assert made.status_code == 201, made.text
    new = made.json()
    key = {"Authorization": f"Bearer {new['key']}"}
    assert new["name"] == "billing" and new["state"] == "live" and new["rps_limit"] == 50
    assert c.get("/v1/jobs", headers=key).status_code == 200
    listed = c.get("/v1/keys", headers=admin).json()["items"]
    mine = next(k for k in listed if k["id"] == new["id"])
    assert "key" not in mine and mine["prefix"] == new["key"][:12]
    assert mine["last_used_at"] is not None

    rotated = c.post(f"/v1/keys/{new['id']}/rotate", headers=admin)
    assert rotated.status_code == 201
    successor = {"Authorization": f"Bearer {rotated.json()['key']}"}
    assert rotated.json()["lineage_id"] == new["id"] and rotated.json()["name"] == "billing"
    old = c.get(f"/v1/keys/{new['id']}", headers=admin).json()
    assert old["grace_until"] is not None and old["state"] == "live"
    for both in (key, successor):  # the grace period: both work
        assert c.get("/v1/jobs", headers=both).status_code == 200
    assert c.post(f"/v1/keys/{new['id']}/rotate", headers=admin).status_code == 409

    revoked = c.post(f"/v1/keys/{rotated.json()['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused = world.refused_within(successor, 5)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "API key revoked"
    assert c.get("/v1/jobs", headers=key).status_code == 200  # its grace runs on


def test_an_expired_key_is_refused_saying_so(world: World) -> None:
    key_id, key = world.new_key("tenant-a", expires_at=utcnow() + timedelta(seconds=1))
    assert world.client.get("/v1/jobs", headers=key).status_code == 200
    refused = world.refused_within(key, 5)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "API key expired"
    listed = world.client.get(f"/v1/keys/{key_id}", headers=world.admin).json()
    assert listed["state"] == "expired"


def test_a_rotated_key_stops_at_the_end_of_its_grace(world: World) -> None:
    key_id, key = world.new_key("tenant-a")
    assert world.client.post(f"/v1/keys/{key_id}/rotate", headers=world.admin).status_code == 201
    with session_scope(world.runtime.sessions) as session:  # as if the grace had run out
        session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(grace_until=utcnow() - timedelta(1))
        )
    world.runtime.redis.incr("grump:keys:epoch")  # type: ignore[union-attr]
    refused = world.refused_within(key, 5)
    assert refused.json()["error"]["message"] == "API key expired"


def test_last_use_is_written_once_a_period_not_per_request(world: World) -> None:
    key = world.new_key("tenant-a")[1]
    writes: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_: object) -> None:
        if statement.startswith("UPDATE api_keys"):
            writes.append(statement)

    engine = Engine  # every engine: the async one is made per event loop
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert world.client.get("/v1/jobs", headers=key).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(writes) == 1


def test_a_key_budget_refuses_its_key_and_its_rotation_not_the_tenants_other_keys(
    world: World,
) -> None:
    key_id, key = world.new_key("tenant-a")
    other = world.new_key("tenant-a")[1]
    url = f"/v1/budgets/tenant-a/daily?key={key_id}"
    assert world.client.put(url, json={"limit": "0"}, headers=world.admin).status_code == 200
    refused = world.submit(key)
    assert refused.status_code == 402
    assert refused.json()["error"]["scope"] == f"key:{key_id}"
    assert world.submit(other).status_code == 202
    successor = world.client.post(f"/v1/keys/{key_id}/rotate", headers=world.admin).json()
    auth = {"Authorization": f"Bearer {successor['key']}"}
    assert world.submit(auth, "from the new key").status_code == 402  # one lineage, one budget
    status = world.client.get("/v1/costs/budget-status", headers=other).json()
    assert [(b["key"], b["period"]) for b in status["items"]] == [(key_id, "daily")]
    assert {r["scope"] for r in status["rate_limits"]} == {"key", "tenant"}
    foreign = world.new_key("tenant-b")[0]
    put = world.client.put(
        f"/v1/budgets/tenant-a/daily?key={foreign}", json={"limit": "1"}, headers=world.admin
    )
    assert put.status_code == 404  # a key of another tenant


def test_concurrent_submits_of_one_key_take_exactly_its_budgets_room(world: World) -> None:
    runtime, tenant, room, submits = world.runtime, "tenant-a", 10, 40
    key_id = world.new_key(tenant)[0]

    def request(index: int) -> CompleteJobRequest:
        text = f"summarise ticket {index:04d} in one line"
        return CompleteJobRequest.model_validate(
            {"kind": "complete", "input": {"messages": [{"role": "user", "content": text}]}}
        )

    model = runtime.settings.economy_model
    each = estimate_reservation(runtime.catalogue, request(0), model)
    with session_scope(runtime.sessions) as session:
        budgets.set_budget(
            session, tenant, None, Period.DAILY, each * room, Decimal("0.8"), utcnow(), key_id
        )
    caller = Caller(key_id)

    async def one(index: int) -> bool:
        try:
            await submit_job_async(runtime, world.celery, tenant, request(index), caller=caller)
        except BudgetExceeded as exc:
            assert exc.details["scope"] == f"key:{key_id}"
            return False
        return True

    async def every() -> list[bool]:
        try:
            return list(await asyncio.gather(*(one(i) for i in range(submits))))
        finally:
            await runtime.aclose()

    assert sum(asyncio.run(every())) == room
    with runtime.sessions() as session:
        assert len(list(session.scalars(select(Job.id)))) == room


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_keys_rate_limit_answers_429_with_retry_after_in_each_shape(world: World) -> None:
    key = world.new_key("tenant-a", rps_limit=0.1)[1]  # one now, the next in 10 s
    before = _sample("grump_rate_limited_total", {"scope": "key", "limit": "rps"})
    assert world.submit(key).status_code == 202
    refused = world.submit(key, "another")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["scope"] == "key"
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    chat = world.client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, headers=key
    )
    assert chat.status_code == 429
    assert chat.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(chat.headers["retry-after"]) <= 10
    assert _sample("grump_rate_limited_total", {"scope": "key", "limit": "rps"}) == before + 2


@pytest.fixture
def tpm_world(real_settings: Settings, money_ledger: str) -> Iterator[World]:  # noqa: F811
    yield from _world(real_settings, tenant_tpm_limit=600)


def test_a_tenants_token_limit_covers_all_its_keys(tpm_world: World) -> None:
    first, second = tpm_world.new_key("tenant-a")[1], tpm_world.new_key("tenant-a")[1]
    assert tpm_world.submit(first, "a", max_tokens=500).status_code == 202
    refused = tpm_world.submit(second, "b", max_tokens=500)
    assert refused.status_code == 429
    assert refused.json()["error"]["scope"] == "tenant"
    assert refused.json()["error"]["limit"] == "tpm"
    assert tpm_world.submit(tpm_world.new_key("tenant-b")[1], "c", 500).status_code == 202
    status = tpm_world.client.get("/v1/costs/budget-status", headers=first).json()
    assert {"scope": "tenant", "key": None, "rps_limit": 0.0, "tpm_limit": 600} in status[
        "rate_limits"
    ]
