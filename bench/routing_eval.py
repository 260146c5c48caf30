"""Judge the routing scores on grump's labelled set: keyword score against the learned one.

    PYTHONPATH=$PWD python bench/routing_eval.py            # evaluate
    PYTHONPATH=$PWD python bench/routing_eval.py --write    # also write grump/data weights
    PYTHONPATH=$PWD python bench/routing_eval.py --redis redis://127.0.0.1:6379/12

Prints, for both scorers: Spearman's rho against the difficulty tiers and the
confusion table (hard/easy by economy/premium) on the held-back folds of a
5-fold cross-validation grouped by family (no template is in both the fitted
and the judged folds), then on the held-out split, which nothing was fitted or
tuned on. The learned scorer's cut is chosen on the out-of-fold scores of the
training split only: the highest that puts no hard request of the held-back
folds on economy (the target is at most 5%; the margin is for unseen kinds of work). Also the rho on ``tests/data/app-ideas.jsonl`` (real app descriptions,
human tiers) and the learned scorer's latency per request.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.routing_fit import (
    Row,
    as_weights,
    cut_for_hard_recall,
    features,
    fit,
    load,
    out_of_fold,
    spearman,
    weights_json,
)
from grump.jobs.models import CompleteInput, Message
from grump.routing.complexity import complexity
from grump.routing.learned import WEIGHTS_FILE, ScorerWeights, learned_complexity
from grump.routing.policy import RoutingPolicy, route
from grump.routing.prompt_cache import prepare_for_provider, warm_tokens_for
from grump.runtime import Runtime
from grump.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
APP_IDEAS = ROOT / "tests" / "data" / "app-ideas.jsonl"
THRESHOLD = 60
SHORT_WORDS = 40  # an "easy short" request: its latest turn has at most this many words


def confusion(rows: list[Row], premium: list[bool], title: str) -> None:
    """Print the 2x2 table and the two shares that matter."""
    hard_eco = sum(r.hard and not p for r, p in zip(rows, premium, strict=True))
    hard_pre = sum(r.hard and p for r, p in zip(rows, premium, strict=True))
    easy_eco = sum(not r.hard and not p for r, p in zip(rows, premium, strict=True))
    easy_pre = sum(not r.hard and p for r, p in zip(rows, premium, strict=True))
    short = [
        p
        for r, p in zip(rows, premium, strict=True)
        if not r.hard and len(r.request.messages[-1].text().split()) <= SHORT_WORDS
    ]
    hard = hard_eco + hard_pre
    print(f"  {title}")
    print("              economy  premium")
    print(f"    hard      {hard_eco:7d}  {hard_pre:7d}")
    print(f"    easy      {easy_eco:7d}  {easy_pre:7d}")
    print(
        f"    hard on economy {hard_eco}/{hard} = {hard_eco / max(1, hard):.1%};"
        f" easy short on economy {short.count(False)}/{len(short)}"
        f" = {short.count(False) / max(1, len(short)):.1%}"
    )


def report(
    rows: list[Row], keyword: list[int], learned: list[float], cut: float, keyword_cut: float
) -> None:
    """rho and confusion tables of both scorers on ``rows`` (keywords at 60 and at its own cut)."""
    tiers = [float(r.tier) for r in rows]
    labels = [float(r.hard) for r in rows]
    for name, scores, at in (
        ("keywords", [float(s) for s in keyword], THRESHOLD),
        ("keywords", [float(s) for s in keyword], keyword_cut),
        ("learned", learned, cut),
    ):
        print(
            f" {name:8s} rho(tier) {spearman(scores, tiers):.3f}"
            f"  rho(label) {spearman(scores, labels):.3f}"
        )
        confusion(rows, [s >= at for s in scores], f"{name} at cut {at:.3g}")


def app_ideas_rho(weights: ScorerWeights) -> None:
    """rho between each score and the human tiers of the real app descriptions."""
    rows = [json.loads(line) for line in APP_IDEAS.read_text("utf-8").splitlines()]
    requests = [
        CompleteInput(messages=[Message(role="user", content=r["text"])], max_tokens=1024)
        for r in rows
    ]
    tiers = [float(str(r["tier"])[0]) for r in rows]
    keyword = [float(complexity(q)) for q in requests]
    learned = [float(learned_complexity(q, weights)) for q in requests]
    print(f"app-ideas.jsonl ({len(rows)} real descriptions, human tiers; never fitted on)")
    print(
        f"  keywords rho {spearman(keyword, tiers):.3f}   learned rho {spearman(learned, tiers):.3f}"
    )


def latency(rows: list[Row], weights: ScorerWeights, repeat: int = 20) -> None:
    """p50/p99 of one learned score, and of the keyword score, in microseconds."""
    for name, score in (
        ("learned", lambda q: learned_complexity(q, weights)),
        ("keywords", complexity),
    ):
        times = []
        for _ in range(repeat):
            for row in rows:
                start = time.perf_counter_ns()
                score(row.request)
                times.append(time.perf_counter_ns() - start)
        times.sort()
        p50, p99 = times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000
        print(f"  {name:8s} p50 {p50:.1f} us  p99 {p99:.1f} us  ({len(times)} calls)")


def _p50_us(call: Callable[[], object], repeat: int = 2000) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start)
    times.sort()
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def routing_latency(rows: list[Row], redis_url: str | None) -> None:
    """The whole routing step at submit: the warm read (one MGET), then ``route``."""
    settings = Settings.model_validate({"redis_url": redis_url} if redis_url else {})
    runtime = Runtime(settings)
    try:
        policy = RoutingPolicy.from_settings(settings)
        session = next(r for r in rows if r.kind == "assistant_turn" and not r.hard).request
        tenant = "bench-routing-eval"
        if redis_url:
            prepare_for_provider(runtime, policy.premium_model, session, tenant)

        def step() -> object:
            warm = warm_tokens_for(runtime, policy.premium_model, session, tenant)
            return route(session, policy, runtime.catalogue, budget_left=None, warm_tokens=warm)

        p50, p99 = _p50_us(step)
        where = f"Redis {redis_url}" if redis_url else "no Redis: the warm read is skipped"
        print(f"  route + warm read p50 {p50:.1f} us  p99 {p99:.1f} us  ({where})")
    finally:
        runtime.dispose()


def main() -> None:
    """Cross-validate, choose the cut, judge the held-out split, optionally write weights."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="write grump/data weights")
    parser.add_argument("--redis", help="a Redis URL: time the warm-prefix read at submit too")
    args = parser.parse_args()
    rows = load()
    train = [r for r in rows if r.split == "train"]
    print(f"{len(rows)} labelled requests: {len(train)} train, {len(rows) - len(train)} held out")

    hard = np.array([r.hard for r in train])
    z = out_of_fold(train)
    cut = cut_for_hard_recall(z, hard)
    keyword = {r.id: complexity(r.request) for r in rows}
    # The keyword score judged fairly: its own cut by the same rule, on the training split.
    keyword_cut = cut_for_hard_recall(np.array([float(keyword[r.id]) for r in train]), hard)
    print(f"\n5-fold CV on the training split (grouped by family), held-back folds; cut {cut:.3f}")
    report(train, [keyword[r.id] for r in train], [float(v) for v in z], cut, keyword_cut)

    w, b = fit(features([r.request for r in train]), hard)
    weights = as_weights(w, b, cut)
    for split in ("heldout", "heldout-b"):
        judged = [r for r in rows if r.split == split]
        print(f"\n{split} split ({len(judged)} requests, families never fitted or tuned on)")
        report(
            judged,
            [keyword[r.id] for r in judged],
            [float(learned_complexity(r.request, weights)) for r in judged],
            THRESHOLD,
            keyword_cut,
        )
    print()
    app_ideas_rho(weights)
    print("\nlatency per request (this machine)")
    latency(rows, weights)
    routing_latency(rows, args.redis)
    if args.write:
        out = ROOT / "grump" / "data" / WEIGHTS_FILE
        out.write_text(weights_json(w, b, cut), "utf-8")
        print(f"\nwrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
