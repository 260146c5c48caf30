"""Two real ``grump api`` processes on one Redis and one Postgres: a key revoked through one
is refused by the other within a second, one key's rate limit holds across both, and the
``grump keys`` verbs work against the same ledger. No key reaches the logs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Programs, wait_ready
from tests.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

JOB = {"kind": "parse", "input": {"text": "book a table for two"}}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _key_id(http: httpx.Client, admin: str, name: str) -> int:
    items = http.get("/v1/keys", headers=_auth(admin)).json()["items"]
    (found,) = [k["id"] for k in items if k["name"] == name and k["state"] == "live"]
    return int(found)


def _start_two(programs: Programs) -> list[httpx.Client]:
    urls = []
    for _ in range(2):
        port = free_port()
        programs.start("api", "--port", str(port), name=f"api-{port}")
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_ready(url)
    return [httpx.Client(base_url=url, timeout=10) for url in urls]


def _submit(http: httpx.Client, key: str, text: str) -> Any:
    body = {**JOB, "input": {"text": text}}
    return http.post("/v1/jobs", json=body, headers=_auth(key))


def test_revocation_rate_limits_and_key_verbs_across_two_api_processes(
    programs: Programs, tmp_path: Path
) -> None:
    programs.run("migrate")
    admin = programs.run(
        "keys", "create", "--tenant", "acme", "--name", "ops", "--admin", "--expires", "30d"
    ).strip()
    assert admin.startswith("grump_") and "\n" not in admin
    one, two = _start_two(programs)
    svc, slow = (
        one.post("/v1/keys", json=body, headers=_auth(admin)).json()["key"]
        for body in ({"name": "svc"}, {"name": "slow", "rps_limit": 0.1})
    )
    made_keys = [admin, svc, slow]
    try:
        # Both processes know (and cache) the key; process one revokes it.
        for http in (one, two):
            assert http.get("/v1/jobs", headers=_auth(svc)).status_code == 200
        svc_id = _key_id(one, admin, "svc")
        revoked = one.post(f"/v1/keys/{svc_id}/revoke", headers=_auth(admin))
        assert revoked.status_code == 200
        time.sleep(1.0)  # the promise: refused everywhere within a second
        refused = two.get("/v1/jobs", headers=_auth(svc))
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == "API key revoked"

        # One limit, two processes: 0.1 submits/s, so one is accepted and the next refused
        # whichever process takes it.
        assert _submit(one, slow, "first").status_code == 202
        for http in (two, one):
            limited = _submit(http, slow, f"again via {http.base_url}")
            assert limited.status_code == 429, limited.text
            assert 1 <= int(limited.headers["retry-after"]) <= 10
            assert limited.json()["error"]["scope"] == "key"

        # The CLI's verbs on the same ledger, seen by the API processes.
        listing = programs.run("keys", "list", "--tenant", "acme")
        assert "svc" in listing and "revoked" in listing and "slow" in listing
        assert not any(k in listing for k in made_keys)
        slow_id = _key_id(one, admin, "slow")
        successor = programs.run("keys", "rotate", str(slow_id)).strip()
        made_keys.append(successor)
        assert successor.startswith("grump_") and "\n" not in successor
        assert two.get("/v1/jobs", headers=_auth(successor)).status_code == 200
        assert two.get("/v1/jobs", headers=_auth(slow)).status_code == 200  # its grace
        assert "rps 5.0" in programs.run("keys", "limits", str(slow_id), "--rps", "5")
        programs.run(
            "budgets", "set", "--tenant", "acme", "--period", "daily", "--limit", "0",
            "--key", str(slow_id),
        )  # fmt: skip
        time.sleep(1.0)  # the new limit reaches both processes
        complete = {"kind": "complete", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        over = one.post("/v1/jobs", json=complete, headers=_auth(successor))
        assert over.status_code == 402 and over.json()["error"]["scope"] == f"key:{slow_id}"
        successor_id = max(
            k["id"] for k in one.get("/v1/keys", headers=_auth(admin)).json()["items"]
        )
        programs.run("keys", "revoke", str(successor_id))
        time.sleep(1.0)
        for http in (one, two):
            assert http.get("/v1/jobs", headers=_auth(successor)).status_code == 401
    finally:
        one.close()
        two.close()
    programs.stop_all()
    output = programs.log_text() + "\n".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert "POST /v1/keys" in output or "GET /v1/jobs" in output  # the logs were kept
    leaked = [k for k in made_keys if k in output or k.removeprefix("grump_") in output]
    assert not leaked
