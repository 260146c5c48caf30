"""Budget alerts: once per period and threshold; log, metric and a Slack-style webhook POST."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from grump import metrics
from grump.ledger.db import session_scope
from grump.ledger.keys import new_api_key, rotate
from grump.ledger.models import Job
from grump.money import budgets, holds
from grump.money.alerts import check_budgets
from grump.money.budget_math import Period
from tests.conftest import Api, local_settings

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)


class Webhook:
    """A loopback HTTP server that records JSON bodies; ``status`` is what it answers."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.close()


@pytest.fixture
def hooked(tmp_path: Path, webhook: Webhook) -> Iterator[Api]:
    api = Api(local_settings(tmp_path, budget_webhook_url=webhook.url))
    try:
        yield api
    finally:
        api.client.close()
        api.runtime.dispose()


def _spend(api: Api, amount: str, at: datetime = NOW, key: int | None = None) -> None:
    """A job that reserved and settled ``amount`` on tenant-a's budgets."""
    with session_scope(api.runtime.sessions) as session:
        job = Job(
            id=uuid.uuid4(),
            tenant="tenant-a",
            kind="complete",
            status="succeeded",
            priority=5,
            tier="economy",
            queue="q",
            input={},
            fingerprint=uuid.uuid4().hex,
            attempts=1,
            tokens_in=0,
            tokens_out=0,
            cost=Decimal(amount),
            baseline_cost=Decimal(amount),
            reserved_cost=Decimal(amount),
            coalesced_count=0,
            created_at=at,
            deadline_at=at,
        )
        session.add(job)
        session.flush()
        budgets.reserve(session, job.id, "tenant-a", None, Decimal(amount), at, key)
        holds.settle(session, job.id, Decimal(amount))


def _budget(api: Api, limit: str = "10", period: Period = Period.DAILY) -> None:
    with session_scope(api.runtime.sessions) as session:
        budgets.set_budget(session, "tenant-a", None, period, Decimal(limit), Decimal("0.8"), NOW)


def _alerts_counted(period: str) -> float:
    return float(metrics.BUDGET_ALERTS.labels(period)._value.get())


def test_crossing_the_threshold_alerts_once(hooked: Api, webhook: Webhook) -> None:
    _budget(hooked)
    _spend(hooked, "7.99")
    assert check_budgets(hooked.runtime, NOW) == 0 and webhook.bodies == []
    before = _alerts_counted("daily")
    _spend(hooked, "0.01")  # exactly 80%
    assert check_budgets(hooked.runtime, NOW) == 1
    assert check_budgets(hooked.runtime, NOW) == 0  # the same period never alerts twice
    assert _alerts_counted("daily") == before + 1
    (body,) = webhook.bodies
    assert set(body) == {"text"}
    assert "tenant-a" in body["text"] and "80%" in body["text"] and "8.00 of 10.00" in body["text"]


def test_a_used_up_budget_alerts_again(hooked: Api, webhook: Webhook) -> None:
    _budget(hooked, "1")
    _spend(hooked, "1")
    assert check_budgets(hooked.runtime, NOW) == 2  # 80% and 100%, each once
    assert "used up" in webhook.bodies[-1]["text"]


def test_the_next_period_alerts_afresh(hooked: Api, webhook: Webhook) -> None:
    _budget(hooked, "1")
    _spend(hooked, "0.9")
    assert check_budgets(hooked.runtime, NOW) == 1
    tomorrow = datetime(2026, 5, 21, 9, tzinfo=UTC)
    assert check_budgets(hooked.runtime, tomorrow) == 0
    _spend(hooked, "0.9", at=tomorrow)
    assert check_budgets(hooked.runtime, tomorrow) == 1


def test_a_failed_webhook_is_retried_not_lost(hooked: Api, webhook: Webhook) -> None:
    _budget(hooked, "1")
    _spend(hooked, "0.85")
    webhook.status = 500
    assert check_budgets(hooked.runtime, NOW) == 1
    webhook.status = 200
    assert check_budgets(hooked.runtime, NOW) == 0
    assert len(webhook.bodies) == 2  # the failed POST, then the same alert delivered
    assert check_budgets(hooked.runtime, NOW) == 0 and len(webhook.bodies) == 2


def test_without_a_webhook_alerts_are_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    _budget(api, "1")
    _spend(api, "0.9")
    with caplog.at_level("WARNING", logger="grump.money.alerts"):
        assert check_budgets(api.runtime, NOW) == 1
    assert "daily budget of tenant-a passed 80%" in caplog.text


def test_a_keys_budget_alert_names_the_key_by_name_and_id(
    hooked: Api, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    with session_scope(hooked.runtime.sessions) as session:
        _, key = new_api_key(session, "tenant-a", name="ci-runner")
        lineage = key.lineage_id
        assert lineage is not None
        budgets.set_budget(
            session, "tenant-a", None, Period.DAILY, Decimal("1"), Decimal("0.8"), NOW, key=lineage
        )
    with session_scope(hooked.runtime.sessions) as session:
        rotated, _ = rotate(session, "tenant-a", lineage, NOW, timedelta(minutes=5))
    _spend(hooked, "0.9", key=lineage)
    with caplog.at_level("WARNING", logger="grump.money.alerts"):
        assert check_budgets(hooked.runtime, NOW) == 1
    said = f"daily budget of tenant-a (key 'ci-runner', id {lineage}) passed 80%"
    assert said in caplog.text
    assert [said in body["text"] for body in webhook.bodies] == [True]
    assert rotated not in caplog.text  # the key itself never
