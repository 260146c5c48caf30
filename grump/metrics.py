"""Every Prometheus metric grump exports, defined once.

Labels are bounded: model, tier, queue, kind, cache tier, outcome, provider, and a
provider error's status (an HTTP status code, or timeout, connection, malformed).
Never user or job ids; a tenant only when the operator named it in
``GRUMP_FAIR_SHARE_WEIGHTS`` (``grump_jobs_held``), every other tenant as ``other``.
"""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

LLM_COST_USD = Counter("llm_cost_usd", "Money spent on provider calls", ["model", "tier", "kind"])
LLM_COST_PER_REQUEST = Histogram(
    "llm_cost_per_request_usd",
    "Cost of one job",
    ["kind", "tier"],
    buckets=(0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
CACHE_SAVINGS_USD = Counter("cache_savings_usd", "Money saved by cache hits", ["kind"])
ROUTING_SAVINGS_USD = Counter(
    "model_routing_savings_usd", "Money saved by routing below premium", ["model", "tier"]
)
PROVIDER_CACHE_SAVINGS_USD = Counter(
    "provider_cache_savings_usd",
    "Money saved by input read from the provider's prompt cache",
    ["model"],
)
# Read from the broker by whichever API process answers a scrape: across the processes of
# `grump api --workers N` the latest reading is the truth (a sum would count it N times).
QUEUE_DEPTH = Gauge(
    "worker_queue_depth",
    "Messages waiting in a queue",
    ["queue"],
    multiprocess_mode="mostrecent",
)
# Read from the ledger by whichever API process answers a scrape (grump.jobs.held_gauge).
# ``tenant`` is a tenant named in GRUMP_FAIR_SHARE_WEIGHTS, or ``other`` for the rest:
# as many series per queue as the operator named tenants, plus one.
HELD_JOBS = Gauge(
    "grump_jobs_held",
    "Jobs fair share holds in the ledger, not yet published",
    ["queue", "tenant"],
    multiprocess_mode="mostrecent",
)
HELD_TENANTS = Gauge(
    "grump_jobs_held_tenants",
    "Tenants with jobs held by fair share",
    ["queue"],
    multiprocess_mode="mostrecent",
)
# Not registered until a GPU reports: with no GPU the metric is absent, not a misleading 0.
GPU_UTILIZATION = Gauge("gpu_utilization_percent", "GPU utilisation from NVML", registry=None)
CACHE_HITS = Counter("tiered_cache_hits", "Cache hits by tier", ["cache_tier", "kind"])
BATCH_REQUESTS = Counter(
    "batch_processing_requests", "Texts sent to the provider in batched calls", ["model"]
)
COMPLEXITY_SCORE = Histogram(
    "task_complexity_score", "Complexity score of routed jobs", ["kind"], buckets=range(0, 101, 10)
)
JOBS_SUBMITTED = Counter("grump_jobs_submitted", "Jobs accepted at submit", ["kind", "tier"])
JOBS_REJECTED = Counter("grump_jobs_rejected", "Jobs refused at submit", ["kind", "reason"])
JOBS_FINISHED = Counter(
    "grump_jobs_finished", "Jobs that reached a final state", ["kind", "tier", "outcome"]
)
JOB_LATENCY = Histogram(
    "grump_job_latency_seconds",
    "Time from submit to finish",
    ["kind", "tier"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOBS_REQUEUED = Counter("grump_jobs_requeued", "Stuck jobs enqueued again by beat", ["kind"])
# Submits refused by a rate limit: scope is key or tenant, limit is rps or tpm.
RATE_LIMITED = Counter("grump_rate_limited", "Submits refused by a rate limit", ["scope", "limit"])
# Submits refused by a budget: scope is tenant, user or key.
BUDGET_REFUSED = Counter("grump_budget_refused", "Submits refused by a budget", ["scope"])
BUDGET_ALERTS = Counter("grump_budget_alerts", "Budget alert thresholds crossed", ["period"])
# Set by maintenance tasks, which run in prefork children: the newest value wins.
BEAT_HEARTBEAT = Gauge(
    "grump_beat_heartbeat_timestamp_seconds",
    "Last run of a beat task (Unix time)",
    multiprocess_mode="max",
)
# One per failed HTTP attempt (a call retried twice and failing counts three), counted by
# grump.providers.http: `status` is the answer's HTTP status code, or timeout, connection
# or malformed (a 2xx whose body is not the API's answer) when there is no usable status.
PROVIDER_ERRORS = Counter("grump_provider_errors", "Failed provider calls", ["provider", "status"])


_gpu_gauge_lock = threading.Lock()
_gpu_gauge_registered = False


def report_gpu_utilization(percent: float | None) -> None:
    """Export GPU utilisation once NVML gives a reading; until then the metric is absent."""
    global _gpu_gauge_registered
    if percent is None:
        return
    with _gpu_gauge_lock:
        if not _gpu_gauge_registered:
            REGISTRY.register(GPU_UTILIZATION)
            _gpu_gauge_registered = True
    GPU_UTILIZATION.set(percent)
