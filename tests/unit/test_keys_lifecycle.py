"""The pure parts of keys and limits: key state, expiry parsing, buckets, the key cache, the CLI."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from grump.api.keycache import KeyCache
from grump.cli import build_parser
from grump.cli.keys import parse_expiry
from grump.jobs.models import CompleteJobRequest, ParseJobRequest
from grump.jobs.ratelimits import (
    Caller,
    buckets_for,
    parse_tenant_limits,
    request_tokens,
    tenant_limits,
)
from grump.ledger.keys import KeyState, key_state
from grump.ledger.models import ApiKey
from grump.settings import Settings
from tests.conftest import Api

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _row(**fields: object) -> ApiKey:
    return ApiKey(tenant="t", key_hash="h", prefix="grump_abc", admin=False, **fields)


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({}, KeyState.LIVE),
        ({"revoked_at": NOW - timedelta(seconds=1)}, KeyState.REVOKED),
        ({"expires_at": NOW}, KeyState.EXPIRED),
        ({"expires_at": NOW + timedelta(seconds=1)}, KeyState.LIVE),
        ({"grace_until": NOW - timedelta(hours=1)}, KeyState.EXPIRED),
        ({"grace_until": NOW + timedelta(hours=1)}, KeyState.LIVE),
        ({"revoked_at": NOW, "expires_at": NOW - timedelta(days=1)}, KeyState.REVOKED),
    ],
)
def test_a_keys_state(fields: dict[str, object], state: KeyState) -> None:
    assert key_state(_row(**fields), NOW) is state


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("30d", NOW + timedelta(days=30)),
        ("12h", NOW + timedelta(hours=12)),
        ("90m", NOW + timedelta(minutes=90)),
        ("2w", NOW + timedelta(weeks=2)),
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2027-01-31T10:00:00+02:00", datetime(2027, 1, 31, 8, tzinfo=UTC)),
    ],
)
def test_expiry_is_a_duration_or_an_iso_date(text: str, when: datetime) -> None:
    assert parse_expiry(text, NOW) == when


@pytest.mark.parametrize("text", ["30", "soon", "3x", "-1d"])
def test_a_nonsense_expiry_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_expiry(text, NOW)


def _complete(max_tokens: int = 100) -> CompleteJobRequest:
    return CompleteJobRequest.model_validate(
        {
            "kind": "complete",
            "input": {
                "messages": [{"role": "user", "content": "x" * 40}],
                "max_tokens": max_tokens,
            },
        }
    )


def test_no_limit_set_means_no_bucket() -> None:
    assert buckets_for(Settings(), "t", Caller(7), 100) == []


def test_a_keys_own_limits_beat_the_defaults_and_the_tenants_apply_beside() -> None:
    settings = Settings(key_rps_limit=10, key_tpm_limit=1000, tenant_rps_limit=50)
    found = buckets_for(settings, "acme", Caller(7, rps_limit=2.0), 300)
    assert [(b.key, b.rate, b.burst, b.wanted) for b in found] == [
        ("grump:limits:k:7:rps", 2.0, 2.0, 1),
        ("grump:limits:k:7:tpm", 1000 / 60, 1000, 300),
        ("grump:limits:t:acme:rps", 50, 50, 1),
    ]
    # A request of more tokens than a minute holds takes the whole minute, not forever.
    (tpm,) = [b for b in buckets_for(settings, "acme", Caller(7), 5000) if b.limit == "tpm"]
    assert tpm.wanted == 1000
    # No key (the Python client's sync submit in-process): the tenant's limits only.
    assert {b.scope for b in buckets_for(settings, "acme", Caller(), 5)} == {"tenant"}


def test_a_requests_tokens_are_its_input_and_its_max_tokens() -> None:
    assert request_tokens(_complete(100)) == 10 + 4 + 100
    parse = ParseJobRequest.model_validate({"kind": "parse", "input": {"text": "hi"}})
    assert request_tokens(parse) == 0


def test_the_key_cache_forgets_everything_when_the_epoch_moves_or_is_unknown() -> None:
    cache = KeyCache()
    cache.observe(b"1")
    cache.put("digest", KeyState.REVOKED)
    cache.observe(b"1")
    assert cache.get("digest") is KeyState.REVOKED
    cache.observe(b"2")
    assert cache.get("digest") is None
    cache.put("digest", KeyState.REVOKED)
    cache.observe(None)  # Redis could not say: look keys up again
    assert cache.get("digest") is None


def test_last_use_is_due_once_a_period_per_key() -> None:
    cache = KeyCache(touch_seconds=60)
    assert cache.touch_due(1) and not cache.touch_due(1) and cache.touch_due(2)
    cache.untouch(1)
    assert cache.touch_due(1)


def test_the_cli_parses_every_key_verb() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["keys", "create", "--tenant", "t", "--name", "svc-a", "--expires", "30d", "--rps", "2"]
    )
    assert args.name == "svc-a" and args.rps == 2.0 and args.tpm is None and not args.admin
    assert parser.parse_args(["keys", "list", "--tenant", "t"]).tenant == "t"
    for verb in ("revoke", "rotate"):
        assert parser.parse_args(["keys", verb, "12"]).id == 12
    assert parser.parse_args(["keys", "limits", "3", "--tpm", "100"]).tpm == 100
    for bad in (["--name", "bad\x00name"], ["--rps", "-1"], ["--expires", "2001-01-01"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["keys", "create", "--tenant", "t", *bad])


def test_keys_routes_need_an_admin_key_embedded_too(api: Api) -> None:
    assert api.client.get("/v1/keys", headers=api.auth()).status_code == 403
    admin = api.auth(api.new_key("tenant-a", admin=True))
    made = api.client.post("/v1/keys", json={"name": "svc"}, headers=admin)
    assert made.status_code == 201 and made.json()["key"].startswith("grump_")
    bad = api.client.post("/v1/keys", json={"name": "x\x00"}, headers=admin)
    assert bad.status_code == 422
    past = api.client.post("/v1/keys", json={"expires_at": "2001-01-01T00:00:00Z"}, headers=admin)
    assert past.status_code == 422 and past.json()["error"]["field"] == "expires_at"
    revoked = api.client.post(f"/v1/keys/{made.json()['id']}/revoke", headers=admin)
    assert revoked.json()["state"] == "revoked"
    # Embedded, without Redis, the process forgets its keys every check interval.
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    answer = api.client.get("/v1/jobs", headers=key)
    assert answer.status_code == 401 and answer.json()["error"]["message"] == "API key revoked"


def test_tenants_own_limits_replace_the_default_for_them_only() -> None:
    settings = Settings(tenant_rps_limit=1, tenant_rate_limits=" acme=50/200000, beta=5/0 ")
    assert parse_tenant_limits(settings.tenant_rate_limits) == {
        "acme": (50.0, 200_000),
        "beta": (5.0, 0),
    }
    assert tenant_limits(settings, "acme") == (50.0, 200_000)
    assert tenant_limits(settings, "other") == (1.0, 0)
    beta = buckets_for(settings, "beta", Caller(), 100)
    assert [(b.limit, b.rate) for b in beta] == [("rps", 5.0)]  # tpm 0: no token limit


@pytest.mark.parametrize("text", ["acme", "acme=5", "=5/5", "acme=-1/0", "acme=x/1", "a=inf/1"])
def test_an_unreadable_tenant_limit_is_refused_at_startup(text: str) -> None:
    with pytest.raises(ValidationError, match="tenant rate limit"):
        Settings(tenant_rate_limits=text)
