"""Submitting, reading, listing and cancelling jobs through the API (no workers run)."""

from __future__ import annotations

from typing import Any

from grump.celery.queues import EMBED_QUEUE, PARSE_QUEUE
from tests.conftest import Api

PARSE = {"kind": "parse", "input": {"text": "todo app with login"}}


def _submit(
    api: Api, body: dict[str, Any], key: str | None = None, **headers: str
) -> dict[str, Any]:
    response = api.client.post("/v1/jobs", json=body, headers={**api.auth(key), **headers})
    assert response.status_code == 202, response.text
    data: dict[str, Any] = response.json()
    return data


def test_submit_records_and_enqueues_on_the_tier_queue(api: Api) -> None:
    job = _submit(api, {"kind": "embed", "input": {"texts": ["a", "b"]}, "user": "ann"})
    assert (job["status"], job["kind"], job["tier"], job["queue"]) == (
        "queued",
        "embed",
        "gpu",
        "embed",
    )
    assert job["model"] == api.settings.embed_model
    assert job["links"]["self"] == f"/v1/jobs/{job['id']}"
    assert api.queued_messages(EMBED_QUEUE) == 1
    read = api.client.get(job["links"]["self"], headers=api.auth()).json()
    assert read["user"] == "ann" and read["status"] == "queued"


def test_complete_jobs_carry_their_routing_decision(api: Api) -> None:
    body = {"kind": "complete", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    job = _submit(api, body)
    assert job["tier"] in ("economy", "premium")
    assert job["queue"] == f"complete.{job['tier']}"
    # The original four fields stay; cache-aware routing added the scorer, warm input, costs.
    assert set(job["routing"]) == {
        "score",
        "tier",
        "model",
        "reason",
        "scorer",
        "warm_tokens",
        "expected_costs",
    }
    assert job["routing"]["scorer"] == "learned"
    pinned = _submit(
        api, {"kind": "complete", "input": {**body["input"], "model": api.settings.premium_model}}
    )
    assert pinned["tier"] == "premium" and pinned["model"] == api.settings.premium_model


def test_same_idempotency_key_returns_the_same_job(api: Api) -> None:
    first = _submit(api, PARSE, **{"Idempotency-Key": "k-1"})
    again = _submit(api, PARSE, **{"Idempotency-Key": "k-1"})
    assert again["id"] == first["id"]
    assert api.queued_messages(PARSE_QUEUE) == 1
    other = {"kind": "parse", "input": {"text": "something else"}}
    response = api.client.post(
        "/v1/jobs", json=other, headers={**api.auth(), "Idempotency-Key": "k-1"}
    )
    assert response.status_code == 409


def test_identical_inflight_request_joins_the_running_job(api: Api) -> None:
    first = _submit(api, PARSE)
    second = _submit(api, PARSE)
    assert second["id"] == first["id"] and second["coalesced"] is True
    assert api.queued_messages(PARSE_QUEUE) == 1
    # Another tenant never joins tenant A's job.
    theirs = _submit(api, PARSE, key=api.key_b)
    assert theirs["id"] != first["id"]


def test_another_tenants_job_is_not_found(api: Api) -> None:
    job = _submit(api, PARSE)
    for method in ("GET", "DELETE"):
        response = api.client.request(method, f"/v1/jobs/{job['id']}", headers=api.auth(api.key_b))
        assert response.status_code == 404
    listing = api.client.get("/v1/jobs", headers=api.auth(api.key_b)).json()
    assert listing["items"] == []


def test_listing_pages_with_a_cursor(api: Api) -> None:
    ids = [
        _submit(api, {"kind": "parse", "input": {"text": f"app number {i}"}})["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/jobs", params=params, headers=api.auth()).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert seen == list(reversed(ids))  # newest first


def test_cancel_a_queued_job_once(api: Api) -> None:
    job = _submit(api, PARSE)
    cancelled = api.client.delete(f"/v1/jobs/{job['id']}", headers=api.auth())
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.client.delete(f"/v1/jobs/{job['id']}", headers=api.auth())
    assert again.status_code == 409
    assert "cancelled" in again.json()["error"]["message"]


def test_batch_submit_returns_one_item_per_job(api: Api) -> None:
    body = {"jobs": [PARSE, {"kind": "embed", "input": {"texts": ["x"]}}, PARSE]}
    response = api.client.post("/v1/jobs:batch", json=body, headers=api.auth())
    assert response.status_code == 202
    items = response.json()["items"]
    assert [i["index"] for i in items] == [0, 1, 2]
    assert items[2]["job"]["id"] == items[0]["job"]["id"]  # identical, so coalesced
    assert api.queued_messages(PARSE_QUEUE) == 1 and api.queued_messages(EMBED_QUEUE) == 1


def test_health_and_metrics_need_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").status_code == 200
    _submit(api, PARSE)
    assert "grump_jobs_submitted_total" in api.client.get("/metrics").text
