"""Group commit on the embedded default (SQLite, the in-process broker): the same steps."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from grump.jobs.models import ParseJobRequest
from grump.jobs.submit import Submitted, submit_job_async
from grump.ledger.models import Job
from tests.conftest import Api, local_settings

GROUP = 6


def _parse(text: str) -> ParseJobRequest:
    return ParseJobRequest.model_validate({"kind": "parse", "input": {"text": text}})


def test_a_group_on_sqlite_records_each_job_and_coalesces_repeats(tmp_path: Path) -> None:
    api = Api(local_settings(tmp_path, submit_group_wait_ms=1000, submit_group_max_jobs=GROUP))
    texts = ["todo app", "chat app", "todo app", "shop", "blog", "wiki"]

    async def every() -> list[Submitted]:
        try:
            calls = [
                submit_job_async(api.runtime, api.celery, "tenant-a", _parse(t)) for t in texts
            ]
            return list(await asyncio.gather(*calls))
        finally:
            await api.runtime.aclose()

    outcomes = asyncio.run(every())
    assert [o.created for o in outcomes] == [True, True, False, True, True, True]
    assert outcomes[2].coalesced and outcomes[2].job.id == outcomes[0].job.id
    with api.runtime.sessions() as session:
        jobs = {j.id: j for j in session.scalars(select(Job))}
        assert session.scalar(select(func.count()).where(Job.routing.is_(None))) == GROUP - 1
    assert len(jobs) == GROUP - 1 and jobs[outcomes[0].job.id].coalesced_count == 1
    assert api.queued_messages("parse") == GROUP - 1
    api.runtime.dispose()
