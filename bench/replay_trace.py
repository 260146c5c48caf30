"""A coding team's traffic for ``bench/replay.py``: pure, deterministic (seeded).

* **Sessions**: an assistant's turns, each resending a long system prompt
  (over 1,024 tokens) and the tool definitions. Every turn is a tool loop: the
  user's task, the model's ``tool_use``, the tool's result, the model's answer;
  the next turn carries all of it. Streamed, as assistants stream.
* **Repeats across users**: some sessions are run again, word for word, by
  another user of the team (the same task started twice).
* **Reviews**: non-interactive diff reviews that may wait six hours
  (``deadline: PT6H``), about a fifth of the jobs.
* **Service requests**: short single calls from other services.

Tasks come from ``tests/data/routing-requests.jsonl``'s held-out splits only
(``heldout`` and ``heldout-b``: families the routing scorer was never fitted or
tuned on; ``bench/routing_fit.py`` and ``bench/routing_eval.py`` fit on
``train``), with their easy/hard labels. A request is "easy short" when it is
easy and its task has at most 40 words (``bench/routing_eval.py``'s SHORT_WORDS).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "routing-requests.jsonl"
HELD_OUT = ("heldout", "heldout-b")
SHORT_WORDS = 40
REVIEW_DEADLINE = "PT6H"

_RULES = [
    "Read the surrounding code before you edit it and keep each change as small as the task allows.",
    "Run the narrowest test that covers your change first, then the module's tests, never the whole suite.",
    "Prefer the project's own helpers over new dependencies; say so when a dependency is unavoidable.",
    "Never print secrets, tokens or customer data; redact them in logs, diffs and explanations.",
    "When a command fails, read its output, state the cause in one sentence, then fix the cause.",
    "Write commit messages that describe the behaviour a user sees now, one change per commit.",
    "Ask before deleting files, rewriting history or touching infrastructure shared with others.",
    "Explain trade-offs briefly when there is more than one reasonable design, then pick one.",
]
SYSTEM_PROMPT = "You are the team's coding assistant in this repository. " + " ".join(
    f"Rule {i + 1}.{n}: {rule}" for n in range(8) for i, rule in enumerate(_RULES)
)
REVIEW_PROMPT = "You review diffs for this team before they merge. " + " ".join(
    f"Check {i + 1}.{n}: {rule}" for n in range(8) for i, rule in enumerate(_RULES)
)


def _tool(name: str, description: str, **params: str) -> dict[str, Any]:
    properties = {key: {"type": "string", "description": text} for key, text in params.items()}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": list(params)},
        },
    }


TOOLS = [
    _tool("read_file", "Read a file of the repository.", path="the file's path"),
    _tool("search", "Search the repository for a pattern.", pattern="a regular expression"),
    _tool("run_tests", "Run the tests that match a selector.", selector="a pytest selector"),
    _tool("edit_file", "Replace text in a file.", path="the file", old="text", new="its new text"),
]


@dataclass(frozen=True)
class Task:
    """One labelled task: the text a user sends, whether it is hard, whether it is short."""

    text: str
    hard: bool

    @property
    def short(self) -> bool:
        """Easy and short: what the economy model should take."""
        return not self.hard and len(self.text.split()) <= SHORT_WORDS


@dataclass(frozen=True)
class Session:
    """An assistant session: its user, its turns (each a tool loop)."""

    id: str
    user: str
    turns: tuple[Task, ...]
    repeat: bool = False  # another user's run of an earlier session, started after it


@dataclass(frozen=True)
class Single:
    """One call: a service request, or a review that may wait for a batch."""

    id: str
    user: str
    task: Task
    review: bool = False

    @property
    def deadline(self) -> str | None:
        """How long the call may wait: a review, six hours; anything else, not at all."""
        return REVIEW_DEADLINE if self.review else None


@dataclass(frozen=True)
class Trace:
    """Everything a replay sends: sessions (repeats included) and single calls."""

    sessions: tuple[Session, ...]
    singles: tuple[Single, ...]

    def calls(self) -> int:
        """Provider-bound requests the trace makes (two per turn: the task, then the tool result)."""
        return 2 * sum(len(s.turns) for s in self.sessions) + len(self.singles)


def held_out(path: Path = DATA) -> dict[str, list[Task]]:
    """Held-out tasks by kind (``assistant_turn``, ``service``, ``app``), the latest user turn each."""
    tasks: dict[str, list[Task]] = {}
    for line in path.read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["split"] not in HELD_OUT:
            continue
        text = next(m["content"] for m in reversed(row["messages"]) if m["role"] == "user")
        tasks.setdefault(row["kind"], []).append(Task(str(text), row["label"] == "hard"))
    return tasks


def _diff(rng: random.Random, index: int) -> str:
    lines = [f"+    retries = {rng.randint(1, 9)}  # change {index}.{n}" for n in range(12)]
    return "diff --git a/app/worker.py b/app/worker.py\n" + "\n".join(lines)


def make_trace(
    sessions: int = 24, turns: int = 4, repeats: int = 8, services: int = 45, seed: int = 19
) -> Trace:
    """The trace: ``sessions`` sessions of ``turns`` turns, ``repeats`` of them run again by
    another user, ``services`` service requests, and reviews making about a fifth of the calls."""
    rng = random.Random(seed)
    tasks = held_out()
    assistant, service = tasks["assistant_turn"], tasks["service"] + tasks.get("app", [])
    made = [
        Session(f"s{i}", f"dev{i % 6}", tuple(rng.choice(assistant) for _ in range(turns)))
        for i in range(sessions)
    ]
    again = [
        replace(s, id=f"{s.id}-again", user=f"dev{(int(s.id[1:]) + 3) % 6}", repeat=True)
        for s in rng.sample(made, min(repeats, len(made)))
    ]
    singles = [
        Single(f"svc{i}", f"service{i % 3}", service[i % len(service)]) for i in range(services)
    ]
    calls = 2 * turns * (len(made) + len(again)) + len(singles)
    hard = [t for t in service + assistant if t.hard]
    reviews = [
        Single(
            f"rev{i}",
            f"dev{i % 6}",
            Task(f"Review this change. {rng.choice(hard).text}\n{_diff(rng, i)}", True),
            review=True,
        )
        for i in range(calls // 4)  # a fifth of all calls, reviews included
    ]
    return Trace(tuple(made + again), tuple(singles + reviews))


def system_message(text: str, breakpoints: bool) -> dict[str, Any]:
    """The system message, marked as a client marks it when it sends breakpoints."""
    if not breakpoints:
        return {"role": "system", "content": text}
    part = {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}
    return {"role": "system", "content": [part]}


def tools(breakpoints: bool) -> list[dict[str, Any]]:
    """The tool definitions, the last one marked when the client sends breakpoints."""
    if not breakpoints:
        return [dict(t) for t in TOOLS]
    return [*TOOLS[:-1], {**TOOLS[-1], "cache_control": {"type": "ephemeral"}}]


def marked_last(messages: list[dict[str, Any]], breakpoints: bool) -> list[dict[str, Any]]:
    """The conversation with its last message marked (a client's third breakpoint)."""
    if not breakpoints:
        return messages
    return [*messages[:-1], {**messages[-1], "cache_control": {"type": "ephemeral"}}]


def tool_output(name: str) -> str:
    """What a client's tool returns (the same for every call of it)."""
    return f"{name} output: " + " ".join(f"line{i} ok" for i in range(40))


def single_body(single: Single, breakpoints: bool) -> dict[str, Any]:
    """A single call's body: a review carries its own long system prompt."""
    messages = [{"role": "user", "content": single.task.text}]
    if single.review:
        messages.insert(0, system_message(REVIEW_PROMPT, breakpoints))
    return {"messages": messages, "max_tokens": 200}
