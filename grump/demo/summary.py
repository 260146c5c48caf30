"""The demo's closing table: per tier and kind, jobs, outcomes, latency, tokens, cost, savings."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.table import Table

from grump.money.sums import Sums

PARSE = "parse"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


@dataclass
class Group:
    """The figures of one row of the demo's table: jobs, outcomes, latencies, tokens and money."""

    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    tokens: int = 0
    cost: Decimal = Decimal(0)
    baseline: Decimal = Decimal(0)

    def absorb(self, other: Group, money: bool = True) -> None:
        """Fold another group's figures into this one (for the totals row); its cost and baseline only with ``money``."""
        self.jobs += other.jobs
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.latencies += other.latencies
        self.tokens += other.tokens
        if money:
            self.cost += other.cost
            self.baseline += other.baseline

    def add(self, job: dict[str, Any]) -> None:
        """Count one finished job (as the API shows it) into the group."""
        self.jobs += 1
        self.succeeded += job["status"] == "succeeded"
        self.failed += job["status"] in ("failed", "rejected", "cancelled")
        if job.get("finished_at"):
            start = datetime.fromisoformat(job["created_at"])
            end = datetime.fromisoformat(job["finished_at"])
            self.latencies.append((end - start).total_seconds())
        self.tokens += int(job["tokens_in"]) + int(job["tokens_out"])
        self.cost += Decimal(job["cost"])
        self.baseline += Decimal(job["baseline_cost"])


def summarise(jobs: list[dict[str, Any]]) -> dict[tuple[str, str], Group]:
    """The jobs' figures grouped by (tier, kind), in order."""
    groups: dict[tuple[str, str], Group] = defaultdict(Group)
    for job in jobs:
        groups[(job["tier"], job["kind"])].add(job)
    return dict(sorted(groups.items()))


def _money(amount: Decimal) -> str:
    return f"${amount:,.4f}"


def _row(name: tuple[str, str], g: Group) -> list[str]:
    saved = g.baseline - g.cost
    share = f"{saved / g.baseline:.0%}" if g.baseline else "-"
    cell = f"{_money(saved)} ({share})"
    if name[1] == PARSE:
        cell = f"kept off the LLM: {_money(saved)}"
    return [
        name[0],
        name[1],
        str(g.jobs),
        f"{g.succeeded}/{g.failed}",
        f"{percentile(g.latencies, 0.5) * 1000:.0f}",
        f"{percentile(g.latencies, 0.95) * 1000:.0f}",
        f"{g.tokens:,}",
        _money(g.cost),
        cell,
    ]


def summary_table(groups: dict[tuple[str, str], Group]) -> Table:
    """The demo's closing table: a row per group, then the totals."""
    table = Table(title="grump demo: per tier and kind")
    for column in ("tier", "kind", "jobs", "ok/failed", "p50 ms", "p95 ms", "tokens", "cost"):
        table.add_column(column, justify="left" if column in ("tier", "kind") else "right")
    table.add_column("saved vs all-premium", justify="right")
    total = Group()
    for name, group in groups.items():
        table.add_row(*_row(name, group))
        total.absorb(group, money=name[1] != PARSE)  # parse work is no LLM spend avoided
    table.add_section()
    table.add_row(*_row(("all", ""), total), style="bold")
    table.caption = "all: cost and saving count LLM and embedding work; parse is kept off the LLM"
    return table


def _share(part: Decimal, whole: Decimal) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def headline_lines(totals: Sums, parse_jobs: int, breakpoints: bool) -> list[str]:
    """The demo's headline from the ledger: LLM and embedding spend avoided, then parse work apart.

    ``totals`` are the run's cost sums (``grump.money.costs.totals``); ``breakpoints``
    says whether any request carried its own ``cache_control``.
    """
    causes = (
        ("exact cache", totals.cache_savings),
        ("coalescing", totals.coalescing_savings),
        ("routing", totals.routing_savings),
        ("provider caching", totals.provider_cache_savings),
        ("batch discount", totals.batch_savings),
    )
    lines = [
        f"LLM and embedding spend avoided: {_money(totals.savings)} of {_money(totals.baseline)}"
        f" ({_share(totals.savings, totals.baseline)}) against the premium model, uncached;"
        f" spent {_money(totals.cost)}.",
        "  by cause: " + ", ".join(f"{name} {_money(amount)}" for name, amount in causes),
    ]
    if breakpoints:
        lines.append(
            f"  against going direct with the clients' own cache breakpoints:"
            f" {_money(totals.direct_savings)} of {_money(totals.direct_baseline)}"
            f" ({_share(totals.direct_savings, totals.direct_baseline)})."
        )
    else:
        lines.append(
            "  no request carried cache_control: going direct, they would run uncached,"
            " so both baselines are the same."
        )
    lines.append(
        f"Work kept off the LLM: {parse_jobs} parse jobs, {_money(totals.kept_off_llm)} at the"
        " premium model's prices (not in the figure above)."
    )
    return lines
