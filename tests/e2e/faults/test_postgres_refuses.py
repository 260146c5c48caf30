"""PostgreSQL refuses grump's connections (its connection slots are used up) mid-run.

grump connects as an ordinary role; the squeeze sets that role's connection
limit to 0 and ends its sessions, so every new connection is refused with
"too many connections" (SQLSTATE 53300, what a server at ``max_connections``
answers) while the server itself stays up. Callers get 503 with Retry-After,
never a 500; jobs in flight wait and finish; once slots are free again the API
takes jobs with nothing restarted.
"""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

from grump.ledger.models import Job
from tests.e2e.faults.conftest import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

JOBS_BEFORE = 30
JOBS_AFTER = 10
SQUEEZE_SECONDS = 10.0


def _own_role(cluster: Cluster) -> tuple[str, Engine]:
    """A login role owning nothing but allowed everything on the ledger; grump runs as it."""
    role = f"grump_{uuid.uuid4().hex[:8]}"
    admin = create_engine(cluster.ledger.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        for kind in ("TABLES", "SEQUENCES"):
            connection.execute(text(f'GRANT ALL ON ALL {kind} IN SCHEMA public TO "{role}"'))
    url = make_url(cluster.programs.env["GRUMP_DATABASE_URL"]).set(username=role)
    cluster.programs.env["GRUMP_DATABASE_URL"] = url.render_as_string(hide_password=False)
    return role, admin


def _refuse(admin: Engine, role: str, limit: int) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'ALTER ROLE "{role}" CONNECTION LIMIT {limit}'))
        if limit == 0:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                {"r": role},
            )


def _every_status(cluster: Cluster) -> dict[str, int]:
    with cluster.ledger.engine.connect() as connection:
        rows = connection.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {str(status): int(count) for status, count in rows}


def test_refused_connections_answer_503_and_lose_nothing(cluster: Cluster) -> None:
    env = cluster.programs.env
    env.update({"GRUMP_LLM_CONCURRENCY": "2"})
    role, admin = _own_role(cluster)
    try:
        cluster.prepare()
        cluster.start_api()
        cluster.start_worker("llm")
        before = cluster.submit_accepted(JOBS_BEFORE, "before")
        deadline = time.monotonic() + 30
        while cluster.ledger.statuses(before).get("succeeded", 0) < 5:
            assert time.monotonic() < deadline, cluster.diagnostics()
            time.sleep(0.1)

        _refuse(admin, role, 0)
        squeezed = time.monotonic()
        answers = []
        while time.monotonic() - squeezed < SQUEEZE_SECONDS:
            submit = cluster.submit("refused")
            read = cluster.http.get(f"/v1/jobs/{before[-1]}")
            answers += [submit, read]
            time.sleep(0.5)
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["Retry-After"]) > 0
        _refuse(admin, role, -1)
        freed = time.monotonic()

        after = [cluster.submit_until_accepted(f"after-{i}", 20) for i in range(JOBS_AFTER)]
        took_jobs_in = time.monotonic() - freed
        accepted = before + after
        statuses = cluster.wait_final(accepted, timeout=45)
        all_done_in = time.monotonic() - freed
        assert statuses == {"succeeded": len(accepted)}, (statuses, cluster.diagnostics())
        cluster.assert_charged_once(accepted)
        cluster.assert_budget_settled()
        # The refused submits left no row: nothing was half-accepted.
        assert _every_status(cluster) == {"succeeded": len(accepted)}
        print(
            f"connections refused for {SQUEEZE_SECONDS:.0f}s: {len(answers)} answers, all 503;"
            f" {JOBS_AFTER} jobs taken {took_jobs_in:.2f}s after slots were free,"
            f" all {len(accepted)} accepted jobs succeeded {all_done_in:.1f}s after"
        )
    finally:
        _refuse(admin, role, -1)
        admin.dispose()
