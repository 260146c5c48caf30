"""Write ``tests/data/routing-requests.jsonl``: grump's labelled routing set.

Every request is built from a family: one task written for this project, with
slots (service, database, language...) filled from small lists, so each family
yields several distinct requests. A family carries its label (``easy``: the
economy model answers it well; ``hard``: it needs the premium model) and its
difficulty tier (1 trivial, 2 moderate, 3 hard). Whole families are held out
(``split: heldout``), so the held-out requests share no template with what the
scorer is trained and tuned on. Deterministic: the same seed writes the same file.

    python scripts/make_routing_set.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from routing_families import APP, ASSISTANT, ASSISTANT_B, SERVICE, SERVICE_B, SLOTS, Family

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "routing-requests.jsonl"
PER_FAMILY = 5
HELDOUT_EVERY = 5  # every fifth family of each (kind, label) is held out

SYSTEM = (
    "You are the coding assistant of a software team. Answer in Markdown. Prefer small, "
    "reviewable diffs. When you change code, show the whole function. Follow the repository's "
    "style: type hints everywhere, docstrings on public functions, tests next to the code. "
    "Never invent APIs; if unsure, say what you would check. Tools: read_file(path), "
    "run_tests(selector), search(query), apply_patch(diff). "
)
EARLIER = [
    ("user", "Can you open grump/jobs/run.py and tell me what claim() does?"),
    ("assistant", "claim() takes the next queued job row with SELECT ... FOR UPDATE SKIP LOCKED."),
    ("user", "Run the unit tests for the ledger."),
    ("assistant", "All 48 tests in tests/unit/test_ledger.py pass."),
    ("user", "Show me the diff of the last commit."),
    ("assistant", "```diff\n- timeout = 30\n+ timeout = settings.http_timeout\n```"),
    ("user", "What does the retry decorator in providers/base.py do?"),
    ("assistant", "It retries TransientError up to three times with jittered backoff."),
]
OPENERS = ["", "", "", "Quick one: ", "Hey, ", "Please ", "Could you ", "I need you to "]
CLOSERS = ["", "", "", " Thanks.", " Keep it short.", " This is for the on-call channel."]


def _fill(text: str, rng: random.Random) -> str:
    for name, values in SLOTS.items():
        while "{" + name + "}" in text:
            text = text.replace("{" + name + "}", rng.choice(values), 1)
    return text


def _opened(text: str, rng: random.Random) -> str:
    opener = rng.choice(OPENERS)
    if opener in ("Please ", "Could you ", "I need you to ") and text[:1].isupper():
        text = text[0].lower() + text[1:]
    return opener + text + rng.choice(CLOSERS)


def _messages(kind: str, text: str, rng: random.Random) -> list[dict[str, str]]:
    if kind != "assistant_turn":
        return [{"role": "user", "content": text}]
    system = SYSTEM * rng.randint(1, 6)  # a long system prompt says nothing about the task
    earlier = EARLIER[: 2 * rng.randint(0, len(EARLIER) // 2)]
    return [
        {"role": "system", "content": system},
        *({"role": r, "content": c} for r, c in earlier),
        {"role": "user", "content": text},
    ]


def build(seed: int = 19) -> list[dict[str, Any]]:
    """Every request of every family, in a stable order."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for kind, families in (("service", SERVICE), ("assistant_turn", ASSISTANT), ("app", APP)):
        count: dict[str, int] = {}
        for number, family in enumerate(families):
            rows.extend(_family_rows(kind, number, family, count, rng))
    for kind, families in (("service", SERVICE_B), ("assistant_turn", ASSISTANT_B)):
        for number, family in enumerate(families, start=90):
            rows.extend(_family_rows(kind, number, family, {}, rng, split="heldout-b"))
    return rows


def _family_rows(
    kind: str,
    number: int,
    family: Family,
    count: dict[str, int],
    rng: random.Random,
    split: str | None = None,
) -> list[dict[str, Any]]:
    label, tier, templates = family
    seen = count.get(label, 0)
    count[label] = seen + 1
    if split is None:
        split = "heldout" if seen % HELDOUT_EVERY == HELDOUT_EVERY - 1 else "train"
    rows: list[dict[str, Any]] = []
    texts: set[str] = set()
    for attempt in range(PER_FAMILY * 8):
        text = _fill(templates[attempt % len(templates)], rng)
        text = _opened(text, rng) if kind != "app" else text
        if text in texts:
            continue
        texts.add(text)
        rows.append(
            {
                "id": f"{kind}-{number:02d}-{len(rows)}",
                "kind": kind,
                "family": f"{kind}-{number:02d}",
                "label": label,
                "tier": tier,
                "split": split,
                "messages": _messages(kind, text, rng),
            }
        )
        if len(rows) == PER_FAMILY:
            break
    return rows


def main() -> None:
    """Write the set and print its shape."""
    rows = build()
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    shape: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (row["split"], row["kind"], row["label"])
        shape[key] = shape.get(key, 0) + 1
    print(f"{len(rows)} requests -> {OUT}")
    for key in sorted(shape):
        print(" ", *key, shape[key])


if __name__ == "__main__":
    main()
