"""Redis or Postgres down: submit answers 503 with Retry-After, and no job is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from grump.api.app import create_app
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.ledger.models import Job
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import free_port

pytestmark = pytest.mark.integration
BODY = {"kind": "parse", "input": {"text": "todo app"}}


def _logged_503s(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("503 ")]


def test_broker_down_is_503_and_the_job_is_not_left_queued(
    clean_ledger: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.model_validate(
        {
            "broker_url": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "database_url": clean_ledger,
            "data_dir": tmp_path,
            "retry_after_seconds": 9,
        }
    )
    runtime = Runtime(settings)
    with session_scope(runtime.sessions) as session:
        key = create_api_key(session, "acme")
    with TestClient(create_app(settings, runtime)) as client:
        response = client.post("/v1/jobs", json=BODY, headers={"Authorization": f"Bearer {key}"})
        ready = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "9"
    assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "unreachable"
    # The API says why, once: the error's code and its exception's type.
    assert _logged_503s(caplog) == [
        "503 broker_unavailable on /v1/jobs: grump.errors.BrokerUnavailable"
    ]
    with runtime.sessions() as session:
        statuses = [job.status for job in session.scalars(select(Job))]
    # The row was written first, then the publish failed: it is marked rejected, never 'queued'.
    assert statuses == ["rejected"]
    runtime.dispose()


def test_database_down_is_503(
    redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.model_validate(
        {
            "broker_url": redis_url,
            "database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/none",
            "data_dir": tmp_path,
            "retry_after_seconds": 4,
        }
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/jobs", json=BODY, headers={"Authorization": "Bearer grump_x"})
        ready = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "4"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert ready.status_code == 503
    # Type names only, never the text of the driver's error (it may quote the URL).
    assert _logged_503s(caplog) == [
        "503 database_unavailable on /v1/jobs: grump.errors.DatabaseUnavailable"
        " from sqlalchemy.exc.OperationalError"
    ]
