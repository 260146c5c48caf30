"""/metrics: queue depth counts every priority list, labels stay bounded, promtool accepts it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grump.api.app import create_app
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.runtime import Runtime
from grump.settings import Settings
from tests.services import unavailable

pytestmark = pytest.mark.integration
TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "bin"


def _promtool() -> str:
    found = shutil.which("promtool") or shutil.which("promtool", path=str(TOOLS))
    if found is None:
        unavailable("promtool is not installed (scripts/ops-tools.sh installs it)")
    assert found is not None
    return found


def _scrape(settings: Settings) -> str:
    runtime = Runtime(settings)
    with session_scope(runtime.sessions) as session:
        key = create_api_key(session, "acme")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings, runtime)) as client:
        for priority in (9, 5, 0):
            body = {
                "kind": "parse",
                "input": {"text": f"app {priority}"},
                "priority": priority,
                "user": "ann.private@example.com",
            }
            assert client.post("/v1/jobs", json=body, headers=auth).status_code == 202
        text = client.get("/metrics").text
    runtime.dispose()
    return text


def test_queue_depth_sums_the_priority_lists(real_settings: Settings) -> None:
    text = _scrape(real_settings)
    assert 'worker_queue_depth{queue="parse"} 3.0' in text
    assert 'worker_queue_depth{queue="embed"} 0.0' in text


def test_exposition_is_valid_and_carries_no_user_ids(real_settings: Settings) -> None:
    text = _scrape(real_settings)
    assert "ann.private" not in text and "acme" not in text
    checked = subprocess.run(
        [_promtool(), "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    # promtool exits 0 on valid exposition; lint remarks (e.g. counter naming) go to stdout.
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
