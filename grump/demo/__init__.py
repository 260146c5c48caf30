"""``make demo``: grump's main job, end to end, on the embedded default."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grump.client import FINAL_STATUSES, GrumpClient
from grump.demo.embedded import LOCAL_TENANT, run_embedded
from grump.demo.summary import headline_lines, summarise, summary_table
from grump.demo.workload import make_workload
from grump.ledger.db import session_scope, utcnow
from grump.money import costs
from grump.money.reports.deliver import write_report
from grump.money.reports.model import ReportPeriod
from grump.settings import Settings

BATCH = 50


def _submit_all(
    client: GrumpClient, workload: list[dict[str, Any]], progress: Progress
) -> list[str]:
    task = progress.add_task("submitting", total=len(workload))
    ids: list[str] = []
    for start in range(0, len(workload), BATCH):
        for item in client.submit_batch(workload[start : start + BATCH]):
            if item.get("job"):
                ids.append(item["job"]["id"])
            progress.advance(task)
    return ids


def _wait_all(
    client: GrumpClient, ids: list[str], progress: Progress, timeout: float
) -> list[dict[str, Any]]:
    task = progress.add_task("running", total=len(ids))
    unique = list(dict.fromkeys(ids))
    finished: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(finished) < len(unique) and time.monotonic() < deadline:
        for job_id in unique:
            if job_id not in finished:
                job = client.get(job_id)
                if job["status"] in FINAL_STATUSES:
                    finished[job_id] = job
        progress.update(task, completed=sum(1 for i in ids if i in finished))
        time.sleep(0.05)
    return [finished[i] for i in unique if i in finished]


def _has_breakpoints(job: dict[str, Any]) -> bool:
    """Whether a workload item carries ``cache_control`` anywhere."""
    return "cache_control" in repr(job.get("input"))


def run_demo(settings: Settings, jobs: int = 300, timeout: float = 300.0) -> int:
    """Run ``jobs`` jobs of a mixed workload through embedded grump and print the summary and report; 1 when some did not finish in ``timeout``."""
    # A pipe or a log has no width of its own; rich would cut the table to 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=140)
    with run_embedded(settings) as grump:
        console.print(f"[bold]grump[/] embedded at {grump.api_url}")
        console.print(f"local API key (tenant 'local'): {grump.api_key}")
        if settings.nim_api_key is None and settings.anthropic_api_key is None:
            console.print(
                "providers: [yellow]offline[/] (deterministic, no network; set keys for real ones)"
            )
        workload = make_workload(jobs)
        began = utcnow()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with (
            GrumpClient(grump.api_url, grump.api_key) as client,
            Progress(*columns, console=console) as progress,
        ):
            ids = _submit_all(client, workload, progress)
            done = _wait_all(client, ids, progress, timeout)
        # The run ends with the cost report of the day it ran in, from the ledger it wrote.
        report = write_report(grump.runtime, LOCAL_TENANT, ReportPeriod.DAY, utcnow())
        with session_scope(grump.runtime.sessions) as session:
            spent = costs.totals(session, LOCAL_TENANT, began, utcnow() + timedelta(seconds=1))
    console.print(summary_table(summarise(done)))
    coalesced = len(ids) - len(set(ids))
    console.print(f"{len(ids)} jobs accepted, {coalesced} joined an identical job in flight.")
    parse_jobs = sum(1 for job in workload if job["kind"] == "parse")
    for line in headline_lines(spent, parse_jobs, any(_has_breakpoints(j) for j in workload)):
        console.print(line, highlight=False)
    console.print(f"cost report: {report}")
    missing = len(set(ids)) - len(done)
    if missing:
        console.print(f"[red]{missing} jobs did not finish in {timeout:.0f}s[/]")
        return 1
    return 0
