"""Beat restarted twice on the same data dir: no period's report twice, rollups idempotent."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select, text

from grump.ledger.money_models import CostRollup, StoredReport
from tests.e2e.faults.conftest import TENANT, Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

JOBS = 10
BEAT_RUNS = 3  # started, then restarted twice


class WebhookInbox(ThreadingHTTPServer):
    """A Slack-style incoming webhook on loopback that keeps what it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _InboxHandler)
        self.texts: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _InboxHandler(BaseHTTPRequestHandler):
    server: WebhookInbox

    def do_POST(self) -> None:
        body: Any = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        with self.server.lock:
            self.server.texts.append(str(body.get("text", "")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def inbox() -> Iterator[WebhookInbox]:
    server = WebhookInbox()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _spend_yesterday(cluster: Cluster) -> None:
    """Run jobs, then move their costs to yesterday: a finished day the reports cover."""
    ids = cluster.submit_accepted(JOBS, "beat")
    assert cluster.wait_final(ids, timeout=30) == {"succeeded": JOBS}, cluster.diagnostics()
    with cluster.ledger.engine.begin() as connection:
        connection.execute(
            text("UPDATE cost_events SET created_at = created_at - interval '1 day'")
        )


def _wait_sent(cluster: Cluster, entry: str, timeout: float) -> None:
    """Wait until the newest beat's log shows it sent ``entry``."""
    log = cluster.programs.logs / f"beat-{len(cluster.programs.procs) - 1}.log"
    deadline = time.monotonic() + timeout
    while f"Sending due task {entry}" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, cluster.diagnostics()
        time.sleep(0.05)


def test_beat_restarts_do_not_repeat_a_period(cluster: Cluster, inbox: WebhookInbox) -> None:
    cluster.programs.env.update(
        {
            "GRUMP_BUDGET_WEBHOOK_URL": inbox.url,
            "GRUMP_REPORT_PERIODS": "day,week",
            "GRUMP_REPORT_INTERVAL_SECONDS": "1",
            "GRUMP_ROLLUP_INTERVAL_SECONDS": "1",
            "GRUMP_BUDGET_CHECK_INTERVAL_SECONDS": "1",
            "GRUMP_REQUEUE_INTERVAL_SECONDS": "1",
        }
    )
    cluster.prepare()
    cluster.start_api()
    cluster.start_worker("llm")
    _spend_yesterday(cluster)
    cluster.start_worker("cpu")

    for _ in range(BEAT_RUNS):
        beat = cluster.programs.start("beat", name="beat")
        _wait_sent(cluster, "send-cost-reports", timeout=30)
        time.sleep(1.5)  # a second tick of the 1 s schedule, then the restart
        cluster.programs.kill(beat, signal.SIGTERM)
    time.sleep(2.0)  # let the CPU worker finish what the last beat sent

    logs = cluster.diagnostics_full()
    report_runs = len(re.findall(r"Task grump\.send_cost_reports\[\S+\] succeeded", logs))
    rollup_runs = len(re.findall(r"Task grump\.rollup_costs\[\S+\] succeeded", logs))
    print(f"send-cost-reports ran {report_runs} times, rollup-costs {rollup_runs} times")
    assert report_runs >= BEAT_RUNS and rollup_runs >= BEAT_RUNS  # idempotency was exercised

    with cluster.ledger.engine.connect() as connection:
        reports = connection.execute(
            select(StoredReport.period, StoredReport.period_start, func.count())
            .where(StoredReport.tenant == TENANT)
            .group_by(StoredReport.period, StoredReport.period_start)
        ).all()
        rollups = dict(
            connection.execute(
                select(CostRollup.granularity, func.sum(CostRollup.cost)).group_by(
                    CostRollup.granularity
                )
            ).all()
        )
    assert reports, "no cost report was made"
    assert all(count == 1 for _, _, count in reports), reports
    assert "day" in {period for period, _, _ in reports}
    # Each stored report was delivered once, whatever the number of runs.
    delivered = [t for t in inbox.texts if f"cost report for {TENANT}" in t]
    assert len(delivered) == len(reports), delivered
    total = cluster.ledger.cost_total()
    assert total > 0
    assert {g: Decimal(v) for g, v in rollups.items()} == {"hour": total, "day": total}
