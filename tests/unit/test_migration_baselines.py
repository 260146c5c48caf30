"""Migration 0009 on the embedded SQLite ledger: earlier events get both baselines, exactly."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, select, text

from grump.ledger.db import make_engine, make_sessionmaker
from grump.ledger.migrate import downgrade, upgrade
from grump.ledger.money_models import CostEvent

EVENT = (
    "INSERT INTO cost_events (job_id, tenant, kind, model, tier, provider, tokens_in,"
    " tokens_out, cost, baseline_cost, cache_savings, routing_savings, cached, created_at)"
    " VALUES (:job, 'acme', :kind, 'm', 't', 'p', 10, 5, :cost, :baseline, '0', :routing, 0,"
    " '2026-12-01 10:00:00')"
)


def test_earlier_events_go_direct_uncached_and_parse_work_moves_off_the_baselines(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url, "0008")
    engine = create_engine(url)
    with engine.begin() as connection:
        for kind, cost, baseline, routing in (
            ("complete", "0.0000090000", "0.0001050000", "0.0000960000"),
            ("parse", "0E-10", "0.0012345678", "0.0012345678"),
        ):
            values = {"kind": kind, "cost": cost, "baseline": baseline, "routing": routing}
            connection.execute(text(EVENT), {"job": uuid.uuid4().hex, **values})
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        events = {e.kind: e for e in session.scalars(select(CostEvent))}
    engine.dispose()
    complete, parse = events["complete"], events["parse"]
    assert complete.direct_baseline_cost == complete.baseline_cost == Decimal("0.000105")
    assert complete.routing_savings == Decimal("0.000096") and complete.kept_off_llm == 0
    assert parse.baseline_cost == parse.direct_baseline_cost == parse.cost == 0
    assert parse.kept_off_llm == Decimal("0.0012345678") and parse.routing_savings == 0
    downgrade(url, "0008")
    upgrade(url)
