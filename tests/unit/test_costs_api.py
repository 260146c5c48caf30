"""/v1/costs on a seeded ledger: summary groups, budget status, recommendations; per tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from grump.ledger.db import utcnow
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from tests.conftest import Api


def seed_event(
    session: Session,
    tenant: str,
    at: datetime,
    cost: str,
    *,
    model: str = "moonshotai/kimi-k2.5",
    kind: str = "complete",
    tier: str = "economy",
    user: str | None = None,
    score: int | None = None,
    tokens: tuple[int, int] = (100, 50),
    cached: bool = False,
    baseline: str | None = None,
) -> None:
    """One finished job and its cost event, as processing writes them."""
    job_id = uuid.uuid4()
    routing = (
        None
        if score is None
        else {"score": score, "tier": tier, "model": model, "reason": "score<60"}
    )
    session.add(
        Job(
            id=job_id,
            tenant=tenant,
            user_id=user,
            kind=kind,
            status="succeeded",
            priority=5,
            tier=tier,
            queue="q",
            model=model,
            routing=routing,
            input={},
            fingerprint=job_id.hex,
            attempts=1,
            tokens_in=tokens[0],
            tokens_out=tokens[1],
            cost=Decimal(cost),
            baseline_cost=Decimal(baseline or cost),
            reserved_cost=Decimal(0),
            coalesced_count=0,
            created_at=at,
            deadline_at=at,
        )
    )
    session.flush()
    base = Decimal(baseline or cost)
    session.add(
        CostEvent(
            job_id=job_id,
            tenant=tenant,
            user_id=user,
            kind=kind,
            model=model,
            tier=tier,
            provider="offline",
            tokens_in=tokens[0],
            tokens_out=tokens[1],
            cost=Decimal(cost),
            baseline_cost=base,
            cache_savings=base if cached else Decimal(0),
            routing_savings=Decimal(0) if cached else base - Decimal(cost),
            cached=cached,
            created_at=at,
        )
    )


DAY1 = datetime(2026, 3, 2, 10, tzinfo=UTC)
DAY2 = datetime(2026, 3, 3, 23, 59, tzinfo=UTC)


def _seed(api: Api) -> None:
    with api.runtime.sessions() as session:
        seed_event(session, "tenant-a", DAY1, "0.1000000001", user="ann")
        seed_event(
            session,
            "tenant-a",
            DAY1,
            "0.2",
            model="claude-sonnet-4-5",
            tier="premium",
            user="bob",
            baseline="0.2",
        )
        seed_event(
            session,
            "tenant-a",
            DAY2,
            "0.0300000000",
            kind="embed",
            tier="gpu",
            model="nvidia/nv-embedqa-e5-v5",
        )
        seed_event(session, "tenant-b", DAY1, "5")
        session.commit()


def _summary(api: Api, group_by: str, key: str | None = None) -> dict[str, Any]:
    params = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-05T00:00:00Z", "group_by": group_by}
    answer = api.client.get("/v1/costs/summary", params=params, headers=api.auth(key))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _costs(body: dict[str, Any]) -> dict[str, str]:
    return {g["key"]: g["cost"] for g in body["groups"]}


def test_summary_groups_by_each_dimension_exactly(api: Api) -> None:
    _seed(api)
    by_day = _summary(api, "day")
    assert by_day["total"]["cost"] == "0.3300000001" and by_day["total"]["requests"] == 3
    assert _costs(by_day) == {"2026-03-02": "0.3000000001", "2026-03-03": "0.0300000000"}
    assert [g["key"] for g in by_day["groups"]] == ["2026-03-02", "2026-03-03"]
    assert _costs(_summary(api, "model")) == {
        "claude-sonnet-4-5": "0.2000000000",
        "moonshotai/kimi-k2.5": "0.1000000001",
        "nvidia/nv-embedqa-e5-v5": "0.0300000000",
    }
    assert _costs(_summary(api, "kind")) == {"complete": "0.3000000001", "embed": "0.0300000000"}
    assert list(_costs(_summary(api, "tier"))) == ["premium", "economy", "gpu"]  # dearest first
    assert _costs(_summary(api, "user")) == {
        "bob": "0.2000000000",
        "ann": "0.1000000001",
        "(none)": "0.0300000000",
    }


def test_a_tenant_sees_only_its_own_costs(api: Api) -> None:
    _seed(api)
    assert _summary(api, "day", api.key_b)["total"]["cost"] == "5.0000000000"
    newcomer = api.new_key("tenant-c")
    assert _summary(api, "model", newcomer)["groups"] == []


def test_summary_window_is_half_open_and_checked(api: Api) -> None:
    _seed(api)
    params = {"from": "2026-03-03T00:00:00Z", "to": "2026-03-03T23:59:00Z"}
    body = api.client.get("/v1/costs/summary", params=params, headers=api.auth()).json()
    assert body["total"]["requests"] == 0  # DAY2's event is at the excluded end
    backwards = {"from": "2026-03-04T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    answer = api.client.get("/v1/costs/summary", params=backwards, headers=api.auth())
    assert answer.status_code == 422


def test_recommendations_price_other_thresholds_on_last_weeks_jobs(api: Api) -> None:
    now = utcnow()
    with api.runtime.sessions() as session:
        # Two jobs routed premium at score 65 and 70: a threshold of 80 would have sent both
        # to the economy model at $0.60/M instead of $3/M in and $15/M out.
        for score in (65, 70):
            seed_event(
                session,
                "tenant-a",
                now - timedelta(hours=1),
                "0.0105",
                score=score,
                model="claude-sonnet-4-5",
                tier="premium",
                user="ann",
                tokens=(1000, 500),
            )
        seed_event(session, "tenant-a", now - timedelta(days=8), "9", score=90, user="old")
        seed_event(
            session,
            "tenant-a",
            now - timedelta(hours=2),
            "0",
            kind="embed",
            cached=True,
            baseline="0.001",
        )
        session.commit()
    body = api.client.get("/v1/costs/recommendations", headers=api.auth()).json()
    options = {o["threshold"]: Decimal(o["saving"]) for o in body["thresholds"]}
    assert Decimal(body["routed_cost"]) == Decimal("0.021")
    assert options[60] == 0  # today's threshold reproduces what was paid
    assert options[80] == Decimal("0.021") - 2 * Decimal("0.0009")
    assert options[90] == options[80]
    assert "routing threshold of 80" in body["advice"][0]
    assert body["top_users"][0] == {"user": "ann", "cost": "0.0210000000", "share": "1.0000"}
    cache = {c["kind"]: (c["requests"], c["hits"]) for c in body["cache"]}
    assert cache == {"complete": (2, 0), "embed": (1, 1)}
    other = api.client.get("/v1/costs/recommendations", headers=api.auth(api.key_b)).json()
    assert other["thresholds"][0]["cost"] == "0" and other["top_users"] == []
