"""The held-jobs gauges: how many jobs fair share holds in the ledger, per queue and tenant.

Read fresh on every scrape of the API's /metrics, in one grouped count over the
ledger's held-jobs index. A tenant is a label value only when the operator named
it in ``GRUMP_FAIR_SHARE_WEIGHTS`` (a bounded, chosen set); every other tenant's
held jobs are summed as ``other``, and ``grump_jobs_held_tenants`` says how many
tenants are holding. Every series is set on each read, zeros included, so a
tenant whose jobs were all released reads 0, not its last count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select

from grump import metrics
from grump.errors import DatabaseUnavailable
from grump.jobs.admission import fair_queues
from grump.jobs.models import JobStatus
from grump.ledger.db import session_scope
from grump.ledger.models import Job
from grump.runtime import Runtime
from grump.settings import Settings

OTHER = "other"


def held_figures(
    settings: Settings, counts: Iterable[tuple[str, str, int]]
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """From (queue, tenant, held) rows: held per (queue, tenant label), tenants per queue."""
    named = sorted(settings.fair_share_weight_map)
    queues = set(fair_queues(settings))
    rows = list(counts)
    queues |= {queue for queue, _, _ in rows}
    held: dict[tuple[str, str], int] = {(q, t): 0 for q in queues for t in (*named, OTHER)}
    tenants: Counter[str] = Counter(dict.fromkeys(queues, 0))
    for queue, tenant, count in rows:
        label = tenant if tenant in settings.fair_share_weight_map else OTHER
        held[(queue, label)] += count
        tenants[queue] += 1
    return held, dict(tenants)


def refresh_held_jobs(runtime: Runtime) -> None:
    """Set ``grump_jobs_held`` and ``grump_jobs_held_tenants`` from the ledger; kept if it is away."""
    query = (
        select(Job.queue, Job.tenant, func.count())
        .where(Job.status == JobStatus.QUEUED.value, Job.enqueued_at.is_(None))
        .group_by(Job.queue, Job.tenant)
    )
    try:
        with session_scope(runtime.sessions) as session:
            counts = [(str(q), str(t), int(n)) for q, t, n in session.execute(query)]
    except DatabaseUnavailable:
        return  # /metrics must answer while the ledger is down; readyz reports that
    held, tenants = held_figures(runtime.settings, counts)
    for (queue, tenant), count in held.items():
        metrics.HELD_JOBS.labels(queue, tenant).set(count)
    for queue, count in tenants.items():
        metrics.HELD_TENANTS.labels(queue).set(count)
