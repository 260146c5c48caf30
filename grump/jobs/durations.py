"""A tiny strict reader of ISO 8601 durations (``PT6H``, ``P1DT12H``, ``PT90M``): pure.

Only days, hours, minutes and whole seconds: years and months have no fixed
length, and weeks (``P1W``) and fractions are refused rather than guessed at.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """``text`` as a timedelta; ValueError naming the accepted form when it is not one."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration of days, hours, minutes, seconds (e.g. PT6H)"
        )
    parts = {name: int(value) for name, value in match.groupdict().items() if value is not None}
    if not parts:
        raise ValueError(f"{text!r} names no amount of time")
    return timedelta(**parts)
