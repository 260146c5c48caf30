"""What ``bench/replay.py`` prints: a grump run's ledger against the direct runs' invoices.

Targets (issue 19): the bill at most 0.85x the direct bill with the clients' own
breakpoints and 0.25x all-premium uncached, the run without client breakpoints
within 5% of the one with them, at most 5% of hard requests on the economy
model and at least 50% of easy short ones there, every deferred job answered
before its deadline, recorded spend within 0.1% of the invoice.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bench.replay_trace import Task, Trace
from grump.ledger.models import Job
from grump.ledger.money_models import CostEvent

ECONOMY_PREFIX = "moonshotai/"
ZERO = Decimal(0)
CAUSES = ("exact cache", "coalescing", "routing", "provider caching", "batch discount")


def ledger_figures(engine: Engine, requests: list[tuple[uuid.UUID, Task, bool]]) -> dict[str, Any]:
    """Spend, savings by cause, routing of labelled requests and deferred deadlines, from the ledger."""
    with engine.connect() as connection:
        events = connection.execute(
            select(
                CostEvent.cost,
                CostEvent.baseline_cost,
                CostEvent.cache_savings,
                CostEvent.routing_savings,
                CostEvent.provider_cache_savings,
                CostEvent.batch_savings,
                CostEvent.cached,
                Job.coalesced_count,
            ).join(Job, Job.id == CostEvent.job_id)
        ).all()
        jobs = {
            row.id: row
            for row in connection.execute(
                select(Job.id, Job.status, Job.result, Job.finished_at, Job.defer_until)
            )
        }
    causes = {
        "exact cache": sum((e.cache_savings for e in events), ZERO),
        "coalescing": sum((e.baseline_cost * e.coalesced_count for e in events), ZERO),
        "routing": sum((e.routing_savings for e in events), ZERO),
        "provider caching": sum((e.provider_cache_savings for e in events), ZERO),
        "batch discount": sum((e.batch_savings for e in events), ZERO),
    }
    answered_by = {job_id: str((row.result or {}).get("model", "")) for job_id, row in jobs.items()}
    hard = [answered_by[j] for j, task, _ in requests if task.hard]
    short = [answered_by[j] for j, task, _ in requests if task.short]
    deferred = [jobs[j] for j, _, waits in requests if waits]
    return {
        "recorded": sum((e.cost for e in events), ZERO),
        "ledger_baseline": sum((e.baseline_cost * (1 + e.coalesced_count) for e in events), ZERO),
        "causes": causes,
        "requests": len(requests),
        "jobs": len(events),
        "hits": sum(1 for e in events if e.cached),
        "coalesced": sum(e.coalesced_count for e in events),
        "failed": sum(1 for row in jobs.values() if row.status != "succeeded"),
        "hard": (sum(1 for m in hard if m.startswith(ECONOMY_PREFIX)), len(hard)),
        "short": (sum(1 for m in short if m.startswith(ECONOMY_PREFIX)), len(short)),
        "deferred": (
            sum(
                1
                for row in deferred
                if row.status == "succeeded"
                and row.finished_at is not None
                and (row.defer_until is None or row.finished_at <= row.defer_until)
            ),
            len(deferred),
        ),
    }


def _share(part: Decimal, whole: Decimal, digits: int = 1) -> str:
    return f"{part / whole:.{digits}%}" if whole else "n/a"


def _ratio(part: Decimal, whole: Decimal) -> str:
    return f"{part / whole:.3f}x" if whole else "n/a"


def print_run(label: str, run: dict[str, Any], baselines: dict[str, Decimal]) -> None:
    """One grump run's figures."""
    direct, uncached = baselines["direct_breakpoints"], baselines["direct_uncached"]
    billed, recorded = run["billed"], run["recorded"]
    print(
        f"\ngrump, {label}: {run['requests']} requests, {run['jobs']} jobs, {run['failed']} not succeeded, wall {run['wall']:.0f} s"
    )
    print(f"  exact-cache hits {run['hits']}, coalesced {run['coalesced']}")
    print(
        f"  billed ${billed:.4f}: {_ratio(billed, direct)} direct with breakpoints (target <= 0.85x), "
        f"{_ratio(billed, uncached)} all-premium uncached (target <= 0.25x)"
    )
    print(
        f"  recorded ${recorded:.4f}, {_share(recorded - billed, billed, 3)} off the invoice (target within 0.1%)"
    )
    causes: dict[str, Decimal] = run["causes"]
    total = sum(causes.values(), ZERO)
    print(
        f"  saved against the ledger's own all-premium baseline ${run['ledger_baseline']:.4f}: ${total:.4f}"
    )
    for cause in CAUSES:
        print(f"    {cause:17} ${causes[cause]:.4f}  {_share(causes[cause], total)}")
    hard_economy, hard = run["hard"]
    short_economy, short = run["short"]
    done, deferred = run["deferred"]
    print(
        f"  hard requests on economy: {hard_economy} of {hard} ({_share(Decimal(hard_economy), Decimal(hard))}, target <= 5%)"
    )
    print(
        f"  easy short requests on economy: {short_economy} of {short} ({_share(Decimal(short_economy), Decimal(short))}, target >= 50%)"
    )
    print(f"  deferred jobs answered before their deadline: {done} of {deferred}")


def report(trace: Trace, baselines: dict[str, Decimal], runs: dict[bool, dict[str, Any]]) -> None:
    """Everything the replay prints after its runs."""
    turns = sum(len(s.turns) for s in trace.sessions)
    reviews = sum(1 for s in trace.singles if s.review)
    print(
        f"trace: {len(trace.sessions)} sessions ({turns} turns, tool loops), {reviews} deferrable reviews, "
        f"{len(trace.singles) - reviews} service requests; {trace.calls()} calls"
    )
    direct, uncached = baselines["direct_breakpoints"], baselines["direct_uncached"]
    print(
        f"direct with the clients' breakpoints: ${direct:.4f} ({_ratio(direct, uncached)} uncached)"
    )
    print(f"direct, all premium uncached:         ${uncached:.4f}")
    print_run("clients sending breakpoints", runs[True], baselines)
    print_run("clients sending none (grump places them)", runs[False], baselines)
    with_bp, without = runs[True]["billed"], runs[False]["billed"]
    print(
        f"\nno-breakpoint run against the breakpoint run: {_ratio(without, with_bp)} (target within 5%)"
    )
