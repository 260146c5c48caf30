"""The deadline's ISO 8601 durations: what is read, and what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grump.jobs.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT6H", timedelta(hours=6)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT90M", timedelta(minutes=90)),
        ("PT3600S", timedelta(hours=1)),
        ("P2D", timedelta(days=2)),
    ],
)
def test_durations_read(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "6H", "pt6h", "PT6.5H", "P1W", "P1M", "PTH"]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|no amount"):
        parse_duration(text)
