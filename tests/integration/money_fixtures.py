"""A ledger emptied of jobs, costs and budgets, before and after each money test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from grump.ledger.db import make_engine

MONEY_TABLES = (
    "budget_holds, budget_alerts, budget_periods, budgets, cost_rollups, rollup_watermarks,"
    " cost_reports, cost_events, jobs, api_keys"
)


def _truncate(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {MONEY_TABLES} CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def money_ledger(pg_url: str) -> Iterator[str]:
    _truncate(pg_url)
    try:
        yield pg_url
    finally:
        # Holds reference jobs: leave nothing that would stop other tests truncating jobs.
        _truncate(pg_url)
