"""Waiting for a job to reach a status, through the Python client, in end-to-end tests."""

from __future__ import annotations

import time
from typing import Any

from grump.client import GrumpClient


def wait_status(client: GrumpClient, job_id: str, wanted: str, timeout: float) -> dict[str, Any]:
    """The job once its status is ``wanted``; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(job_id)
        if job["status"] == wanted:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {wanted}")
