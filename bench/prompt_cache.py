"""What Anthropic's prompt cache bills coding sessions with no breakpoints, a client's, or grump's.

  .venv/bin/python bench/prompt_cache.py [--sessions 40] [--idle-share 0.3] [--redis URL]

Sessions of a coding assistant on Claude Sonnet 4.5: shared tool definitions, a
per-project system prompt, user turns each followed by a tool loop, seconds
between the loop's calls and a human's think time between turns (a share of
them coffee breaks of 6 to 20 minutes). Every request goes through
``prepare_for_provider`` over real Redis (its records, its ``auto`` TTL) and is
billed by a model of Anthropic's cache: an entry per breakpoint, expiring after
its TTL unless read again; a request reads the longest unexpired prefix before
its last breakpoint, writes the rest up to it, and pays plain input after it.
The bills are compared with no breakpoints and with a client's own, placed as
coding assistants place them (last tool, system, last message, 5 minutes).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grump.jobs.models import CompleteInput
from grump.routing.breakpoints import (
    TTL_SECONDS,
    client_breakpoints,
    mark,
    minimum_cacheable_tokens,
    prefixes,
)
from grump.routing.pricing import load_catalogue
from grump.routing.prompt_cache import prepare_for_provider
from grump.runtime import Runtime
from grump.settings import Settings

MODEL = "claude-sonnet-4-5"
TOOLS = [
    {"type": "function", "function": {"name": f"tool_{i}", "description": "d" * 1200}}
    for i in range(10)
]  # about 3,100 tokens
Request = tuple[float, int, CompleteInput, int]  # time, session, input, output tokens
PRICE = load_catalogue().price(MODEL)
MINIMUM = minimum_cacheable_tokens(MODEL)


def filler(tag: str, tokens: int) -> str:
    return (tag + " ") + "x" * (4 * tokens - len(tag) - 1)


def session(rng: random.Random, sid: int, start: float, idle_share: float) -> list[Request]:
    """One session's requests: each user turn, then its tool loop, then the answer."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": filler(f"project {sid}", 5000)}]
    now, requests = start, []
    for turn in range(rng.randint(4, 8)):
        messages.append({"role": "user", "content": filler(f"s{sid} ask {turn}", 40)})
        for step in range(rng.randint(0, 4)):
            requests.append((now, sid, _input(messages), 120))
            call = {
                "id": f"c{sid}-{turn}-{step}",
                "function": {"name": "tool_1", "arguments": "{}"},
            }
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": filler(call["id"], 800)}
            )
            now += rng.uniform(3, 20)
        requests.append((now, sid, _input(messages), 300))
        messages.append({"role": "assistant", "content": filler(f"s{sid} answer {turn}", 300)})
        idle = rng.random() < idle_share
        now += rng.uniform(360, 1200) if idle else rng.uniform(20, 150)
    return requests


def _input(messages: list[dict[str, Any]]) -> CompleteInput:
    return CompleteInput.model_validate({"messages": list(messages), "tools": TOOLS})


@dataclass
class CacheModel:
    """Anthropic's cache as this bench bills it: prefix digest -> (expiry, TTL seconds).

    A request's writes are billed at its last breakpoint's TTL: every request
    here carries one TTL. The 20-block lookback limit is not modelled.
    """

    entries: dict[str, tuple[float, int]] = field(default_factory=dict)
    spent: Decimal = Decimal(0)
    read: int = 0
    written: int = 0
    total: int = 0

    def send(self, now: float, payload: CompleteInput, out: int) -> None:
        cuts = prefixes(MODEL, payload)
        marks = [
            (k, ttl)
            for k, cut in enumerate(cuts)
            for i, ttl in client_breakpoints(payload)
            if cut.index == i
        ]
        read = written = 0
        ttl = marks[-1][1] if marks else "5m"
        if marks:
            last = marks[-1][0]
            warm = [c for c in cuts[: last + 1] if self.entries.get(c.digest, (0.0, 0))[0] >= now]
            if warm:
                read = warm[-1].tokens
                seconds = self.entries[warm[-1].digest][1]
                self.entries[warm[-1].digest] = (now + seconds, seconds)  # a read refreshes
            for k, mark_ttl in marks:
                if cuts[k].tokens >= MINIMUM:
                    written = max(written, cuts[k].tokens - read)
                    self.entries[cuts[k].digest] = (
                        now + TTL_SECONDS[mark_ttl],
                        TTL_SECONDS[mark_ttl],
                    )
        total = cuts[-1].tokens
        self.spent += PRICE.cost(total, out, read, written, ttl)
        self.read += read
        self.written += written
        self.total += total


def coding_assistant(payload: CompleteInput) -> CompleteInput:
    """The breakpoints a coding assistant sends itself: last tool, system, last message."""
    return mark(payload, [-1, 0, len(payload.messages) - 1], {"type": "ephemeral"})


def run(trace: list[Request], runtime: Runtime | None, client: bool) -> CacheModel:
    model = CacheModel()
    for now, _sid, payload, out in trace:
        sent = coding_assistant(payload) if client else payload
        if runtime is not None:
            sent = prepare_for_provider(runtime, MODEL, sent, "bench", now=now)
        model.send(now, sent, out)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--idle-share", type=float, default=0.3, help="turns followed by a break")
    parser.add_argument("--hours", type=float, default=1.0, help="sessions start over this long")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    trace = sorted(
        (
            r
            for s in range(args.sessions)
            for r in session(rng, s, rng.uniform(0, 3600 * args.hours), args.idle_share)
        ),
        key=lambda r: r[0],
    )
    print(
        f"{args.sessions} sessions, {len(trace)} requests, {args.idle_share:.0%} of turns idle 6-20 min"
    )
    rows = [
        ("no breakpoints", run(trace, None, client=False)),
        ("client's own (5m)", run(trace, None, client=True)),
    ]
    for ttl in ("5m", "1h", "auto"):
        redis.Redis.from_url(args.redis).flushdb()
        with tempfile.TemporaryDirectory() as data:
            settings = Settings.model_validate(
                {"redis_url": args.redis, "data_dir": data, "prompt_cache_ttl": ttl}
            )
            runtime = Runtime(settings)
            rows.append((f"grump's, TTL {ttl}", run(trace, runtime, client=False)))
            runtime.dispose()
    redis.Redis.from_url(args.redis).flushdb()
    naive, direct = rows[0][1].spent, rows[1][1].spent
    for name, model in rows:
        print(
            f"  {name:20} ${model.spent:9.4f}  {model.spent / naive:6.3f}x none  "
            f"{model.spent / direct:6.3f}x client's  read {model.read / model.total:5.1%}  "
            f"written {model.written / model.total:5.1%} of input"
        )


if __name__ == "__main__":
    main()
