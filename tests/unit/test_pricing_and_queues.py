"""The price catalogue and the queue map: the numbers and names other parts rely on."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from grump.celery.profiles import WORKER_PROFILES, WorkerKind
from grump.celery.queues import ALL_QUEUES, celery_priority, redis_priority_keys
from grump.errors import UnknownModel
from grump.routing.pricing import load_catalogue


def test_catalogue_prices_are_exact_decimals() -> None:
    catalogue = load_catalogue()
    kimi = catalogue.price("moonshotai/kimi-k2.5")
    claude = catalogue.price("claude-sonnet-4-5")
    assert kimi.cost(1_000_000, 0) == Decimal("0.60")
    assert claude.cost(1_000_000, 1_000_000) == Decimal("18.00")
    assert claude.cost(1, 1) == Decimal("0.0000180000")
    assert claude.cost(1000, 0, cached_tokens_in=1000) == Decimal("0.0003")


def test_a_missing_model_is_an_error_not_free() -> None:
    with pytest.raises(UnknownModel) as caught:
        load_catalogue().price("gpt-imaginary")
    assert caught.value.status_code == 422


def test_an_override_file_adds_and_replaces_models(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(
        json.dumps(
            {
                "models": {
                    "claude-sonnet-4-5": {
                        "provider": "anthropic",
                        "kind": "chat",
                        "input": "2",
                        "output": "10",
                    },
                    "my/local-model": {
                        "provider": "nim",
                        "kind": "chat",
                        "input": "0.1",
                        "output": "0.1",
                    },
                }
            }
        )
    )
    catalogue = load_catalogue(override)
    assert catalogue.price("claude-sonnet-4-5").cost(1_000_000, 0) == Decimal("2")
    assert "my/local-model" in catalogue and "moonshotai/kimi-k2.5" in catalogue


def test_every_queue_is_read_by_exactly_one_worker_kind() -> None:
    read = [q for profile in WORKER_PROFILES.values() for q in profile.queues]
    assert sorted(read) == sorted(ALL_QUEUES)
    assert WORKER_PROFILES[WorkerKind.LLM].prefetch_multiplier == 1
    assert WORKER_PROFILES[WorkerKind.GPU].prefetch_multiplier == 1


def test_priorities_map_to_redis_lists() -> None:
    assert celery_priority(9) == 0  # most urgent is served first on Redis
    assert celery_priority(0) == 9
    assert redis_priority_keys("parse") == [
        "parse",
        "parse\x06\x163",
        "parse\x06\x166",
        "parse\x06\x169",
    ]
