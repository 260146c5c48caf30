"""No API key, provider key or prompt text in the logs of a full run at the default level.

Real ``grump api`` and ``grump worker`` subprocesses, providers pointed at the
loopback fakes with secret-looking keys; every job kind and the OpenAI routes
carry a unique marker; then every byte the programs printed is searched.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from grump.client import GrumpClient
from tests.e2e.conftest import Programs, wait_ready
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.nim import FakeNim

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeNim, FakeAnthropic]]:
    with FakeNim() as nim, FakeAnthropic() as anthropic:
        yield nim, anthropic


def _wait_done(
    client: GrumpClient, job_ids: list[str], timeout: float = 60
) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [client.get(job_id) for job_id in job_ids]
        if all(j["status"] in ("succeeded", "failed") for j in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError(f"jobs did not finish: {[client.get(j)['status'] for j in job_ids]}")


def _all_output(logs: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("*.log")))


def test_no_secret_or_prompt_reaches_the_logs(
    programs: Programs, fakes: tuple[FakeNim, FakeAnthropic], tmp_path: Path
) -> None:
    nim, anthropic = fakes
    marker = f"PROMPT-MARKER-{secrets.token_hex(8)}"
    nim_key = f"nvapi-{secrets.token_urlsafe(24)}"
    anthropic_key = f"sk-ant-api03-{secrets.token_urlsafe(24)}"
    wrong_key = f"grump_{secrets.token_urlsafe(32)}"
    programs.env.pop("GRUMP_LOG_LEVEL", None)  # the default level, as an operator runs it
    programs.env.update(
        {
            "GRUMP_NIM_URL": nim.url,
            "GRUMP_NIM_API_KEY": nim_key,
            "GRUMP_ANTHROPIC_URL": anthropic.url,
            "GRUMP_ANTHROPIC_API_KEY": anthropic_key,
            "GRUMP_OPENAI_WAIT_SECONDS": "30",
        }
    )
    programs.run("migrate")
    api_key = programs.run("keys", "create", "--tenant", "acme").strip()
    programs.start("api", name="api")
    url = programs.env["GRUMP_API_URL"]
    wait_ready(url)
    for tier in ("cpu", "llm", "gpu"):
        programs.start("worker", "--tier", tier, name=f"worker-{tier}")

    words = f"{marker} " + " ".join(["summarise the contract, compare clauses"] * 30)
    auth = {"Authorization": f"Bearer {api_key}"}
    with GrumpClient(url, api_key) as client:
        ids = [
            client.submit("parse", {"text": f"book a table for two {marker}"})["id"],
            client.submit("complete", {"messages": [{"role": "user", "content": f"hi {marker}"}]})[
                "id"
            ],
            client.submit(
                "complete",
                {
                    "messages": [{"role": "user", "content": words}],
                    "model": "claude-sonnet-4-5",
                },
            )["id"],
            client.submit("embed", {"texts": [f"embed me {marker}"]})["id"],
        ]
        jobs = _wait_done(client, ids)
    assert [j["status"] for j in jobs] == ["succeeded"] * 4, jobs
    with httpx.Client(base_url=url, timeout=40) as http:
        chat = http.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": f"openai {marker}"}]},
            headers=auth,
        )
        assert chat.status_code == 200, chat.text
        assert http.post("/v1/embeddings", json={"input": marker}, headers=auth).status_code == 200
        # Secrets where careless callers put them: query strings and a wrong key.
        http.get(f"/v1/jobs?session={marker}&api_key={api_key}", headers=auth)
        http.get(f"/v1/jobs?user={marker}", headers={"Authorization": f"Bearer {wrong_key}"})
        http.post(
            "/v1/jobs", json={"kind": "parse", "input": {"text": marker, "x": 1}}, headers=auth
        )
    # The keys were really used, so finding none in the logs means something.
    assert any(nim_key in r.headers.get("authorization", "") for r in nim.requests)
    assert any(r.headers.get("x-api-key") == anthropic_key for r in anthropic.requests)
    programs.stop_all()

    output = _all_output(tmp_path)
    assert "POST /v1/jobs" in output or "succeeded" in output, output[-2000:]  # logs were kept
    found = {
        name: secret
        for name, secret in {
            "API key": api_key,
            "API key body": api_key.removeprefix("grump_"),
            "wrong API key": wrong_key,
            "NIM key": nim_key,
            "Anthropic key": anthropic_key,
            "prompt marker": marker,
        }.items()
        if secret in output
    }
    lines = [line for line in output.splitlines() if any(s in line for s in found.values())]
    assert not found, f"leaked {sorted(found)}:\n" + "\n".join(lines[:20])
