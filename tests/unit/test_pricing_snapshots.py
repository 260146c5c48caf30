"""Dated snapshot names (what Claude Code sends) are priced as their model; others stay unknown."""

from __future__ import annotations

import pytest

from grump.errors import UnknownModel
from grump.routing.pricing import load_catalogue


def test_a_dated_snapshot_or_latest_alias_is_priced_as_its_model() -> None:
    catalogue = load_catalogue()
    family = catalogue.price("claude-sonnet-4-5")
    for name in ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-latest"):
        assert name in catalogue
        assert catalogue.price(name) == family


@pytest.mark.parametrize(
    "name", ["claude-sonnet-4-5-2025", "claude-sonnet-4-5-20250929-extra", "gpt-9-20250101"]
)
def test_other_names_are_unknown_never_free(name: str) -> None:
    catalogue = load_catalogue()
    assert name not in catalogue
    with pytest.raises(UnknownModel):
        catalogue.price(name)
