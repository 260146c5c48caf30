"""The grump command: keys, Flower's auth, and the parser, on the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from grump.api.app import create_app_from_env
from grump.cli import main


@pytest.fixture(autouse=True)
def embedded_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GRUMP_DATABASE_URL",
        "GRUMP_BROKER_URL",
        "GRUMP_FLOWER_USER",
        "GRUMP_FLOWER_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
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


def test_api_workers_run_the_factory_in_each_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    assert main(["api", "--workers", "2", "--port", "8123"]) == 0
    ((app, options),) = calls
    # An import string: each spawned process builds its own app from the environment.
    assert app == "grump.api.app:create_app_from_env"
    assert options["factory"] is True and options["workers"] == 2 and options["port"] == 8123
    assert isinstance(create_app_from_env(), FastAPI)
    assert main(["api"]) == 0  # one process: the app is built here, as before
    assert isinstance(calls[1][0], FastAPI) and calls[1][1]["workers"] == 1
    with pytest.raises(SystemExit):
        main(["api", "--workers", "0"])
