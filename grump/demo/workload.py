"""A realistic mixed workload for the demo: parse, complete and embed, some repeated."""

from __future__ import annotations

import random
from typing import Any

APP_REQUESTS = (
    "Build a todo app where teams share lists, with Google login and Stripe billing, "
    "in Next.js and Postgres.",
    "A mobile app for dog walkers: owners book walks, walkers see a map of nearby dogs, "
    "push notifications when the walk starts.",
    "CLI tool in Rust that imports CSV bank statements and exports monthly reports to PDF.",
    "Recipe sharing site with comments, ratings and full-text search; admins moderate posts.",
    "Slack bot that summarizes long threads with GPT-4 and posts a daily digest.",
    "Inventory system for a small warehouse: stock levels, barcode scanning, low-stock email "
    "alerts, role-based permissions, must be GDPR compliant.",
    "Marketplace where tutors sell lessons: video calls, calendar booking, PayPal payouts, "
    "reviews, real-time chat, and an analytics dashboard for tutors.",
    "Simple landing page for a bakery with a contact form.",
    "As a teacher I can grade homework and students see their grades; parents get a weekly email.",
    "Chrome extension that saves articles to Notion and tags them automatically.",
)

SIMPLE_PROMPTS = (
    "Write a haiku about queues.",
    "What is the capital of Portugal?",
    "Rename this variable to something clearer: x1 = load()",
    "Give me three names for a todo app.",
    "Translate 'good morning' into Spanish.",
    "Summarise in one line: caching avoids paying twice for the same answer.",
)

COMPLEX_PROMPTS = (
    "Design the architecture of a multi-tenant billing service: data model, idempotent "
    "payment webhooks, retries, and how to prove no invoice is charged twice. Then refactor "
    "the plan into milestones and list the trade-offs.",
    "Debug this race condition and explain step by step why it happens:\n```python\n"
    "def reserve(budget, amount):\n    if budget.spent + amount <= budget.limit:\n"
    "        budget.spent += amount\n        return True\n    return False\n```\n"
    "Then optimise it for 2,000 concurrent callers and prove the fix is correct.",
    "1. Read the schema below. 2. Propose indexes. 3. Rewrite the slow query. 4. Estimate the "
    "speed-up and explain the distributed locking trade-offs for the migration.",
)

PASSAGES = (
    "grump routes each job to the cheapest tier that can do it.",
    "Budgets are reserved atomically at submit and settled on completion.",
    "Embeddings are batched across jobs, up to 256 texts per provider call.",
    "A cache hit costs nothing and records what it saved.",
    "Workers acknowledge a message only after the ledger commit.",
)


def make_workload(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` job requests: about 40% parse, 40% complete, 20% embed; repeats included."""
    rng = random.Random(seed)
    jobs: list[dict[str, Any]] = []
    for index in range(count):
        roll = rng.random()
        user = f"dev-{rng.randint(1, 8)}"
        if roll < 0.4:
            body: dict[str, Any] = {"kind": "parse", "input": {"text": rng.choice(APP_REQUESTS)}}
        elif roll < 0.8:
            prompt = rng.choice(COMPLEX_PROMPTS if rng.random() < 0.3 else SIMPLE_PROMPTS)
            body = {
                "kind": "complete",
                "input": {"messages": [{"role": "user", "content": prompt}], "max_tokens": 400},
            }
        else:
            texts = rng.sample(PASSAGES, k=rng.randint(1, 4))
            body = {"kind": "embed", "input": {"texts": texts, "dimensions": 256}}
        body["user"] = user
        body["session"] = f"demo-{index // 25}"
        jobs.append(body)
    return jobs
