"""The provider answers 500 for ten seconds: jobs retry or fall back; no money is left held."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from grump.settings import Settings
from tests.e2e.faults.conftest import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

OUTAGE_SECONDS = 10.0
ECONOMY = str(Settings.model_fields["economy_model"].default)
PREMIUM = str(Settings.model_fields["premium_model"].default)
SERVER_ERROR = {
    "status": 500,
    "body": json.dumps({"status": 500, "title": "Internal Server Error", "detail": "down"}),
}


def _run_through_outage(cluster: Cluster, jobs: int) -> list[uuid.UUID]:
    cluster.prepare()
    cluster.start_api()
    cluster.start_worker("llm")
    # Far more errors than calls can be made in the outage; what is left is dropped at its end.
    cluster.nim.script([SERVER_ERROR] * 5000)
    ids = cluster.submit_accepted(jobs, "outage")
    # The outage lasts ten seconds from the first call it refuses, however long the
    # worker took to start: the jobs must meet it.
    deadline = time.monotonic() + 60
    while cluster.nim.chat_calls() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(OUTAGE_SECONDS)
    cluster.nim.clear_script()
    statuses = cluster.wait_final(ids, timeout=60)
    assert statuses == {"succeeded": jobs}, (statuses, cluster.diagnostics())
    cluster.assert_charged_once(ids)
    cluster.assert_budget_settled()
    assert cluster.nim.chat_calls() > jobs  # the outage was met, not missed
    return ids


def test_jobs_retry_through_an_outage_without_fallback(cluster: Cluster) -> None:
    cluster.programs.env.update(
        {"GRUMP_LLM_CONCURRENCY": "4", "GRUMP_FALLBACK_TO_OTHER_TIER": "false"}
    )
    ids = _run_through_outage(cluster, jobs=20)
    # No fallback: every job was answered by the model it was routed to, after the outage.
    assert cluster.ledger.models(ids) == {ECONOMY: 20}


def test_jobs_fall_back_to_the_other_tier_during_an_outage(cluster: Cluster) -> None:
    cluster.programs.env.update(
        {"GRUMP_LLM_CONCURRENCY": "4", "GRUMP_FALLBACK_TO_OTHER_TIER": "true"}
    )
    ids = _run_through_outage(cluster, jobs=10)
    models = cluster.ledger.models(ids)
    assert set(models) <= {ECONOMY, PREMIUM}
    assert models.get(PREMIUM, 0) > 0, models
