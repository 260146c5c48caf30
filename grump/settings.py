"""All of grump's settings: one class, ``GRUMP_`` environment variables.

This module is the only reader of ``os.environ`` in the package. Every field
has a default, and the README lists them all. With no broker and no database
URL set, grump runs embedded: an in-process broker and workers, a SQLite file
and the offline providers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def parse_weights(spec: str) -> dict[str, float]:
    """``"acme=2,free=0.5"`` -> {"acme": 2.0, "free": 0.5}; ValueError naming a bad entry."""
    weights: dict[str, float] = {}
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        tenant, sep, value = entry.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not tenant.strip() or not 0 < weight < float("inf"):
            raise ValueError(f"{entry!r} is not tenant=weight with a positive weight")
        weights[tenant.strip()] = weight
    return weights


class Settings(BaseSettings):
    """grump's configuration, read from ``GRUMP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="GRUMP_", extra="ignore")

    # Where things run
    broker_url: str | None = Field(None, description="Celery broker; unset means embedded")
    redis_url: str | None = Field(None, description="Redis for cache, coalescing, rate limits")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset means SQLite")
    data_dir: Path = Field(Path(".grump"), description="SQLite file, disk cache, reports")
    reports_dir: Path | None = Field(None, description="Where cost reports are written")

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(
        1, ge=1, description="processes of `grump api` sharing its port (--workers overrides)"
    )
    api_url: str = Field("http://127.0.0.1:8000", description="Where clients reach the API")
    api_key: str | None = Field(None, description="Key used by the CLI and client")
    max_body_bytes: int = 1_048_576
    max_text_bytes: int = 65_536
    max_texts_per_job: int = 1024
    max_jobs_per_batch: int = 500
    retry_after_seconds: int = 5
    # Group commit of submits (grump.jobs.submit_groups): one transaction per group
    submit_group_wait_ms: float = Field(
        1.0,
        ge=0,
        le=1000,
        description="how long a submit waits for others to share its transaction",
    )
    submit_group_max_jobs: int = Field(64, ge=1, le=1000, description="submits per transaction")
    submit_groups_in_flight: int = Field(
        4, ge=1, description="group transactions an API process runs at once"
    )
    submit_max_waiting: int = Field(
        2000, ge=1, description="submits waiting for a group before more get 503"
    )

    # API keys and the rate limits of keys and tenants (0 = no limit; shared through Redis)
    key_rotation_grace_seconds: int = Field(
        86_400, ge=0, description="how long a rotated key keeps working beside its successor"
    )
    key_check_interval_seconds: float = Field(
        0.5, gt=0, le=1, description="how often an API process looks for revoked keys"
    )
    key_cache_seconds: float = Field(
        30.0, gt=0, description="an API process trusts a key this long"
    )
    key_last_used_every_seconds: int = Field(
        60, ge=1, description="a key's last use is written at most this often"
    )
    key_rps_limit: float = Field(0.0, ge=0, description="default requests/s of a key")
    key_tpm_limit: int = Field(0, ge=0, description="default tokens/min of a key")
    tenant_rps_limit: float = Field(0.0, ge=0, description="requests/s of each tenant")
    tenant_tpm_limit: int = Field(0, ge=0, description="tokens/min of each tenant")
    tenant_rate_limits: str | None = Field(
        None, description="tenants' own limits: 'acme=50/200000,beta=5/0' (requests/s/tokens/min)"
    )

    # Jobs and delivery
    job_deadline_seconds: int = Field(600, description="queued/running past this is stuck")
    visibility_timeout_seconds: int = Field(3600, description="Redis broker redelivery delay")
    rabbitmq_queue_type: Literal["quorum", "classic"] = Field(
        "quorum", description="RabbitMQ tier queues: quorum (replicated) or classic (priorities)"
    )
    task_max_retries: int = 5
    requeue_interval_seconds: int = 60
    worker_heartbeat_seconds: float = Field(
        3.0, gt=0, description="how often a worker renews the leases of the jobs it holds"
    )
    worker_lease_seconds: int = Field(
        10, ge=2, description="a lease not renewed for this long marks its worker dead"
    )
    recovery_interval_seconds: float = Field(
        5.0, gt=0, description="how often a live worker looks for jobs of dead workers"
    )
    max_worker_losses: int = Field(
        3, ge=1, description="deliveries that killed their worker before a job fails"
    )

    # Fair share across tenants (grump.jobs.admission): a tenant's slots follow the live
    # workers' registered capacity (grump.jobs.capacity), so one tenant alone fills the fleet.
    # Off by default: with it on, a quiet tenant still waits one round of the fleet's
    # capacity (not one job's service time), and the noisy tenant's throughput is lower.
    fair_share: bool = Field(
        False, description="at most a tenant's slots of a queue's jobs published; the rest held"
    )
    fair_share_slots: int = Field(
        0, ge=0, description="a fixed capacity per queue for the slots; 0: the live workers'"
    )
    fair_share_weights: str | None = Field(
        None, description="tenant=weight,...: a tenant's slots are slots x weight (default 1)"
    )
    fair_share_queues: str = Field(
        "complete.economy,complete.premium", description="queues admitted per tenant (+ parse)"
    )

    # Workers
    cpu_concurrency: int = 2
    parse_batch_max_jobs: int = Field(
        100, ge=1, description="most parse jobs a cpu worker process runs and records as one batch"
    )
    parse_batch_wait_ms: float = Field(
        10.0, ge=0, description="longest a cpu worker waits for a batch of parse messages to fill"
    )
    llm_concurrency: int = Field(
        128, ge=1, description="threads of an llm worker: provider calls in flight at once"
    )
    gpu_concurrency: int = Field(
        8, ge=1, description="threads of a gpu worker: batches of embed jobs it runs at once"
    )
    metrics_port: int = Field(0, description="worker/beat /metrics port; 0 turns it off")

    # Providers (no key set: the offline providers answer)
    nim_url: str = "https://integrate.api.nvidia.com/v1"
    nim_api_key: str | None = None
    anthropic_url: str = "https://api.anthropic.com"
    anthropic_api_key: str | None = None
    anthropic_version: str = "2023-06-01"
    provider_timeout_seconds: float = 60.0
    provider_connect_timeout_seconds: float = 5.0
    offline_latency_ms: float = Field(0.0, description="Simulated latency of offline providers")

    # Models and routing
    economy_model: str = "moonshotai/kimi-k2.5"
    premium_model: str = "claude-sonnet-4-5"
    embed_model: str = "nvidia/nv-embedqa-e5-v5"
    embed_dimensions: int = 1024
    routing_threshold: int = Field(60, ge=0, le=100)
    routing_scorer: Literal["learned", "keywords"] = "learned"
    max_cost_per_request: Decimal | None = None
    price_catalogue_file: Path | None = None

    # Anthropic's prompt cache: breakpoints grump places on requests that carry none
    prompt_cache_breakpoints: bool = Field(
        True, description="place cache_control on tools, system and earlier turns of Claude calls"
    )
    prompt_cache_ttl: Literal["auto", "5m", "1h"] = Field(
        "auto", description="TTL of grump's breakpoints; auto: 1h when the tenant's breaks pay it"
    )

    # Deferred complete jobs: a Message Batch at the batch price (grump.jobs.batches)
    defer_priority_zero_tenants: str | None = Field(
        None, description="tenants whose priority-0 complete jobs wait for a batch: 'acme,beta'"
    )
    defer_priority_zero_wait_seconds: int = Field(
        86_400, ge=3600, description="how long such a priority-0 job may wait"
    )
    batch_interval_seconds: int = Field(
        60, ge=1, description="beat sends deferred jobs and polls batches this often"
    )
    batch_max_requests: int = Field(1000, ge=1, le=100_000, description="jobs per batch")
    batch_ordinary_seconds: int = Field(
        600, ge=0, description="a batched job runs as an ordinary one this long before its deadline"
    )
    batch_pending_grace_seconds: int = Field(
        300, ge=1, description="a batch whose creation went unrecorded is looked for this long"
    )

    # Provider limits and fallback (rates are shared by every worker through Redis; 0 = unlimited)
    provider_retry_attempts: int = Field(4, ge=1, description="tries of one provider call")
    provider_retry_base_delay_seconds: float = Field(0.5, ge=0)
    rate_limit_economy_rps: float = Field(0.0, ge=0)
    rate_limit_economy_burst: int = Field(10, ge=1)
    rate_limit_premium_rps: float = Field(0.0, ge=0)
    rate_limit_premium_burst: int = Field(5, ge=1)
    rate_limit_embed_rps: float = Field(0.0, ge=0)
    rate_limit_embed_burst: int = Field(10, ge=1)
    rate_limit_wait_seconds: float = Field(10.0, ge=0, description="then the job retries later")
    fallback_to_other_tier: bool = True

    # Completion cache: memory (L1), Redis (L2, needs redis_url), disk (L3, under data_dir)
    cache_enabled: bool = True
    cache_memory_enabled: bool = True
    cache_memory_max_items: int = Field(500, ge=1)
    cache_memory_ttl_seconds: float = Field(300.0, gt=0)
    cache_redis_enabled: bool = True
    cache_redis_ttl_seconds: int = Field(3600, ge=1)
    cache_disk_enabled: bool = True
    cache_disk_ttl_seconds: int = Field(86_400, ge=1)
    cache_disk_max_bytes: int = Field(1 << 30, ge=1 << 20)
    cache_compress_min_bytes: int = Field(1024, ge=0, description="larger values are zlib'd")
    cache_warm_max_usd: Decimal = Field(Decimal("1.00"), ge=0)
    cache_warm_top: int = Field(100, ge=0, description="most frequent requests warm_cache fills")
    cache_warm_interval_seconds: int = Field(900, ge=1)

    # OpenAI-compatible front door, and callers waiting on a job
    openai_wait_seconds: float = Field(60.0, gt=0, description="longest wait for a job's answer")
    result_recheck_seconds: float = Field(
        5.0, gt=0, description="a waiting caller reads the ledger this often, events or not"
    )

    # Streamed complete jobs: deltas go through a per-job log (Redis stream, or memory embedded)
    stream_flush_ms: float = Field(
        5.0, ge=0, description="deltas coming within this many ms share one Redis write"
    )
    stream_recheck_seconds: float = Field(
        1.0,
        gt=0,
        description="a streaming caller re-reads the log and the worker's lease this often",
    )
    stream_log_ttl_seconds: int = Field(
        3600, ge=60, description="a job's delta log is kept this long after its last write"
    )
    stream_on_disconnect: Literal["finish", "cancel"] = Field(
        "finish", description="a streaming caller left: run the job to its end, or cancel it"
    )

    # Embedding batching (GPU worker): texts of many jobs share provider calls
    embed_batch_max_jobs: int = Field(
        256, ge=1, description="most embed jobs claimed and recorded as one batch"
    )
    embed_batch_max_texts: int = Field(256, ge=1, description="distinct texts per provider call")
    embed_batch_max_tokens: int = Field(65_536, ge=1, description="estimated tokens per call")
    embed_batch_wait_ms: float = Field(10.0, ge=0, description="longest wait for a batch to fill")
    embed_calls_in_flight: int = Field(2, ge=1, description="calls a gpu worker runs at once")
    embed_cache_ttl_seconds: int = Field(604_800, ge=0, description="per-text cache; 0: off")
    embed_cache_max_items: int = Field(100_000, ge=1, description="in-process cache (no Redis)")

    # Flower (basic auth; Flower refuses to start without both in compose and Helm)
    flower_user: str | None = None
    flower_password: str | None = None

    # Budgets, rollups and cost reports
    budget_alert_threshold: Decimal = Field(
        Decimal("0.80"), gt=0, le=1, description="Default alert share of a new budget"
    )
    budget_webhook_url: str | None = Field(None, description="Slack-compatible alert webhook")
    budget_check_interval_seconds: int = 60
    rollup_interval_seconds: int = 300
    report_periods: str = Field("day,week", description="Scheduled reports: day, week, month")
    report_interval_seconds: int = 3600

    # Logging
    log_level: str = "INFO"

    @field_validator("tenant_rate_limits")
    @classmethod
    def _tenant_rate_limits_parse(cls, value: str | None) -> str | None:
        from grump.jobs.ratelimits import parse_tenant_limits

        parse_tenant_limits(value)  # a ValueError names the entry it cannot read
        return value

    @field_validator("fair_share_weights")
    @classmethod
    def _weights_parse(cls, value: str | None) -> str | None:
        parse_weights(value or "")
        return value

    @property
    def fair_share_weight_map(self) -> dict[str, float]:
        """``GRUMP_FAIR_SHARE_WEIGHTS`` as tenant -> weight."""
        return parse_weights(self.fair_share_weights or "")

    @property
    def embedded(self) -> bool:
        """True when grump runs everything in one process (no broker, no database)."""
        return self.broker_url is None and self.database_url is None

    @property
    def effective_database_url(self) -> str:
        """The ledger's database: ``database_url``, or the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'grump.db'}"

    @property
    def effective_broker_url(self) -> str:
        """The Celery broker: ``broker_url``, or the in-process memory broker."""
        return self.broker_url or "memory://localhost/"

    @property
    def effective_reports_dir(self) -> Path:
        """Where report files go: ``reports_dir``, or ``reports`` under the data directory."""
        return self.reports_dir or self.data_dir / "reports"
