"""Loopback HTTP servers that speak the paid providers' wire formats.

Tests start them in a thread (``with FakeNim() as nim: ...``, from
``tests.fakes.nim``; ``FakeAnthropic`` from ``tests.fakes.anthropic``; steps
such as ``rate_limited`` from ``tests.fakes.server``). End-to-end tests and
benchmarks run them as programs: ``python -m tests.fakes.nim --port N``.

Both chat fakes stream (``stream: true``: chunked SSE, a few ms between
events), answer offered tools with a deterministic call (``tests.fakes.chat``)
and log every request body; the Anthropic fake bills a prompt cache
(``tests.fakes.prompt_cache``). Streamed steps: ``streamed``, ``cut``.

Nothing is imported here, so that ``python -m`` runs each module fresh.
"""
