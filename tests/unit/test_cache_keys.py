"""Cache keys: one per answer-changing request, inside one namespace per tenant."""

from __future__ import annotations

from typing import Any

import pytest

from grump.cache.codec import CorruptEntry, decode, encode
from grump.cache.keys import completion_key, tenant_namespace
from grump.jobs.models import CompleteInput

BASE: dict[str, Any] = {
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    "max_tokens": 100,
    "temperature": 0.0,
}


def _key(tenant: str = "acme", model: str = "m", **changes: Any) -> str:
    return completion_key(tenant, model, CompleteInput.model_validate(BASE | changes))


def test_the_same_request_has_the_same_key_and_lives_in_its_tenants_namespace() -> None:
    assert _key() == _key()
    assert _key().startswith(tenant_namespace("acme"))
    assert _key("other") != _key() and not _key("other").startswith(tenant_namespace("acme"))


@pytest.mark.parametrize(
    "changes",
    [
        {"max_tokens": 101},
        {"temperature": 0.5},
        {"messages": [{"role": "user", "content": "be brief"}, {"role": "user", "content": "hi"}]},
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi!"},
            ]
        },
        {"messages": [{"role": "user", "content": "hi"}]},
    ],
)
def test_any_answer_changing_parameter_changes_the_key(changes: dict[str, Any]) -> None:
    assert _key(**changes) != _key()


def test_the_model_is_part_of_the_key() -> None:
    assert _key(model="a") != _key(model="b")


def test_the_model_pin_itself_does_not_split_a_routed_request() -> None:
    # "model" in the input only steers routing; the key uses the model that answers.
    routed = CompleteInput.model_validate(BASE | {"model": "auto"})
    assert completion_key("acme", "x", routed) == _key(model="x")


def test_tenants_that_look_alike_never_share_a_namespace() -> None:
    assert tenant_namespace("a:b") != tenant_namespace("a") != tenant_namespace("A")


def test_values_round_trip_and_large_ones_are_compressed() -> None:
    small = {"content": "short"}
    large = {"content": "repeat " * 1000}
    assert decode(encode(small, 1024)) == small
    packed = encode(large, 1024)
    assert decode(packed) == large
    assert len(packed) < len("repeat " * 1000) / 10
    assert encode(small, 1024)[:1] == b"j" and packed[:1] == b"z"


@pytest.mark.parametrize("garbage", [b"", b"x{}", b"z not zlib", b"j[1, 2]", b"j{broken"])
def test_an_unreadable_value_is_a_corrupt_entry(garbage: bytes) -> None:
    with pytest.raises(CorruptEntry):
        decode(garbage)
