"""The held-jobs gauges' figures: named tenants by name, the rest as other, every series set."""

from __future__ import annotations

from grump.celery.queues import ECONOMY_QUEUE as ECONOMY
from grump.jobs.held_gauge import held_figures
from grump.settings import Settings

BROKERED = {"broker_url": "redis://127.0.0.1:6379/0", "database_url": "postgresql://x/y"}


def test_held_jobs_are_labelled_by_named_tenant_or_other_with_every_series_set() -> None:
    settings = Settings(**BROKERED, fair_share_weights="paid=2")
    rows = [(ECONOMY, "paid", 4), (ECONOMY, "a", 3), (ECONOMY, "b", 2)]
    held, tenants = held_figures(settings, rows)
    assert held[(ECONOMY, "paid")] == 4 and held[(ECONOMY, "other")] == 5
    # A queue with nothing held still reads 0, for the named tenants too.
    assert held[("complete.premium", "paid")] == 0 and held[("complete.premium", "other")] == 0
    assert tenants == {ECONOMY: 3, "complete.premium": 0}
