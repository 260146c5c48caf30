"""The grump command: keys, Flower's auth, the parser and the API, on the embedded default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from bench.procs import stop
from grump.api.app import create_app_from_env
from grump.cli import main
from grump.metrics_server import MULTIPROC_ENV
from tests.services import free_port


@pytest.fixture(autouse=True)
def embedded_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GRUMP_DATABASE_URL",
        "GRUMP_BROKER_URL",
        "GRUMP_FLOWER_USER",
        "GRUMP_FLOWER_PASSWORD",
        "GRUMP_API_WORKERS",
    ):
        monkeypatch.delenv(name, raising=False)
    # `grump api --workers N` sets it in os.environ; left set, later tests' /metrics would
    # read an empty directory. Set first so that monkeypatch removes it again afterwards
    # (delenv alone records nothing when the variable is absent).
    monkeypatch.setenv(MULTIPROC_ENV, "")
    monkeypatch.delenv(MULTIPROC_ENV)
    monkeypatch.setenv("GRUMP_DATA_DIR", str(tmp_path / "grump"))


def test_keys_create_prints_the_key_alone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["keys", "create", "--tenant", "acme", "--admin"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("grump_") and out.count("\n") == 1 and len(out.strip()) > 30


def test_flower_refuses_to_run_without_auth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flower"]) == 2
    assert "GRUMP_FLOWER_PASSWORD" in capsys.readouterr().err


def test_parse_prints_the_intent_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "todo app with Google login and Stripe, in Next.js"]) == 0
    intent = json.loads(capsys.readouterr().out)
    assert intent["integrations"] == ["stripe"]
    assert "authentication" in intent["features"]
    assert intent["stack"]["frontend"] == ["nextjs"]


def test_parse_jsonl_writes_one_intent_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "requests.txt"
    source.write_text("chat app with Slack\n\nrecipe site\n")
    assert main(["parse", "--jsonl", str(source)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[1])["project_type"] == "unknown"


def test_api_workers_run_the_factory_in_each_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    stale = tmp_path / "grump" / "metrics-api" / "counter_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"of an earlier run")
    assert main(["api", "--workers", "2", "--port", "8123"]) == 0
    ((app, options),) = calls
    # An import string: each spawned process builds its own app from the environment.
    assert app == "grump.api.app:create_app_from_env"
    assert options["factory"] is True and options["workers"] == 2 and options["port"] == 8123
    # The processes share a fresh metrics directory, set before they are spawned.
    assert os.environ[MULTIPROC_ENV] == str(stale.parent) and not stale.exists()
    assert isinstance(create_app_from_env(), FastAPI)
    assert main(["api"]) == 0  # one process: the app is built here, as before
    assert isinstance(calls[1][0], FastAPI) and calls[1][1]["workers"] == 1
    with pytest.raises(SystemExit):
        main(["api", "--workers", "0"])


def test_api_workers_setting_is_the_default_of_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setenv("GRUMP_API_WORKERS", "3")
    assert main(["api"]) == 0
    assert main(["api", "--workers", "1"]) == 0  # the flag wins
    assert [kw["workers"] for kw in calls] == [3, 1]


def _submitted(url: str) -> float:
    """The API's grump_jobs_submitted_total, summed over its labels, from one scrape."""
    families = text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text)
    samples = [s for f in families for s in f.samples if s.name == "grump_jobs_submitted_total"]
    return sum(s.value for s in samples)


def _serving(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)  # still starting
    raise AssertionError(f"grump api did not start:\n{log.read_text(errors='replace')}")


@pytest.mark.timeout(90)
def test_api_workers_metrics_count_the_submits_of_every_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert main(["keys", "create", "--tenant", "acme"]) == 0
    auth = {"Authorization": f"Bearer {capsys.readouterr().out.splitlines()[-1]}"}
    port, log = free_port(), tmp_path / "api.log"
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "grump.cli", "api", "--workers", "2", "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _serving(proc, url, log)
        counting, sent, deadline = set[str](), 0, time.monotonic() + 45
        # Until both processes have counted a submit: each writes its own counter file.
        while len(counting) < 2 and time.monotonic() < deadline:
            body = {"kind": "parse", "input": {"text": f"todo app number {sent} with login"}}
            # httpx.post: a new connection each time, which either process may accept.
            answer = httpx.post(f"{url}/v1/jobs", json=body, headers=auth, timeout=10)
            assert answer.status_code == 202, answer.text
            sent += 1
            files = (tmp_path / "grump" / "metrics-api").glob("counter_*.db")
            counting = {path.stem for path in files}
        assert len(counting) == 2, f"one process took all {sent} submits"
        # Whichever process answers the scrape, it counts the other's submits too.
        assert [_submitted(url) for _ in range(6)] == [sent] * 6
    finally:
        stop(proc, grace=10)
