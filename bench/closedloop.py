"""A closed loop of chat-completion clients: each sends its next call when the last is answered.

Used by bench/gateway.py. The clients share one aiohttp session (one keep-alive
connection each) on this process's event loop, so the load costs a fraction of a
millisecond of CPU per call, which the window measures and reports: the figures are
only worth something while that stays far below what the system under test spends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Call:
    started: float  # event-loop time
    ended: float
    outcome: str  # "ok", "http <status>", "timeout" or "error <exception>"


@dataclass
class Window:
    """The measured stretch of a run: the calls answered in it and the CPU spent over it."""

    start: float = 0.0
    end: float = 0.0
    calls: list[Call] = field(default_factory=list)
    generator_cpu: float = 0.0  # seconds of this process's CPU from start to end
    cpu_before: dict[str, float] = field(default_factory=dict)
    cpu_after: dict[str, float] = field(default_factory=dict)
    warmup: float = 0.0  # seconds of load before the window began
    in_flight: int = 0  # calls unanswered at the end, abandoned

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def ok(self) -> list[Call]:
        return [c for c in self.calls if c.outcome == "ok"]

    def cpu(self, label: str) -> float:
        return self.cpu_after.get(label, 0.0) - self.cpu_before.get(label, 0.0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def chat_body(model: str, tag: str, client: int, number: int) -> dict[str, Any]:
    """A call no other call of the run repeats, so no cache or coalescing can fold two."""
    content = f"bench {tag}: client {client}, call {number}. Name a colour."
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 16}


async def _one(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    try:
        async with session.post(url, json=body) as answer:
            data = await answer.read()
            if answer.status != 200:
                return f"http {answer.status}"
            return "ok" if b'"choices"' in data else "error no choices"
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError as exc:
        return f"error {type(exc).__name__}"


async def closed_loop(
    url: str,
    headers: dict[str, str],
    body: Callable[[int, int], dict[str, Any]],
    *,
    clients: int,
    warmup: float,
    seconds: float,
    timeout: float,
    cpu: Callable[[], dict[str, float]],
) -> Window:
    """``clients`` loops, warmed up, then measured for ``seconds``.

    ``body(client, number)`` makes each call's JSON; ``cpu()`` gives the CPU seconds
    of the measured processes, read at both edges of the window.
    """
    loop, window, calls = asyncio.get_running_loop(), Window(), list[Call]()
    answered: set[int] = set()  # clients that have had an answer
    stop = [float("inf")]  # set once the window has begun
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    limits = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=limits) as http:

        async def client(index: int) -> None:
            number = 0
            while loop.time() < stop[0]:
                started = loop.time()
                outcome = await _one(http, url, body(index, number))
                calls.append(Call(started, loop.time(), outcome))
                answered.add(index)
                number += 1

        tasks = [asyncio.create_task(client(i)) for i in range(clients)]
        # Warmed up: --warmup seconds gone and every client answered once, so that the
        # window sees the loop's steady state, not the burst of its first calls.
        began = loop.time()
        while loop.time() < began + warmup or len(answered) < clients:
            await asyncio.sleep(0.05)
            if loop.time() > began + warmup + timeout:
                break  # some client never got an answer: the window shows it
        window.cpu_before, window.start = cpu(), loop.time()
        window.warmup = window.start - began
        generator = time.process_time()
        stop[0] = window.start + seconds
        await asyncio.sleep(seconds)
        window.generator_cpu, window.end = time.process_time() - generator, loop.time()
        window.cpu_after = cpu()
        # The calls still in flight are not waited for: none of them could count.
        window.in_flight = sum(not task.done() for task in tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    window.calls = [c for c in calls if window.start <= c.ended < window.end]
    return window
