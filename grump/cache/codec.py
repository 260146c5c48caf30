"""Cached values as bytes: JSON, zlib-compressed when larger than a threshold.

The first byte says which: ``j`` plain JSON, ``z`` compressed JSON. Small
values stay plain because compressing them costs more time than it saves room.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

_PLAIN = b"j"
_COMPRESSED = b"z"
_LEVEL = 6


class CorruptEntry(ValueError):
    """A cached value that cannot be decoded; the cache treats it as a miss, never an error."""


def encode(value: dict[str, Any], compress_min_bytes: int) -> bytes:
    """``value`` as cache bytes: compact JSON, zlib-compressed when over ``compress_min_bytes``."""
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(raw) > compress_min_bytes:
        return _COMPRESSED + zlib.compress(raw, _LEVEL)
    return _PLAIN + raw


def decode(data: bytes) -> dict[str, Any]:
    """The dict ``encode`` made of ``data``; CorruptEntry when it is not one."""
    marker, body = data[:1], data[1:]
    try:
        if marker == _COMPRESSED:
            body = zlib.decompress(body)
        elif marker != _PLAIN:
            raise CorruptEntry(f"unknown cache entry marker {marker!r}")
        value = json.loads(body)
    except (zlib.error, ValueError) as exc:
        raise CorruptEntry(f"unreadable cache entry: {exc}") from exc
    if not isinstance(value, dict):
        raise CorruptEntry("cache entry is not an object")
    return value
