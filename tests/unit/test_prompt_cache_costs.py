"""Provider caching in /v1/costs and the reports: its tokens, its savings, its advice and chart."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from grump.jobs import rows
from grump.jobs.models import CompleteJobRequest, Outcome
from grump.jobs.run import observe_success
from grump.ledger.db import session_scope, utcnow
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent
from grump.money.reports import render_html, render_markdown
from grump.money.reports.charts import savings_png
from grump.money.reports.recommend import recommendations
from grump.routing.pricing import estimate_input_tokens, estimate_reservation
from tests.conftest import Api
from tests.unit.test_costs_api import DAY1, seed_event
from tests.unit.test_reports import seeded_report

CLAUDE = "claude-sonnet-4-5"
EPHEMERAL = {"type": "ephemeral"}


def _mark_cached(api: Api, model: str, read: int, write: int, saved: str) -> None:
    """Give every event (and job) of ``model`` these prompt-cache tokens and saving."""
    with api.runtime.sessions() as session:
        session.execute(
            update(CostEvent)
            .where(CostEvent.model == model)
            .values(
                tokens_cache_read=read,
                tokens_cache_write=write,
                provider_cache_savings=Decimal(saved),
            )
        )
        session.execute(
            update(Job)
            .where(Job.model == model)
            .values(tokens_cache_read=read, tokens_cache_write=write)
        )
        session.commit()


def test_the_summary_shows_cache_tokens_and_provider_cache_savings_beside_the_old_fields(
    api: Api,
) -> None:
    with api.runtime.sessions() as session:
        for _ in range(2):
            seed_event(session, "tenant-a", DAY1, "0.03435", model=CLAUDE, tier="premium")
        seed_event(session, "tenant-a", DAY1, "0.00066", baseline="0.0045")
        session.commit()
    _mark_cached(api, CLAUDE, 2_000, 3_000, "0.0054")
    params = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-05T00:00:00Z", "group_by": "model"}
    body = api.client.get("/v1/costs/summary", params=params, headers=api.auth()).json()
    total = body["total"]
    assert total["tokens_cache_read"] == 4_000 and total["tokens_cache_write"] == 6_000
    assert total["provider_cache_savings"] == "0.0108000000"
    assert total["routing_savings"] == "0.0038400000"  # the economy job's
    assert total["savings"] == "0.0146400000"  # routing + provider caching (no cache hits)
    assert {"cost", "baseline_cost", "cache_savings", "tokens_in", "tokens_out"} <= set(total)
    groups = {g["key"]: g for g in body["groups"]}
    assert groups[CLAUDE]["provider_cache_savings"] == "0.0108000000"
    assert groups["moonshotai/kimi-k2.5"]["tokens_cache_read"] == 0


def test_other_thresholds_keep_a_premium_jobs_prompt_cache_only_on_premium(api: Api) -> None:
    now = utcnow()
    with api.runtime.sessions() as session:
        # 10,000 in (9,000 read from the cache), 500 out on Sonnet: $0.0132 as billed.
        seed_event(
            session,
            "tenant-a",
            now - timedelta(hours=1),
            "0.0132",
            score=70,
            model=CLAUDE,
            tier="premium",
            tokens=(10_000, 500),
        )
        session.commit()
    _mark_cached(api, CLAUDE, 9_000, 0, "0.0243")
    body = api.client.get("/v1/costs/recommendations", headers=api.auth()).json()
    options = {o["threshold"]: Decimal(o["cost"]) for o in body["thresholds"]}
    assert options[60] == Decimal("0.0132")  # still premium: priced as it was billed
    # On Kimi the warm prefix is lost: its 10,000 tokens in cost $0.0060, more than Sonnet's
    # $0.0057 with the cache; only the cheaper output makes the whole call cheaper there.
    assert options[80] == Decimal("0.0063")  # 10,500 x $0.60


def test_a_prompt_cache_written_more_than_read_is_pointed_out() -> None:
    report = seeded_report()
    assert not any("prompt cache" in a for a in recommendations(report))
    written = replace(report.totals, tokens_cache_read=1_000_000, tokens_cache_write=4_000_000)
    advice = recommendations(replace(report, totals=written))
    assert any(
        "written more than read (4,000,000 tokens written, 1,000,000 read" in a for a in advice
    )
    well_read = replace(written, tokens_cache_read=40_000_000)
    assert not any("prompt cache" in a for a in recommendations(replace(report, totals=well_read)))


def test_reports_show_the_provider_caches_saving_and_tokens() -> None:
    report = seeded_report()
    totals = replace(
        report.totals,
        tokens_cache_read=1_000_000,
        tokens_cache_write=250_000,
        provider_cache_savings=Decimal("2.7"),
    )
    cached = replace(report, totals=totals)
    text = render_markdown(cached)
    assert "| Saved by the provider's prompt cache | $2.7000 |" in text
    assert "| of which written to the prompt cache | 250,000 |" in text
    assert "$1,978.6322" in text  # cache + routing + provider caching
    html = render_html(cached)
    assert "1,000,000 in read from the prompt cache, 250,000 written to it" in html
    only_provider = replace(
        cached,
        totals=replace(totals, cache_savings=Decimal(0), routing_savings=Decimal(0)),
    )
    assert savings_png(only_provider) is not None


def test_a_cached_claude_job_billed_at_its_dearest_fits_the_budget_it_reserved(api: Api) -> None:
    """Every input token written to the cache for an hour, every output token used: still within."""
    catalogue = api.runtime.catalogue
    system = {"role": "system", "content": "You review diffs. " * 200, "cache_control": EPHEMERAL}
    body = {
        "kind": "complete",
        "input": {
            "messages": [system, {"role": "user", "content": "review this"}],
            "max_tokens": 300,
            "model": CLAUDE,
        },
    }
    request = CompleteJobRequest.model_validate(body)
    reservation = estimate_reservation(catalogue, request, CLAUDE)
    admin = api.auth(api.new_key("ops", admin=True))
    limit = {"limit": str(reservation)}
    assert api.client.put("/v1/budgets/tenant-a/daily", json=limit, headers=admin).is_success
    answer = api.client.post("/v1/jobs", json=body, headers=api.auth())
    assert answer.status_code == 202, answer.text
    tokens_in = estimate_input_tokens(request.input)
    price = catalogue.price(CLAUDE)
    worst = Outcome(
        result={},
        model=CLAUDE,
        provider="anthropic",
        tokens_in=tokens_in,
        tokens_out=300,
        cost=price.cost(tokens_in, 300, cache_write_tokens=tokens_in, cache_write_ttl="1h"),
        baseline_cost=price.cost(tokens_in, 300),
        tokens_cache_write=tokens_in,
    )
    with session_scope(api.runtime.sessions) as session:
        job = session.get_one(Job, uuid.UUID(answer.json()["id"]))
        assert job.reserved_cost == reservation
        assert rows.finish(session, job, worst)
    (status,) = api.client.get("/v1/costs/budget-status", headers=api.auth()).json()["items"]
    assert Decimal(status["spent"]) == worst.cost == reservation  # to the last digit, not over
    assert Decimal(status["reserved"]) == 0
    # The budget is used up: the same request again is refused, not overrun.
    assert api.client.post("/v1/jobs", json=body, headers=api.auth()).status_code == 402


def test_the_provider_caches_saving_is_counted_in_the_metrics() -> None:
    def counted() -> float:
        found = REGISTRY.get_sample_value("provider_cache_savings_usd_total", {"model": CLAUDE})
        return found or 0.0

    before = counted()
    outcome = Outcome(
        result={},
        model=CLAUDE,
        provider="anthropic",
        tokens_in=10_000,
        tokens_out=500,
        cost=Decimal("0.0132"),
        baseline_cost=Decimal("0.0375"),
        tokens_cache_read=9_000,
        provider_cache_savings=Decimal("0.0243"),
    )
    observe_success("complete", "premium", outcome, 0.5)
    assert counted() - before == pytest.approx(0.0243)
