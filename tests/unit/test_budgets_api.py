"""Budgets through the API: admin-only management, reservation at submit, 402, release, settle."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from grump.jobs.run import Step, process_job
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from tests.conftest import Api

HARD = (
    "Design the architecture, refactor the scheduler, debug the deadlock and prove the"
    " algorithm correct; explain the trade-offs."
)


def _complete(text: str = "say hi", max_tokens: int = 1000, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"kind": "complete", "input": {"messages": messages, "max_tokens": max_tokens}, **extra}


def _admin(api: Api) -> dict[str, str]:
    return api.auth(api.new_key("ops", admin=True))


def _set(api: Api, limit: str, period: str = "daily", **params: str) -> dict[str, Any]:
    answer = api.client.put(
        f"/v1/budgets/tenant-a/{period}", json={"limit": limit}, params=params, headers=_admin(api)
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _status(api: Api, key: str | None = None) -> list[dict[str, Any]]:
    answer = api.client.get("/v1/costs/budget-status", headers=api.auth(key))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _jobs(api: Api) -> int:
    with api.runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def test_only_admin_keys_manage_budgets(api: Api) -> None:
    body = {"limit": "5"}
    assert api.client.put("/v1/budgets/tenant-a/daily", json=body).status_code == 401
    refused = api.client.put("/v1/budgets/tenant-a/daily", json=body, headers=api.auth())
    assert refused.status_code == 403
    assert api.client.get("/v1/budgets/tenant-a", headers=api.auth()).status_code == 403
    made = _set(api, "5")
    assert made["limit"] == "5.0000000000" and made["alert_threshold"] == "0.8000000000"
    listed = api.client.get("/v1/budgets/tenant-a", headers=_admin(api)).json()["items"]
    assert [(b["period"], b["user"], b["health"]) for b in listed] == [("daily", None, "ok")]


def test_a_budget_can_be_changed_and_removed(api: Api) -> None:
    _set(api, "5")
    changed = api.client.put(
        "/v1/budgets/tenant-a/daily",
        json={"limit": "7.5", "alert_threshold": "0.5"},
        headers=_admin(api),
    ).json()
    assert (changed["limit"], changed["alert_threshold"]) == ("7.5000000000", "0.5000000000")
    gone = api.client.delete("/v1/budgets/tenant-a/daily", headers=_admin(api))
    assert gone.status_code == 204
    assert api.client.delete("/v1/budgets/tenant-a/daily", headers=_admin(api)).status_code == 404
    assert _status(api) == []


def test_submit_reserves_the_estimated_maximum(api: Api) -> None:
    _set(api, "1")
    answer = api.client.post("/v1/jobs", json=_complete(), headers=api.auth())
    assert answer.status_code == 202
    with api.runtime.sessions() as session:
        job = session.get(Job, uuid.UUID(answer.json()["id"]))
        assert job is not None
        reserved = job.reserved_cost
    assert reserved > 0
    (status,) = _status(api)
    assert Decimal(status["reserved"]) == reserved and Decimal(status["spent"]) == 0
    assert _status(api, api.key_b) == []  # another tenant sees none of it


def test_over_the_limit_is_402_and_nothing_is_enqueued(api: Api) -> None:
    _set(api, "0.001")  # room for one economy job of 1,000 tokens out (~0.0006), not two
    first = api.client.post("/v1/jobs", json=_complete("one"), headers=api.auth())
    assert first.status_code == 202
    refused = api.client.post("/v1/jobs", json=_complete("two"), headers=api.auth())
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert error["limit"] == "0.0010000000" and error["spent"] == "0.0000000000"
    assert Decimal(error["reserved"]) == Decimal(_status(api)[0]["reserved"]) > 0
    assert error["period"] == "daily" and error["scope"] == "tenant"
    assert error["resets_at"].endswith("T00:00:00+00:00")
    assert _jobs(api) == 1 and api.queued_messages("complete.economy") == 1


def test_parse_jobs_cost_nothing_and_pass_a_spent_budget(api: Api) -> None:
    _set(api, "0")
    parse = {"kind": "parse", "input": {"text": "add a login page"}}
    assert api.client.post("/v1/jobs", json=parse, headers=api.auth()).status_code == 202
    assert api.client.post("/v1/jobs", json=_complete(), headers=api.auth()).status_code == 402


def test_cancel_releases_the_reservation(api: Api) -> None:
    _set(api, "0.001")
    job = api.client.post("/v1/jobs", json=_complete("one"), headers=api.auth()).json()
    assert api.client.post("/v1/jobs", json=_complete("two"), headers=api.auth()).status_code == 402
    assert api.client.delete(f"/v1/jobs/{job['id']}", headers=api.auth()).status_code == 200
    assert Decimal(_status(api)[0]["reserved"]) == 0
    assert api.client.post("/v1/jobs", json=_complete("two"), headers=api.auth()).status_code == 202


def test_a_short_budget_sends_a_hard_job_to_the_economy_model(api: Api) -> None:
    roomy = api.client.post("/v1/jobs", json=_complete(HARD), headers=api.auth()).json()
    assert roomy["tier"] == "premium"  # no budget: the score decides
    _set(api, "0.01")  # premium's 1,000 tokens out cost ~0.015; economy's ~0.0006
    tight = api.client.post("/v1/jobs", json=_complete(HARD + " Now."), headers=api.auth())
    assert tight.status_code == 202
    body = tight.json()
    assert body["tier"] == "economy" and body["routing"]["reason"] == "downgraded:budget"


def test_a_user_budget_limits_only_that_user(api: Api) -> None:
    _set(api, "0", user="alice")
    refused = api.client.post("/v1/jobs", json=_complete(user="alice"), headers=api.auth())
    assert refused.status_code == 402 and refused.json()["error"]["scope"] == "user:alice"
    assert api.client.post("/v1/jobs", json=_complete(user="bob"), headers=api.auth()).is_success


def test_completion_settles_to_the_actual_cost(api: Api) -> None:
    _set(api, "1", period="monthly")
    job_id = uuid.UUID(
        api.client.post("/v1/jobs", json=_complete(), headers=api.auth()).json()["id"]
    )
    assert process_job(api.runtime, job_id) is Step.SUCCEEDED
    assert process_job(api.runtime, job_id) is Step.SKIPPED  # a redelivery charges nothing more
    with api.runtime.sessions() as session:
        cost = session.scalar(select(CostEvent.cost).where(CostEvent.job_id == job_id))
        reserved = session.scalar(select(Job.reserved_cost).where(Job.id == job_id))
    (status,) = _status(api)
    assert cost is not None and reserved is not None and 0 < cost < reserved
    assert Decimal(status["spent"]) == cost and Decimal(status["reserved"]) == 0
