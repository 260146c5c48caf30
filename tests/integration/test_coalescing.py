"""Identical requests in flight at once become one job, across threads and API processes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.runtime import Runtime
from grump.settings import Settings
from tests.integration.completions_support import Stack, complete, fakes, with_fakes

pytestmark = pytest.mark.integration
CALLERS = 12


def _second_api(settings: Settings) -> tuple[FastAPI, Runtime]:
    """Another API "process": its own runtime, engine, connection pool and Celery app."""
    runtime = Runtime(settings)
    return create_app(settings, runtime, create_celery(settings, runtime)), runtime


def _submit_together(apps: list[FastAPI], key: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = [{} for _ in range(CALLERS)]
    start = threading.Barrier(CALLERS)

    def call(index: int) -> None:
        with TestClient(apps[index % len(apps)]) as client:
            start.wait()
            response = client.post(
                "/v1/jobs", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 202, response.text
            answers[index] = response.json()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_identical_submits_to_two_apis_make_one_job(real_settings: Settings) -> None:
    with fakes(latency_ms=50) as (nim, anthropic):
        settings = with_fakes(real_settings, nim, anthropic, cache_enabled=False)
        stack = Stack(settings)
        other_app, other_runtime = _second_api(settings)
        first_app = stack.client.app
        assert isinstance(first_app, FastAPI)
        try:
            answers = _submit_together([first_app, other_app], stack.key, complete("same words"))
            with stack.worker():
                job = stack.wait(answers[0]["id"])
        finally:
            other_runtime.dispose()
            stack.close()
    assert len({a["id"] for a in answers}) == 1
    assert sorted(a["coalesced"] for a in answers) == [False] + [True] * (CALLERS - 1)
    assert job["status"] == "succeeded"
    assert nim.call_count == 1
    assert len(stack.cost_events()) == 1 and len(stack.jobs()) == 1
    assert stack.jobs()[0].coalesced_count == CALLERS - 1


def test_a_request_identical_to_a_running_job_joins_it(real_settings: Settings) -> None:
    with fakes(latency_ms=600) as (nim, anthropic):
        stack = Stack(with_fakes(real_settings, nim, anthropic, cache_enabled=False))
        try:
            with stack.worker():
                first = stack.submit(complete("slow words"))
                deadline = time.monotonic() + 10
                while nim.call_count == 0 and time.monotonic() < deadline:
                    time.sleep(0.01)  # the provider call is under way: the job is running
                joined = stack.submit(complete("slow words"))
                done = stack.wait(first["id"])
                later = stack.submit(complete("slow words"))  # the first one has finished
                stack.wait(later["id"])
        finally:
            stack.close()
    assert joined["id"] == first["id"] and joined["coalesced"] and not first["coalesced"]
    assert done["status"] == "succeeded"
    assert later["id"] != first["id"] and not later["coalesced"]
    assert nim.call_count == 2 and len(stack.cost_events()) == 2
