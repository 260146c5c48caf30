"""Scheduled cost reports from the ledger: stored once, written to disk, posted; and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from grump.cli import main
from grump.ledger.money_models import StoredReport
from grump.money.reports.deliver import send_cost_reports
from tests.conftest import Api, local_settings
from tests.unit.test_budgets_alerts import Webhook, webhook  # noqa: F401
from tests.unit.test_costs_api import seed_event

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
TUESDAY = datetime(2026, 3, 3, 1, tzinfo=UTC)


def test_daily_reports_are_made_once_per_tenant(tmp_path: Path, webhook: Webhook) -> None:  # noqa: F811
    api = Api(local_settings(tmp_path, budget_webhook_url=webhook.url, report_periods="day"))
    with api.runtime.sessions() as session:
        seed_event(session, "acme", MONDAY, "1.25", user="ann")
        seed_event(session, "acme", TUESDAY, "7")  # today: not in yesterday's report
        seed_event(session, "other/tenant", MONDAY, "0.5")
        session.commit()
    written = send_cost_reports(api.runtime, TUESDAY)
    reports_dir = api.settings.effective_reports_dir
    assert sorted(p.relative_to(reports_dir).as_posix() for p in written) == [
        "acme/day-2026-03-02.html",
        "other_tenant/day-2026-03-02.html",
    ]
    markdown = (reports_dir / "acme" / "day-2026-03-02.md").read_text()
    assert "$1.25" in markdown and "$7" not in markdown
    assert (reports_dir / "acme" / "day-2026-03-02.csv").exists()
    assert len(webhook.bodies) == 2 and "acme" in webhook.bodies[0]["text"]
    assert send_cost_reports(api.runtime, TUESDAY) == []  # already made: nothing again
    with api.runtime.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(StoredReport))
        delivered = session.scalar(
            select(func.count())
            .select_from(StoredReport)
            .where(StoredReport.delivered_at.is_not(None))
        )
    assert (stored, delivered) == (2, 2)
    api.runtime.dispose()


def test_the_cli_sets_budgets_and_renders_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = Api(local_settings(tmp_path))
    with api.runtime.sessions() as session:
        seed_event(session, "acme", MONDAY, "1.25")
        session.commit()
    monkeypatch.setenv("GRUMP_DATA_DIR", str(api.settings.data_dir))
    monkeypatch.delenv("GRUMP_DATABASE_URL", raising=False)
    assert main(["budgets", "set", "--tenant", "acme", "--period", "monthly", "--limit", "30"]) == 0
    assert "limit 30.00" in capsys.readouterr().out
    out = tmp_path / "r.csv"
    args = ["report", "--tenant", "acme", "--period", "week", "--format", "csv", "--out", str(out)]
    assert main([*args, "--at", "2026-03-04"]) == 0
    assert "1.25" in out.read_text()
    with pytest.raises(SystemExit):
        main(["budgets", "set", "--tenant", "acme", "--period", "hourly", "--limit", "1"])
    api.runtime.dispose()
