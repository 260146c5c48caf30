"""The embedded default runs the main job end to end: `make demo` in miniature."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from grump.demo import run_demo
from grump.demo.summary import headline_lines, percentile, summarise
from grump.demo.workload import make_workload
from grump.money.sums import Sums
from tests.conftest import local_settings

pytestmark = pytest.mark.timeout(120)


def test_demo_runs_every_kind_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(local_settings(tmp_path), jobs=60) == 0
    out = capsys.readouterr().out
    for word in ("parse", "complete", "embed", "cpu", "gpu", "saved vs all-premium", "offline"):
        assert word in out
    assert "did not finish" not in out
    # The headline counts LLM and embedding spend avoided; parse work is a line of its own.
    assert (
        "LLM and embedding spend avoided:" in out and "against the premium model, uncached" in out
    )
    assert "by cause: exact cache" in out and "coalescing" in out and "batch discount" in out
    assert "Work kept off the LLM:" in out and "not in the figure above" in out
    assert "kept off the LLM: $" in out  # the parse row's saving column


def test_the_headline_leaves_parse_work_out_of_the_spend_avoided() -> None:
    totals = Sums(
        requests=10,
        cost=Decimal("0.2"),
        baseline=Decimal("1"),
        direct_baseline=Decimal("0.5"),
        cache_savings=Decimal("0.3"),
        coalescing_savings=Decimal("0.1"),
        routing_savings=Decimal("0.25"),
        provider_cache_savings=Decimal("0.1"),
        batch_savings=Decimal("0.05"),
        kept_off_llm=Decimal("7"),
    )
    first, causes, direct, kept = headline_lines(totals, parse_jobs=4, breakpoints=True)
    assert first == (
        "LLM and embedding spend avoided: $0.8000 of $1.0000 (80.0%) against the premium"
        " model, uncached; spent $0.2000."
    )
    assert causes == (
        "  by cause: exact cache $0.3000, coalescing $0.1000, routing $0.2500,"
        " provider caching $0.1000, batch discount $0.0500"
    )
    assert direct == (
        "  against going direct with the clients' own cache breakpoints: $0.3000 of $0.5000 (60.0%)."
    )
    assert kept.startswith("Work kept off the LLM: 4 parse jobs, $7.0000")
    assert "same" in headline_lines(totals, 4, breakpoints=False)[2]


def test_workload_mixes_kinds_and_repeats() -> None:
    jobs = make_workload(300)
    kinds = {j["kind"] for j in jobs}
    assert kinds == {"parse", "complete", "embed"}
    inputs = [repr(j["input"]) for j in jobs]
    assert len(set(inputs)) < len(inputs)  # some requests repeat
    assert make_workload(300) == jobs  # the same workload every run


def test_summary_groups_by_tier_and_kind_and_sums_money_exactly() -> None:
    job = {
        "status": "succeeded",
        "tier": "economy",
        "kind": "complete",
        "created_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:00.250000+00:00",
        "tokens_in": 10,
        "tokens_out": 5,
        "cost": "0.0000090000",
        "baseline_cost": "0.0001050000",
    }
    groups = summarise([job, {**job, "status": "failed", "finished_at": None}])
    group = groups[("economy", "complete")]
    assert (group.jobs, group.succeeded, group.failed) == (2, 1, 1)
    assert group.cost == Decimal("0.0000180000")
    assert group.latencies == [0.25]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([], 0.5) == 0.0
