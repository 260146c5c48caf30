"""Helpers of the smoke run: its failure, commands, ports, waiting, HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import suppress
from typing import Any


class SmokeFailed(Exception):
    """A check of the smoke run failed."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailed(message)


def say(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def sh(*argv: str, timeout: float = 120, check_rc: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check_rc and done.returncode != 0:
        raise SmokeFailed(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def wait_for(what: str, probe: Any, timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with suppress(OSError, ValueError, SmokeFailed):
            last = probe()
            if last:
                return last
        time.sleep(every)
    raise SmokeFailed(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def http(method: str, url: str, key: str | None = None, body: Any = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
